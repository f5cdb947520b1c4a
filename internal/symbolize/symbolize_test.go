package symbolize

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/testprog"
)

// child is a test program started from testdata that prints lines until
// "ready" and then waits for its stdin to close.
type child struct {
	cmd   *exec.Cmd
	lines []string
}

func startChild(t testing.TB, bin string) *child {
	t.Helper()
	p := testprog.Start(t, bin)
	c := &child{cmd: p.Cmd}
	for p.Stdout.Scan() {
		if p.Stdout.Text() == "ready" {
			go func() {
				for p.Stdout.Scan() {
				}
			}()
			return c
		}
		c.lines = append(c.lines, p.Stdout.Text())
	}
	t.Fatalf("%s exited before it was ready: %v", bin, p.Stdout.Err())
	return nil
}

// field returns the value after "name " in the child's output.
func (c *child) field(t testing.TB, name string) uint64 {
	t.Helper()
	for _, l := range c.lines {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
			if err != nil {
				t.Fatalf("parsing %q: %v", l, err)
			}
			return n
		}
	}
	t.Fatalf("child printed no %q line: %q", name, c.lines)
	return 0
}

func buildGo(t testing.TB, dir string, flags ...string) string {
	t.Helper()
	return testprog.BuildGo(t, dir, flags...)
}

// buildC builds a C test program with frame pointers and the extra flags.
func buildC(t testing.TB, src string, flags ...string) string {
	t.Helper()
	return testprog.BuildC(t, src, append([]string{"-O1", "-fno-omit-frame-pointer"}, flags...)...)
}

func TestGoInlinedFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"exe", nil},
		{"pie", []string{"-buildmode=pie"}},
		{"no-dwarf", []string{"-ldflags=-w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, buildGo(t, "testdata/goinline", tc.flags...))
			var pcs []uint64
			var want []string
			for _, l := range c.lines {
				if f, ok := strings.CutPrefix(l, "frame "); ok {
					want = append(want, f)
				}
				if v, ok := strings.CutPrefix(l, "pc 0x"); ok {
					pc, err := strconv.ParseUint(v, 16, 64)
					if err != nil {
						t.Fatal(err)
					}
					pcs = append(pcs, pc)
				}
			}
			p, err := New().Process(c.cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			// Each runtime PC, symbolized, yields the runtime's frame at that
			// position and, for inlined calls, the frames of its callers.
			for i, pc := range pcs {
				m, frames := p.Lookup(pc - 1)
				if m == nil || m.BuildID == "" {
					t.Fatalf("mapping of %#x = %+v, want one with a build ID", pc, m)
				}
				var got []string
				for _, f := range frames {
					got = append(got, f.Function+" "+f.File+" "+strconv.Itoa(f.Line))
				}
				if i+len(got) > len(want) || strings.Join(got, "\n") != strings.Join(want[i:i+len(got)], "\n") || len(got) == 0 {
					t.Errorf("frames at pcs[%d]=%#x:\n%s\nwant a prefix of (from runtime.CallersFrames):\n%s", i, pc, strings.Join(got, "\n"), strings.Join(want[i:], "\n"))
				}
				if i == 0 && len(got) < 2 {
					t.Errorf("frames at pcs[0] = %q; want main.leaf inlined into its caller", got)
				}
			}
		})
	}
}

func TestCSymbols(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"pie", []string{"-pie", "-fPIE"}},
		{"no-pie", []string{"-no-pie"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, buildC(t, "testdata/cfuncs/main.c", tc.flags...))
			p, err := New().Process(c.cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct{ field, function string }{
				{"alpha", "alpha_function"},
				{"beta", "beta_function"},
				{"getpid", "getpid"},
			} {
				addr := c.field(t, want.field)
				m, frames := p.Lookup(addr)
				if m == nil || len(frames) != 1 || !strings.Contains(frames[0].Function, want.function) {
					t.Errorf("Lookup(%#x) = %+v, %+v; want a frame naming %s", addr, m, frames, want.function)
				}
			}
		})
	}
}

