package perf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/testprog"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// requirePerf skips the test when this machine does not let the test
// process open a cpu-clock event on itself.
func requirePerf(t testing.TB) {
	t.Helper()
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Sample: 1000000,
		Bits:   unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv | unix.PerfBitDisabled,
	}
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Skipf("perf events are not available here (perf_event_open: %v, kernel.perf_event_paranoid=%d)", err, readParanoid())
	}
	unix.Close(fd)
}

// workload is a test program running as a child process.
type workload struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startWorkload(t testing.TB, bin string, args ...string) *workload {
	t.Helper()
	p := testprog.Start(t, bin, args...)
	w := &workload{cmd: p.Cmd, stdin: p.Stdin, out: p.Stdout}
	w.expect(t, "ready")
	return w
}

// expect reads the workload's output up to a line starting with prefix.
func (w *workload) expect(t testing.TB, prefix string) string {
	t.Helper()
	for w.out.Scan() {
		if strings.HasPrefix(w.out.Text(), prefix) {
			return w.out.Text()
		}
	}
	t.Fatalf("workload exited before printing %q: %v", prefix, w.out.Err())
	return ""
}

func buildGo(t testing.TB, dir string) string {
	t.Helper()
	return testprog.BuildGo(t, dir)
}

// buildC builds a C workload. GCC on x86-64 leaves the frame pointer out
// of leaf functions even with -fno-omit-frame-pointer; the second flag
// keeps it.
func buildC(t testing.TB, src string) string {
	t.Helper()
	return testprog.BuildC(t, src, "-O2", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer")
}

// collect waits until s has taken n more samples (or 8 s passed) and
// returns the profile of that window, parsed.
func collect(t testing.TB, s *Sampler, n uint64) *profile.Profile {
	t.Helper()
	from := time.Now()
	n += s.Stats().Samples
	deadline := time.After(8 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for s.Stats().Samples < n {
		select {
		case <-tick.C:
		case <-deadline:
			break wait
		}
	}
	var buf bytes.Buffer
	until := time.Now()
	if err := s.Profile(&buf, from, until); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatalf("profile does not parse as pprof: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("invalid profile: %v", err)
	}
	if p.TimeNanos != from.UnixNano() || p.DurationNanos != until.Sub(from).Nanoseconds() {
		t.Errorf("profile time = %d+%d, want %d+%d", p.TimeNanos, p.DurationNanos, from.UnixNano(), until.Sub(from).Nanoseconds())
	}
	return p
}

// stackNames lists the function names of a sample, leaf first, inlined
// frames included.
func stackNames(s *profile.Sample) []string {
	var names []string
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			names = append(names, l.Function.Name)
		}
	}
	return names
}

func contains(names []string, fn string) int {
	for i, n := range names {
		if n == fn {
			return i
		}
	}
	return -1
}

// share returns the percentage of samples whose stack holds fn, and the
// percentage of those that reach root from fn.
func share(p *profile.Profile, fn, root string) (pct, complete float64) {
	var total, with, full int64
	for _, s := range p.Sample {
		total += s.Value[0]
		names := stackNames(s)
		if i := contains(names, fn); i >= 0 {
			with += s.Value[0]
			if j := contains(names, root); j > i {
				full += s.Value[0]
			}
		}
	}
	if total == 0 || with == 0 {
		return 0, 0
	}
	return 100 * float64(with) / float64(total), 100 * float64(full) / float64(with)
}

