package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func TestConnectPID(t *testing.T) {
	needPerf(t)
	for _, tc := range []struct {
		name, hot string
		program   func(t *testing.T) string
		ready     string
		args      []string
	}{
		{name: "Go program", hot: "main.hotLoop", ready: "hot: ready", args: []string{"-spin", "0"}},
		{name: "C program with frame pointers", hot: "c_hot_spin", ready: "cspin: ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := bin.hot
			if tc.hot == "c_hot_spin" {
				if bin.cspin == "" || bin.cspinErr != "" {
					t.Skipf("no C test program: %s", bin.cspinErr)
				}
				path = bin.cspin
			}
			prog, _ := startProgram(t, path, tc.ready, tc.args...)
			srv := newIngestServer(t)
			c := startCLI(t, []string{"PYROSCOPE_SERVER_ADDRESS=" + srv.URL},
				"connect", "--pid", strconv.Itoa(prog.Process.Pid), "--upload-rate", "1s")
			srv.waitFor(t, "a CPU profile holding "+tc.hot, func(rs []received) bool {
				for _, r := range byKind(rs, "cpu") {
					if sumFor(r.prof, "samples", tc.hot) > 0 {
						return true
					}
				}
				return false
			})
			if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			if code := c.wait(t); code != 0 {
				t.Fatalf("exit code %d after SIGINT, want 0; stderr: %s", code, c.stderr)
			}
			cpu := byKind(srv.received(), "cpu")
			if top, n := topFunction(cpu); top != tc.hot {
				t.Errorf("top function %q (%d samples), want %s", top, n, tc.hot)
			}
			if tc.hot == "c_hot_spin" && !hasCaller(cpu, "c_hot_spin", "c_outer") {
				t.Error("c_hot_spin's stacks do not reach its caller c_outer: frame pointers not followed")
			}
			if want := filepathBase(path) + "{}"; cpu[0].name != want {
				t.Errorf("series %q, want %q (default: the executable's name)", cpu[0].name, want)
			}
		})
	}
}

func filepathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// hasCaller reports whether some sample has leaf fn called by caller.
func hasCaller(rs []received, fn, caller string) bool {
	for _, r := range rs {
		for _, s := range r.prof.Sample {
			var names []string
			for _, loc := range s.Location {
				for _, l := range loc.Line {
					names = append(names, l.Function.Name)
				}
			}
			for i := 0; i+1 < len(names); i++ {
				if names[i] == fn && names[i+1] == caller {
					return true
				}
			}
		}
	}
	return false
}

func TestConnectPIDEndsWhenTheProcessExits(t *testing.T) {
	needPerf(t)
	prog, _ := startProgram(t, bin.hot, "hot: ready", "-wait")
	srv := newIngestServer(t)
	c := startCLI(t, []string{"PYROSCOPE_SERVER_ADDRESS=" + srv.URL}, "connect", "--pid", strconv.Itoa(prog.Process.Pid))
	waitLine(t, c.stderr, "profiling pid")
	prog.Process.Kill()
	prog.Wait()
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", code, c.stderr)
	}
	if len(byKind(srv.received(), "cpu")) == 0 {
		t.Error("the last window was not sent when the process exited")
	}
}

