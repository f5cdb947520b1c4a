package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
)

func TestExecHotFunctionArrivesWithToken(t *testing.T) {
	needPerf(t)
	srv := newIngestServer(t)
	c := startCLI(t, []string{"PYROSCOPE_AUTH_TOKEN=tok-from-env", "PYROSCOPE_SERVER_ADDRESS=" + srv.URL},
		"exec", "--upload-rate", "1s", "--tag", "env=test", "--", bin.hot, "-spin", "1500ms")
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", code, c.stderr)
	}
	if got := c.stdout.String(); got != "hot: ready\nhot: done\n" {
		t.Errorf("child's stdout = %q, want it passed through", got)
	}
	if !strings.Contains(c.stderr.String(), "as hot{env=test} to "+srv.URL) {
		t.Errorf("start line does not say the application name and server: %q", c.stderr)
	}
	cpu := byKind(srv.received(), "cpu")
	if len(cpu) == 0 {
		t.Fatalf("no CPU profile arrived; stderr: %s", c.stderr)
	}
	for _, r := range cpu {
		if r.auth != "Bearer tok-from-env" {
			t.Errorf("Authorization = %q, want the token from PYROSCOPE_AUTH_TOKEN", r.auth)
		}
		if r.name != "hot{env=test}" {
			t.Errorf("series %q, want hot{env=test} (default name: the command's base name)", r.name)
		}
	}
	if top, n := topFunction(cpu); top != "main.hotLoop" {
		t.Errorf("top function %q (%d samples), want main.hotLoop", top, n)
	}
	// The run ends with one line saying what was sent, dropped and where.
	lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n")
	want := fmt.Sprintf("sent %d profile windows to %s, 0 dropped", len(srv.received()), srv.URL)
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, want) {
		t.Errorf("last line %q, want it to end %q", last, want)
	}
}

func TestExecPassesExitStatus(t *testing.T) {
	srv := newIngestServer(t)
	for _, tc := range []struct {
		name string
		args []string
		kill bool
		want int
	}{
		{"exit 0", []string{"-spin", "10ms"}, false, 0},
		{"exit 3", []string{"-spin", "10ms", "-exit", "3"}, false, 3},
		{"SIGTERM to the CLI", []string{"-wait"}, true, 128 + int(syscall.SIGTERM)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCLI(t, []string{"PYROSCOPE_SERVER_ADDRESS=" + srv.URL},
				append([]string{"exec", "--upload-rate", "1s", "--", bin.hot}, tc.args...)...)
			if tc.kill {
				waitLine(t, c.stdout, "hot: ready")
				if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			if code := c.wait(t); code != tc.want {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.want, c.stderr)
			}
			if !strings.HasPrefix(c.stdout.String(), "hot: ready\n") {
				t.Errorf("child's stdout not passed through: %q", c.stdout)
			}
		})
	}
}

func TestExecChildWithSDKSendsHeapUnderSameName(t *testing.T) {
	needPerf(t)
	srv := newIngestServer(t)
	c := startCLI(t, []string{"PYROSCOPE_AUTH_TOKEN=tok", "PYROSCOPE_SERVER_ADDRESS=" + srv.URL},
		"exec", "--application-name", "shop.api", "--tag", "team=a", "--upload-rate", "1s", "--", bin.withsdk)
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, c.stderr)
	}
	if !strings.Contains(c.stdout.String(), "PYROSCOPE_PROFILE_TYPES=inuse_objects,alloc_objects,inuse_space,alloc_space\n") {
		t.Errorf("child did not get PYROSCOPE_PROFILE_TYPES without cpu: %q", c.stdout)
	}
	got := srv.received()
	heap := byKind(got, "heap")
	if len(heap) == 0 {
		t.Fatalf("the child's heap profile did not arrive; stderr: %s", c.stderr)
	}
	var allocated int64
	for _, r := range heap {
		if r.name != "shop.api{team=a}" || r.auth != "Bearer tok" {
			t.Errorf("heap profile under %q with %q, want shop.api{team=a} and the CLI's token", r.name, r.auth)
		}
		allocated += sumFor(r.prof, "alloc_space", "main.allocHeavy")
	}
	if allocated == 0 {
		t.Error("heap profiles do not show main.allocHeavy's allocations")
	}
	cpu := byKind(got, "cpu")
	if len(cpu) == 0 {
		t.Fatal("no CPU profile arrived")
	}
	// The perf sampler labels every sample with its pid; runtime/pprof never
	// does. So a CPU profile without pid labels would be the child's own, a
	// second count of the same CPU time.
	for _, r := range cpu {
		if r.name != "shop.api{team=a}" {
			t.Errorf("cpu profile under %q", r.name)
		}
		for _, s := range r.prof.Sample {
			if len(s.Label["pid"]) == 0 && len(s.NumLabel["pid"]) == 0 {
				t.Fatalf("a CPU sample without a pid label arrived: the child profiled its own CPU too")
			}
		}
	}
	if top, _ := topFunction(cpu); !slices.Contains([]string{"main.spinHeavy", "main.allocHeavy"}, top) && !strings.HasPrefix(top, "runtime.") {
		t.Errorf("top CPU function %q, want the child's work", top)
	}
}