func attach(t testing.TB, opts Options) *Sampler {
	t.Helper()
	s, err := Attach(opts)
	if err != nil {
		t.Fatalf("Attach(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func checkSplit(t *testing.T, p *profile.Profile, heavy, light, root string) {
	t.Helper()
	for _, want := range []struct {
		fn  string
		pct float64
	}{{heavy, 70}, {light, 30}} {
		pct, complete := share(p, want.fn, root)
		t.Logf("%s: %.1f%% of samples, %.1f%% of them with %s", want.fn, pct, complete, root)
		if pct < want.pct-10 || pct > want.pct+10 {
			t.Errorf("%s has %.1f%% of the samples, want %.0f±10", want.fn, pct, want.pct)
		}
		// A sample taken in a function's first instruction, before it has
		// pushed its frame pointer, loses its caller; that is rare.
		if complete < 95 {
			t.Errorf("only %.1f%% of %s samples have a stack up to %s", complete, want.fn, root)
		}
	}
}

func TestGoSplit(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildGo(t, "testdata/gosplit"))
	s := attach(t, Options{PID: w.cmd.Process.Pid, Frequency: 250})
	p := collect(t, s, 400)
	checkSplit(t, p, "main.heavyWork", "main.lightWork", "main.main")

	// The loop body is inlined: its frame must come out of the inline tree.
	if pct, _ := share(p, "main.mix", "main.heavyWork"); pct < 50 {
		t.Errorf("inlined main.mix is in %.1f%% of the samples, want most", pct)
	}
	pid := fmt.Sprint(w.cmd.Process.Pid)
	for _, s := range p.Sample {
		if got := s.Label["pid"]; len(got) != 1 || got[0] != pid {
			t.Fatalf("sample pid label = %q, want %q", got, pid)
		}
		if s.Value[1] != s.Value[0]*int64(time.Second/250) {
			t.Fatalf("sample values = %v, want cpu = samples × 4ms", s.Value)
		}
	}
	var exe *profile.Mapping
	for _, m := range p.Mapping {
		if m.File == w.cmd.Path {
			exe = m
		}
	}
	if exe == nil || exe.BuildID == "" || !exe.HasFunctions {
		t.Errorf("mapping of %s = %+v, want one with a build ID and functions", w.cmd.Path, exe)
	}
	if st := s.Stats(); st.Lost != 0 || st.Threads < 1 {
		t.Errorf("Stats = %+v, want no lost samples and threads attached", st)
	}
}

func TestCSplit(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildC(t, "testdata/csplit/main.c"))
	s := attach(t, Options{PID: w.cmd.Process.Pid, Frequency: 250})
	checkSplit(t, collect(t, s, 400), "heavy_work", "light_work", "main")
}

func TestThreadsCreatedAfterAttach(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildGo(t, "testdata/gothreads"))
	s := attach(t, Options{PID: w.cmd.Process.Pid, Frequency: 250})
	before := s.Stats().Threads
	io.WriteString(w.stdin, "go\n")
	w.expect(t, "started")
	collect(t, s, 100) // discard samples from before the workers ran
	p := collect(t, s, 400)
	var total float64
	for _, fn := range []string{"main.lateWorkerA", "main.lateWorkerB", "main.lateWorkerC"} {
		pct, complete := share(p, fn, "runtime.goexit")
		t.Logf("%s: %.1f%% of samples, %.1f%% with full stacks", fn, pct, complete)
		// Three spinning threads on any number of CPUs: each gets a share.
		if pct < 15 || complete < 95 {
			t.Errorf("%s has %.1f%% of the samples (%.1f%% with full stacks); want each new thread sampled", fn, pct, complete)
		}
		total += pct
	}
	if total < 90 {
		t.Errorf("the new threads have %.1f%% of the samples, want nearly all", total)
	}
	// The workers may run on threads the runtime had parked, so the count
	// need not grow by 3; it must match the threads the process has. Go
	// may start one more meanwhile: look again, up to a deadline.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		tids, err := listThreads(w.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		s.Profile(io.Discard, time.Now(), time.Now()) // read the records so far
		after := s.Stats().Threads
		if after == len(tids) && after >= 3 {
			t.Logf("Stats().Threads = %d, %d before the workers started", after, before)
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("Stats().Threads = %d, /proc lists %d threads (%d before the workers started)", after, len(tids), before)
		}
	}
}