// fetchProfile reads one of the program's cumulative profiles directly.
func fetchProfile(t *testing.T, base, name string) *profile.Profile {
	t.Helper()
	resp, err := http.Get(base + "/debug/pprof/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.ParseData(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConnectURLDeltasSumOverWindows(t *testing.T) {
	_, line := startProgram(t, bin.pprofserver, "listening ")
	base := strings.TrimPrefix(line, "listening ")
	host := strings.TrimPrefix(base, "http://")
	srv := newIngestServer(t)
	c := startCLI(t, []string{"PYROSCOPE_AUTH_TOKEN=tok", "PYROSCOPE_SERVER_ADDRESS=" + srv.URL},
		"connect", "--url", base, "--upload-rate", "1s")
	// The first goroutine window means the baseline has been read: work
	// from now on is the windows' to report.
	srv.waitFor(t, "the first window", func(rs []received) bool { return len(byKind(rs, "goroutines")) > 0 })

	const allocs = 5000
	resp, err := http.Get(fmt.Sprintf("%s/work?n=%d", base, allocs))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	workDone := time.Now()
	srv.waitFor(t, "a heap window after the work", func(rs []received) bool {
		for _, r := range byKind(rs, "heap") {
			if r.from.After(workDone) {
				return true
			}
		}
		return false
	})
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", code, c.stderr)
	}

	got := srv.received()
	for _, kind := range []string{"cpu", "heap", "goroutines", "mutex", "block"} {
		rs := byKind(got, kind)
		if len(rs) == 0 {
			t.Errorf("no %s profile arrived; stderr: %s", kind, c.stderr)
			continue
		}
		want := "pprofserver{instance=" + host + "}"
		for _, r := range rs {
			if r.name != want || r.auth != "Bearer tok" {
				t.Errorf("%s profile under %q with %q, want %q and the token", kind, r.name, r.auth, want)
				break
			}
		}
	}
	sum := func(kind, typ, fn string) int64 {
		var n int64
		for _, r := range byKind(got, kind) {
			n += sumFor(r.prof, typ, fn)
		}
		return n
	}
	// No work ran before the baseline, so the program's cumulative counters
	// now are exactly what the windows must add up to.
	if n := sum("heap", "alloc_objects", "main.allocWork"); n < allocs {
		t.Errorf("heap windows sum to %d objects allocated by main.allocWork, want at least the %d it made", n, allocs)
	}
	for _, tc := range []struct{ kind, endpoint, typ, fn string }{
		{"mutex", "mutex", "delay", "main.contendWork"},
		{"mutex", "mutex", "contentions", "main.contendWork"},
		{"block", "block", "delay", "main.blockWork"},
		{"heap", "allocs", "alloc_space", "main.allocWork"},
		{"heap", "allocs", "alloc_objects", "main.allocWork"},
	} {
		typ := tc.typ
		want := sumFor(fetchProfile(t, base, tc.endpoint), typ, tc.fn)
		if n := sum(tc.kind, typ, tc.fn); want == 0 || n != want {
			t.Errorf("%s windows sum to %d %s in %s; the program's counter says %d", tc.kind, n, typ, tc.fn, want)
		}
	}
}

// --profile-types, or PYROSCOPE_PROFILE_TYPES, picks what connect --url
// pulls: only those families arrive, and the run ends saying how many.
func TestConnectURLProfileTypes(t *testing.T) {
	_, line := startProgram(t, bin.pprofserver, "listening ")
	base := strings.TrimPrefix(line, "listening ")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"flag", nil, []string{"--profile-types", "goroutines"}, []string{"goroutines"}},
		{"variable", []string{"PYROSCOPE_PROFILE_TYPES=goroutines,mutex_count"}, nil, []string{"goroutines", "mutex"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIngestServer(t)
			c := startCLI(t, append([]string{"PYROSCOPE_SERVER_ADDRESS=" + srv.URL}, tc.env...),
				append([]string{"connect", "--url", base, "--upload-rate", "1s"}, tc.args...)...)
			srv.waitFor(t, "two goroutine windows", func(rs []received) bool { return len(byKind(rs, "goroutines")) >= 2 })
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := c.wait(t); code != 0 {
				t.Fatalf("exit code %d; stderr: %s", code, c.stderr)
			}
			got := srv.received()
			kinds := map[string]bool{}
			for _, r := range got {
				kinds[r.kind] = true
			}
			for _, k := range []string{"cpu", "heap", "goroutines", "mutex", "block"} {
				if kinds[k] != slices.Contains(tc.want, k) {
					t.Errorf("%s windows arrived: %v, want only %v", k, kinds[k], tc.want)
				}
			}
			if want := fmt.Sprintf("sent %d profile windows to %s, 0 dropped", len(got), srv.URL); !strings.Contains(c.stderr.String(), want) {
				t.Errorf("stderr lacks %q: %s", want, c.stderr)
			}
		})
	}
}
