// The examples are programs users run; these tests build and run them as a
// user would and check what they wrote.
package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/testprog"
)

// run builds the example in dir and runs it with args in a new working
// directory, the environment cleared of PYROSCOPE_* variables but for env.
func run(t *testing.T, dir string, env []string, args ...string) (wd, out string, err error) {
	t.Helper()
	bin := testprog.BuildGo(t, dir)
	wd = t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = wd
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYROSCOPE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	return wd, string(b), err
}

// windows parses the profiles of one type an example run wrote.
func windows(t *testing.T, wd, app, typ string) []*profile.Profile {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(wd, "profiles", "run-*", app, typ+"_*.pb.gz"))
	if len(files) == 0 {
		t.Fatalf("no %s profiles under %s", typ, filepath.Join(wd, "profiles", "run-*", app))
	}
	var out []*profile.Profile
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.ParseData(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, p)
	}
	return out
}

// samples sums sample type typ over samples whose stack holds fn and that
// keep accepts.
func samples(ps []*profile.Profile, typ, fn string, keep func(*profile.Sample) bool) int64 {
	var n int64
	for _, p := range ps {
		i := slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == typ })
		if i < 0 {
			continue
		}
		for _, s := range p.Sample {
			if keep != nil && !keep(s) {
				continue
			}
			for _, loc := range s.Location {
				if slicesHas(loc.Line, fn) {
					n += s.Value[i]
					break
				}
			}
		}
	}
	return n
}

func slicesHas(lines []profile.Line, fn string) bool {
	for _, ln := range lines {
		if strings.HasSuffix(ln.Function.Name, fn) {
			return true
		}
	}
	return false
}

func TestBasicWritesAFreshDirectoryPerRun(t *testing.T) {
	wd, out, err := run(t, "basic", nil, "-duration", "1s")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "go tool pprof -top profiles/run-") {
		t.Errorf("output does not say how to open the run's profiles:\n%s", out)
	}
	if samples(windows(t, wd, "example.basic", "cpu"), "cpu", "workload.HashHeavy", nil) == 0 {
		t.Error("no CPU samples in workload.HashHeavy")
	}
	if samples(windows(t, wd, "example.basic", "heap"), "alloc_space", "workload.AllocHeavy", nil) == 0 {
		t.Error("no heap samples in workload.AllocHeavy")
	}
}

func TestHTTPServerLabelsEachEndpoint(t *testing.T) {
	wd, out, err := run(t, "httpserver", nil, "-duration", "2s")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cpu := windows(t, wd, "example.httpserver", "cpu")
	checkout := samples(cpu, "cpu", "workload.HashHeavy", func(s *profile.Sample) bool {
		return len(s.Label["endpoint"]) == 1 && s.Label["endpoint"][0] == "/checkout"
	})
	if checkout == 0 {
		t.Errorf("no CPU samples of HashHeavy labelled endpoint=/checkout\n%s", out)
	}
}

// The examples that need a server say which variable to set.
func TestServerExamplesNameTheVariable(t *testing.T) {
	for _, dir := range []string{"push", "parca"} {
		_, out, err := run(t, dir, nil, "-duration", "1s")
		if err == nil || !strings.Contains(out, "PYROSCOPE_SERVER_ADDRESS") {
			t.Errorf("%s without a server: %v, %q; want a failure naming PYROSCOPE_SERVER_ADDRESS", dir, err, out)
		}
	}
}