func TestChildren(t *testing.T) {
	requirePerf(t)
	bin := buildGo(t, "testdata/gotree")
	for _, follow := range []bool{true, false} {
		t.Run(fmt.Sprintf("Children=%v", follow), func(t *testing.T) {
			w := startWorkload(t, bin)
			s := attach(t, Options{PID: w.cmd.Process.Pid, Children: follow, Frequency: 250})
			io.WriteString(w.stdin, "go\n")
			var childPid int
			fmt.Sscanf(w.expect(t, "started"), "started %d", &childPid)
			collect(t, s, 50)
			p := collect(t, s, 300)
			pids := map[string]bool{}
			for _, smp := range p.Sample {
				pids[smp.Label["pid"][0]] = true
			}
			parent, _ := share(p, "main.parentWork", "main.main")
			child, _ := share(p, "main.childWork", "main.main")
			t.Logf("parentWork %.1f%%, childWork %.1f%%, pids %v", parent, child, pids)
			if parent < 20 {
				t.Errorf("parentWork has %.1f%% of the samples, want a large share", parent)
			}
			if follow && (child < 20 || !pids[fmt.Sprint(childPid)]) {
				t.Errorf("with Children, childWork has %.1f%% of the samples and pids are %v; want the child %d sampled", child, pids, childPid)
			}
			if !follow && (child != 0 || len(pids) != 1) {
				t.Errorf("without Children, childWork has %.1f%% of the samples and pids are %v; want the parent only", child, pids)
			}
			// Closing stdin ends both processes: Done must follow.
			w.stdin.Close()
			select {
			case <-s.Done():
			case <-time.After(8 * time.Second):
				t.Fatal("Done not closed 8 s after the process tree exited")
			}
		})
	}
}

func TestAttachErrors(t *testing.T) {
	requirePerf(t)
	// A pid that existed and is gone.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, err := Attach(Options{PID: cmd.Process.Pid})
	if !errors.Is(err, ErrNoProcess) || !strings.Contains(err.Error(), fmt.Sprint(cmd.Process.Pid)) {
		t.Errorf("Attach(exited pid) = %v, want ErrNoProcess naming the pid", err)
	}
	for _, pid := range []int{0, -1} {
		if _, err := Attach(Options{PID: pid}); err == nil || !strings.Contains(err.Error(), "Options.PID") {
			t.Errorf("Attach(PID %d) = %v, want an error naming Options.PID", pid, err)
		}
	}
}

// TestAttachWithoutRights runs Attach as an unprivileged user against a
// process of another user (this test, as root).
func TestAttachWithoutRights(t *testing.T) {
	requirePerf(t)
	if os.Getenv("PERF_TEST_UNPRIVILEGED_PID") != "" {
		return // the helper half lives in TestUnprivilegedHelper
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a helper as another user")
	}
	// The test binary must be readable by nobody.
	dir, err := os.MkdirTemp("", "perf-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "perf.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestUnprivilegedHelper$", "-test.v")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PERF_TEST_UNPRIVILEGED_PID=%d", os.Getpid()))
	cmd.SysProcAttr = nobody()
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil {
		t.Fatalf("helper failed: %v", err)
	}
	if !strings.Contains(string(out), "perf_event_paranoid") || !strings.Contains(string(out), "CAP_PERFMON") {
		t.Errorf("the error shown to an unprivileged user does not name perf_event_paranoid and CAP_PERFMON")
	}
	if readParanoid() > 0 && !strings.Contains(string(out), "AttachSystem error: perf: not allowed to sample every CPU") {
		t.Errorf("the helper did not show AttachSystem's error")
	}
}

// TestUnprivilegedHelper runs only as the child of TestAttachWithoutRights.
func TestUnprivilegedHelper(t *testing.T) {
	pidVar := os.Getenv("PERF_TEST_UNPRIVILEGED_PID")
	if pidVar == "" {
		t.Skip("helper for TestAttachWithoutRights")
	}
	var pid int
	fmt.Sscan(pidVar, &pid)
	_, err := Attach(Options{PID: pid})
	if err == nil {
		t.Fatalf("Attach(pid %d of another user) succeeded as uid %d", pid, os.Getuid())
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("error %v does not wrap os.ErrPermission", err)
	}
	t.Logf("error: %v", err)

	if readParanoid() <= 0 {
		t.Logf("kernel.perf_event_paranoid=%d lets anyone sample every CPU", readParanoid())
		return
	}
	s, err := AttachSystem(SystemOptions{})
	if err == nil {
		s.Close()
		t.Fatalf("AttachSystem succeeded as uid %d with kernel.perf_event_paranoid=%d", os.Getuid(), readParanoid())
	}
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "every CPU") || !strings.Contains(err.Error(), "CAP_PERFMON") {
		t.Errorf("AttachSystem error %v: want one naming every CPU and CAP_PERFMON, wrapping os.ErrPermission", err)
	}
	t.Logf("AttachSystem error: %v", err)
}
