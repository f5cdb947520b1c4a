package main

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// These tests profile builds, whose work is done by processes that live for
// a fraction of a second and have exited long before their window is sent.
// What a user checks is that the profile names the functions the CPU was
// spent in.

// A share says where the CPU samples of some profiles are, in % of them.
type share struct {
	samples int64
	named   float64 // leaf frame has a function name
	// placed: named, or in a file that has no symbol for the address
	// because it is stripped (.dynsym only, as Debian ships cc1 and
	// libc), found with its build ID: what debug symbols would name.
	placed   float64
	unplaced map[string]int64 // the rest, by mapping
}

func shareOf(t *testing.T, ps []received) share {
	var named, placed int64
	sh := share{unplaced: map[string]int64{}}
	strippedFiles := map[string]bool{}
	stripped := func(path string) bool {
		v, ok := strippedFiles[path]
		if !ok {
			if f, err := elf.Open(path); err == nil {
				v = f.Section(".symtab") == nil
				f.Close()
			}
			strippedFiles[path] = v
		}
		return v
	}
	for _, r := range ps {
		i := max(sampleIndex(r.prof, "samples"), 0)
		for _, s := range r.prof.Sample {
			n := s.Value[i]
			sh.samples += n
			var leaf *profile.Location
			if len(s.Location) > 0 {
				leaf = s.Location[0]
			}
			switch {
			case leaf != nil && len(leaf.Line) > 0 && leaf.Line[0].Function.Name != "":
				named += n
				placed += n
			case leaf != nil && leaf.Mapping != nil && leaf.Mapping.BuildID != "" && stripped(leaf.Mapping.File):
				placed += n
			case leaf == nil:
				sh.unplaced["no stack"] += n
			case leaf.Mapping == nil:
				sh.unplaced["no mapping"] += n
			default:
				sh.unplaced[leaf.Mapping.File] += n
			}
		}
	}
	if sh.samples == 0 {
		t.Fatal("the CPU profiles hold no samples")
	}
	sh.named = 100 * float64(named) / float64(sh.samples)
	sh.placed = 100 * float64(placed) / float64(sh.samples)
	return sh
}

// execBuild runs `pyroscope exec -- argv...` against a test server and
// returns the CPU profiles that arrived.
func execBuild(t *testing.T, env []string, argv ...string) []received {
	t.Helper()
	srv := newIngestServer(t)
	c := startCLI(t, append(env, "PYROSCOPE_SERVER_ADDRESS="+srv.URL), append([]string{"exec", "--upload-rate", "2s", "--"}, argv...)...)
	if code := c.wait(t); code != 0 {
		t.Fatalf("%s: exit code %d; stderr: %s", strings.Join(argv, " "), code, c.stderr)
	}
	cpu := byKind(srv.received(), "cpu")
	if len(cpu) == 0 {
		t.Fatalf("no CPU profile arrived; stderr: %s", c.stderr)
	}
	return cpu
}

// writeCProject writes n C files, each with enough functions to keep the
// compiler busy for a while, and a Makefile that builds them into one
// program.
func writeCProject(t *testing.T, n int) string {
	dir := t.TempDir()
	var objs []string
	for i := range n {
		var b strings.Builder
		fmt.Fprintf(&b, "#include <stdint.h>\n")
		for j := range 60 {
			fmt.Fprintf(&b, "uint64_t f%d_%d(uint64_t x) {\n\tfor (int i = 0; i < %d; i++) {\n", i, j, 10+j)
			fmt.Fprintf(&b, "\t\tx = x * 6364136223846793005u + %d;\n\t\tif (x %% %d == 0) x ^= x >> 13; else x += x << 7;\n", j, j+3)
			fmt.Fprintf(&b, "\t\tswitch (x & 7) { case 0: x++; break; case 1: x--; break; case 2: x ^= 5; break; default: x += i; }\n\t}\n\treturn x;\n}\n")
		}
		name := fmt.Sprintf("unit%02d", i)
		if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, name+".o")
	}
	main := "int main(void) { return 0; }\n"
	mk := fmt.Sprintf("prog: main.o %s\n\t$(CC) -o $@ $^\n%%.o: %%.c\n\t$(CC) -O2 -c -o $@ $<\n", strings.Join(objs, " "))
	for name, text := range map[string]string{"main.c": main, "Makefile": mk} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExecMakeIsNamed(t *testing.T) {
	needPerf(t)
	for _, tool := range []string{"make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := writeCProject(t, 24)
	cpu := execBuild(t, nil, "make", "-C", dir, "-j2")
	sh := shareOf(t, cpu)
	t.Logf("make -j2: %d samples, %.1f%% named, %.1f%% named or in a stripped file; the rest: %v", sh.samples, sh.named, sh.placed, sh.unplaced)
	// cc1 and libc are stripped here, so that much of the compiler's time
	// is in functions no symbol table names: it is asked only to be in
	// the right file, with the build ID that finds its debug symbols.
	if sh.placed < 98 {
		t.Errorf("%.1f%% of %d CPU samples are named or in a stripped file, want ≥ 98%%; the rest: %v", sh.placed, sh.samples, sh.unplaced)
	}
	if top, _ := topFunction(cpu); top == "" {
		t.Error("no function named in the profile")
	}
}

func TestExecGoBuildIsNamed(t *testing.T) {
	needPerf(t)
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":  "module example.com/small\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"small\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GOCACHE=" + t.TempDir(), "GOFLAGS=", "GOTOOLCHAIN=local"}
	cpu := execBuild(t, env, "go", "-C", dir, "build", "-a", "-o", filepath.Join(t.TempDir(), "small"), ".")
	sh := shareOf(t, cpu)
	var compile int64
	for _, r := range cpu {
		compile += sumFor(r.prof, "samples", "cmd/compile/")
	}
	t.Logf("go build -a: %d samples, %.1f%% named, %d in cmd/compile; the rest: %v", sh.samples, sh.named, compile, sh.unplaced)
	if sh.named < 95 || compile == 0 {
		t.Errorf("%.1f%% of %d CPU samples are in named functions and %d in cmd/compile, want ≥ 95%% and some; the rest: %v", sh.named, sh.samples, compile, sh.unplaced)
	}
}