func TestUnknownAddressesStayUnresolved(t *testing.T) {
	p, err := New().Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m, frames := p.Lookup(8); m != nil || frames != nil {
		t.Errorf("Lookup(8) = %+v, %+v; want nothing", m, frames)
	}
	maps := p.Mappings()
	for i := range maps {
		if maps[i].Path == "[vdso]" {
			m, frames := p.Lookup(maps[i].Start)
			if m == nil || m.Path != "[vdso]" || frames != nil {
				t.Errorf("Lookup in [vdso] = %+v, %+v; want the mapping and no frames", m, frames)
			}
		}
	}
}

func TestParseMaps(t *testing.T) {
	in := `55d0c8a00000-55d0c8a01000 r--p 00000000 fd:01 1234   /usr/bin/my prog
55d0c8a01000-55d0c8a6b000 r-xp 00001000 fd:01 1234   /usr/bin/my prog
7ffd5e1f0000-7ffd5e1f2000 r-xp 00000000 00:00 0      [vdso]
7ffd5e1f4000-7ffd5e1f6000 rw-p 00000000 00:00 0
7f0000001000-7f0000002000 r-xp 00001000 08:02 42 /opt/my app/lib 1.so (deleted)
7f0000003000-7f0000004000 r-xp 00000000 00:00 0 
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`
	got, err := parseMaps([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{Start: 0x55d0c8a01000, Limit: 0x55d0c8a6b000, Offset: 0x1000, Inode: 1234, Path: "/usr/bin/my prog"},
		{Start: 0x7ffd5e1f0000, Limit: 0x7ffd5e1f2000, Path: "[vdso]"},
		{Start: 0x7f0000001000, Limit: 0x7f0000002000, Offset: 0x1000, Inode: 42, Path: "/opt/my app/lib 1.so", Deleted: true},
		{Start: 0x7f0000003000, Limit: 0x7f0000004000}, // anonymous
		{Start: 0xffffffffff600000, Limit: 0xffffffffff601000, Path: "[vsyscall]"},
	}
	checkMappings(t, "parseMaps", got, want)
	if !got[0].File() || got[1].File() {
		t.Errorf("File() = %v, %v; want true, false", got[0].File(), got[1].File())
	}
}

// checkMappings compares mappings one by one, so that a failure names the
// one that differs.
func checkMappings(t *testing.T, what string, got, want []Mapping) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: mapping %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestDebugSymbolsByBuildID strips a C program, as distributions ship
// theirs, and installs its symbols the way a -dbgsym package does: only
// with them is a function that .dynsym does not export named.
func TestDebugSymbolsByBuildID(t *testing.T) {
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy (binutils) is not installed")
	}
	bin := buildC(t, "testdata/cfuncs/main.c", "-Wl,--build-id")
	id := GNUBuildID(bin)
	if len(id) < 3 {
		t.Fatalf("%s has no GNU build ID", bin)
	}
	dir := t.TempDir()
	debug := filepath.Join(dir, ".build-id", id[:2], id[2:]+".debug")
	stripped := filepath.Join(t.TempDir(), "cfuncs")
	if err := os.MkdirAll(filepath.Dir(debug), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--only-keep-debug", bin, debug}, {"--strip-all", bin, stripped}} {
		if out, err := exec.Command(objcopy, args...).CombinedOutput(); err != nil {
			t.Fatalf("objcopy %v: %v\n%s", args, err, out)
		}
	}
	c := startChild(t, stripped)
	alpha := c.field(t, "alpha")
	for _, tc := range []struct {
		debugDir string
		want     string
	}{{t.TempDir(), ""}, {dir, "alpha_function"}} {
		s := New()
		s.debugDir = tc.debugDir
		p, err := s.Process(c.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if _, frames := p.Lookup(alpha); len(frames) > 0 {
			got = frames[0].Function
		}
		if got != tc.want {
			t.Errorf("with debug symbols in %s: Lookup(alpha) = %q, want %q", tc.debugDir, got, tc.want)
		}
		s.Close()
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// functionOffset returns the file offset of the named function in the ELF
// file at path.
func functionOffset(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name != name {
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && s.Value >= p.Vaddr && s.Value < p.Vaddr+p.Filesz {
				return s.Value - p.Vaddr + p.Off
			}
		}
	}
	t.Fatalf("%s has no function %s in a loaded segment", path, name)
	return 0
}