// --profile-types and PYROSCOPE_PROFILE_TYPES split the work between the
// perf sampler (cpu) and the command's own SDK (the rest), so that each
// type reaches the server once and cpu is never counted twice; without cpu
// pyroscope opens no perf event at all.
func TestExecProfileTypes(t *testing.T) {
	needPerf(t)
	for _, tc := range []struct {
		name      string
		env       []string
		args      []string
		childGets string   // the child's PYROSCOPE_PROFILE_TYPES
		kinds     []string // what reaches the server, sorted
		perf      bool     // whether pyroscope samples with perf
	}{
		{"default", nil, nil, sdkDefaultsWithoutCPU, []string{"cpu", "heap"}, true},
		{"only cpu", nil, []string{"--profile-types", "cpu"}, "none", []string{"cpu"}, true},
		{"cpu and goroutines", nil, []string{"--profile-types", "goroutines,cpu"}, "goroutines", []string{"cpu", "goroutines"}, true},
		{"no cpu, from the variable", []string{"PYROSCOPE_PROFILE_TYPES=inuse_space, goroutines"}, nil, "inuse_space,goroutines", []string{"goroutines", "heap"}, false},
		{"flag beats the variable", []string{"PYROSCOPE_PROFILE_TYPES=goroutines"}, []string{"--profile-types", "alloc_space"}, "alloc_space", []string{"heap"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIngestServer(t)
			args := append([]string{"exec", "--upload-rate", "1s"}, tc.args...)
			c := startCLI(t, append([]string{"PYROSCOPE_SERVER_ADDRESS=" + srv.URL}, tc.env...),
				append(args, "--", bin.withsdk, "-hold")...)
			waitLine(t, c.stdout, "withsdk: holding")
			if n := perfEvents(t, c.cmd.Process.Pid); (n > 0) != tc.perf {
				t.Errorf("pyroscope holds %d perf events while the command runs, want them only when it samples cpu (%v)", n, tc.perf)
			}
			if err := c.cmd.Process.Signal(syscall.SIGUSR1); err != nil { // relayed to the child
				t.Fatal(err)
			}
			if code := c.wait(t); code != 0 {
				t.Fatalf("exit code %d; stderr: %s", code, c.stderr)
			}
			if want := "withsdk: PYROSCOPE_PROFILE_TYPES=" + tc.childGets + "\n"; !strings.Contains(c.stdout.String(), want) {
				t.Errorf("child's stdout %q, want %q", c.stdout, want)
			}
			var kinds []string
			for _, r := range srv.received() {
				if !slices.Contains(kinds, r.kind) {
					kinds = append(kinds, r.kind)
				}
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, tc.kinds) {
				t.Errorf("server received %q, want %q; stderr: %s", kinds, tc.kinds, c.stderr)
			}
			// perf labels every sample with its pid, runtime/pprof never:
			// a CPU sample without one is the child counting CPU again.
			for _, r := range byKind(srv.received(), "cpu") {
				for _, s := range r.prof.Sample {
					if len(s.Label["pid"]) == 0 && len(s.NumLabel["pid"]) == 0 {
						t.Fatal("a CPU sample without a pid label arrived: the child profiled its own CPU")
					}
				}
			}
			if noPerf := strings.Contains(c.stderr.String(), "leaves out cpu"); noPerf == tc.perf {
				t.Errorf("stderr says whether perf is used wrongly (perf %v): %s", tc.perf, c.stderr)
			}
		})
	}
}

// perfEvents counts the perf event descriptors pid has open.
func perfEvents(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == "anon_inode:[perf_event]" {
			n++
		}
	}
	return n
}

// The end of a run against a server that never takes a window is bounded
// by --stop-timeout (or PYROSCOPE_STOP_TIMEOUT), as Stop is by the SDK's
// StopTimeout; the windows left are counted as dropped.
func TestExecStopTimeout(t *testing.T) {
	needPerf(t) // for the one window to drop
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flag", nil, []string{"--stop-timeout", "1s"}},
		{"variable", []string{"PYROSCOPE_STOP_TIMEOUT=1s"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"exec", "--server-address", "http://127.0.0.1:1"}, tc.args...)
			start := time.Now()
			c := startCLI(t, tc.env, append(args, "--", bin.hot, "-spin", "200ms")...)
			if code := c.wait(t); code != 0 {
				t.Fatalf("exit code %d, want the command's 0; stderr: %s", code, c.stderr)
			}
			// Not a speed test: the default of 10s would end it no sooner.
			if took := time.Since(start); took >= config.DefaultStopTimeout {
				t.Errorf("the run took %v: the stop timeout of 1s was not applied", took)
			}
			lines := strings.Split(strings.TrimSpace(c.stderr.String()), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, "sent 0 profile windows to http://127.0.0.1:1, 1 dropped") {
				t.Errorf("last line %q, want it to say that the window was dropped", last)
			}
		})
	}
}
