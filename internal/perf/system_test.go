package perf

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/testprog"
)

// requireSystemPerf skips the test when this process may not open a
// CPU-wide event with the cgroup in each sample.
func requireSystemPerf(t testing.TB) {
	t.Helper()
	cfg := eventConfig{freq: 1, system: true}
	attr := cfg.attr()
	attr.Bits |= unix.PerfBitDisabled
	fd, err := unix.PerfEventOpen(attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Skipf("system-wide perf events are not allowed here (perf_event_open(pid -1, CPU 0): %v, kernel.perf_event_paranoid=%d, uid %d)", err, readParanoid(), os.Geteuid())
	}
	unix.Close(fd)
}

// testCgroups is a slice of cgroups made for one test under the cgroup v2
// mount, and the IDs perf reports for them.
type testCgroups struct {
	mount, slice string
	ids          *discover.Cgroups
}

// makeTestCgroups finds cgroup v2 and checks perf reports its IDs, or skips
// the test saying why.
func makeTestCgroups(t testing.TB) *testCgroups {
	t.Helper()
	requireSystemPerf(t)
	m, err := discover.FindMounts()
	if err != nil || m.Unified == "" {
		t.Skipf("no cgroup v2 mount here (%v)", err)
	}
	if h := perfEventHierarchy(); h != 0 {
		t.Skipf("/proc/cgroups binds perf_event to cgroup v1 hierarchy %d: samples carry v1 cgroup IDs", h)
	}
	b := make([]byte, 4)
	rand.Read(b)
	c := &testCgroups{mount: m.Unified, slice: "/ptest-" + hex.EncodeToString(b) + ".slice"}
	probe := filepath.Join(c.mount, c.slice)
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Skipf("cgroup v2 at %s is not writable here (the test needs root): %v", c.mount, err)
	}
	os.Remove(probe)
	c.ids, err = discover.NewCgroups(c.mount)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ids.Close() })
	return c
}

// perfEventHierarchy is the hierarchy /proc/cgroups binds perf_event to: 0
// for cgroup v2 (or when unknown).
func perfEventHierarchy() int {
	b, _ := os.ReadFile("/proc/cgroups")
	for _, line := range strings.Split(string(b), "\n") {
		var name string
		var h int
		if n, _ := fmt.Sscan(line, &name, &h); n == 2 && name == "perf_event" {
			return h
		}
	}
	return 0
}

// make creates the cgroup name in the test's slice and returns its
// directory and ID. It is removed when the test ends.
func (c *testCgroups) make(t testing.TB, name string) (dir string, id uint64) {
	t.Helper()
	dir = discovertest.MakeCgroup(t, c.mount, c.slice+"/"+name)
	id, err := c.ids.ID(c.slice + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return dir, id
}

func startIn(t testing.TB, dir, bin string, args ...string) *workload {
	t.Helper()
	p := testprog.StartInCgroup(t, dir, bin, args...)
	w := &workload{cmd: p.Cmd, stdin: p.Stdin, out: p.Stdout}
	w.expect(t, "ready")
	return w
}

func attachSystem(t testing.TB, opts SystemOptions) *Sampler {
	t.Helper()
	s, err := AttachSystem(opts)
	if err != nil {
		t.Fatalf("AttachSystem(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// byCgroup groups the tasks of the cgroups named in keys, rejects the
// others, and remembers each task it was shown.
type byCgroup struct {
	keys  map[uint64]string
	tasks map[int][]Task // by pid, of the accepted tasks
	calls int
}

func newByCgroup(keys map[uint64]string) *byCgroup {
	return &byCgroup{keys: keys, tasks: map[int][]Task{}}
}

func (g *byCgroup) group(t Task) (string, bool) {
	g.calls++
	key, ok := g.keys[t.Cgroup]
	if ok && !slices.Contains(g.tasks[t.PID], t) {
		g.tasks[t.PID] = append(g.tasks[t.PID], t)
	}
	return key, ok
}

// windows writes a window every 100 ms until done says the groups gathered
// so far (merged) are enough, or 60 s passed; it returns the merged groups.
func windows(t *testing.T, s *Sampler, g *byCgroup, done func(map[string]*profile.Profile) bool) map[string]*profile.Profile {
	t.Helper()
	merged := map[string]*profile.Profile{}
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		from := time.Now()
		<-tick.C
		until := time.Now()
		groups, err := s.ProfileGroups(from, until, g.group)
		if err != nil {
			t.Fatal(err)
		}
		for i, gr := range groups {
			if i > 0 && groups[i-1].Key >= gr.Key {
				t.Fatalf("groups not sorted by key, or a key twice: %q then %q", groups[i-1].Key, gr.Key)
			}
			p, err := profile.ParseData(gr.Data)
			if err != nil {
				t.Fatalf("group %q does not parse as pprof: %v", gr.Key, err)
			}
			if err := p.CheckValid(); err != nil {
				t.Fatalf("group %q: invalid profile: %v", gr.Key, err)
			}
			if p.TimeNanos != from.UnixNano() || p.DurationNanos != until.Sub(from).Nanoseconds() {
				t.Fatalf("group %q covers %d+%d, want %d+%d", gr.Key, p.TimeNanos, p.DurationNanos, from.UnixNano(), until.Sub(from).Nanoseconds())
			}
			for _, smp := range p.Sample {
				if len(smp.Label) != 0 {
					t.Fatalf("group %q has a sample labelled %v; want no labels", gr.Key, smp.Label)
				}
			}
			if old := merged[gr.Key]; old != nil {
				if p, err = profile.Merge([]*profile.Profile{old, p}); err != nil {
					t.Fatal(err)
				}
			}
			merged[gr.Key] = p
		}
		if done(merged) {
			return merged
		}
		if time.Now().After(deadline) {
			t.Logf("giving up after 60 s; Stats %+v", s.Stats())
			return merged
		}
	}
}

func total(p *profile.Profile) int64 {
	var n int64
	if p != nil {
		for _, s := range p.Sample {
			n += s.Value[0]
		}
	}
	return n
}

// TestSystemGroupsByCgroup runs a Go and a C program, each in a cgroup of
// its own, and a third program in a cgroup the group function rejects, all
// started before AttachSystem, with idle processes beside them.
func TestSystemGroupsByCgroup(t *testing.T) {
	cg := makeTestCgroups(t)
	dirA, idA := cg.make(t, "a.scope")
	dirB, idB := cg.make(t, "b.scope")
	dirC, _ := cg.make(t, "c.scope")
	goProg := startIn(t, dirA, buildGo(t, "testdata/gosplit"))
	cProg := startIn(t, dirB, buildC(t, "testdata/csplit/main.c"))
	startIn(t, dirC, buildC(t, "testdata/cphase/main.c"))
	idle := []int{discovertest.Start(t, dirA), discovertest.Start(t, dirB), discovertest.Start(t, dirC)}

	s := attachSystem(t, SystemOptions{Frequency: 250})
	g := newByCgroup(map[uint64]string{idA: "a", idB: "b"})
	got := windows(t, s, g, func(m map[string]*profile.Profile) bool {
		return total(m["a"]) >= 200 && total(m["b"]) >= 200
	})
	st := s.Stats()
	t.Logf("a: %d samples, b: %d samples; group function called %d times; %+v", total(got["a"]), total(got["b"]), g.calls, st)

	for _, c := range []struct {
		key, own, other, root string
	}{
		{"a", "main.heavyWork", "heavy_work", "main.main"},
		{"b", "heavy_work", "main.heavyWork", "main"},
	} {
		p := got[c.key]
		if total(p) < 200 {
			t.Errorf("group %s has %d samples after 60 s, want 200", c.key, total(p))
			continue
		}
		own, complete := share(p, c.own, c.root)
		other, _ := share(p, c.other, c.root)
		rejected, _ := share(p, "seven_ms", "main")
		t.Logf("group %s: %s %.1f%% (%.1f%% up to %s), %s %.1f%%, seven_ms %.1f%%", c.key, c.own, own, complete, c.root, c.other, other, rejected)
		if own < 50 || complete < 95 {
			t.Errorf("group %s: %s has %.1f%% of the samples (%.1f%% up to %s); want most, with full stacks", c.key, c.own, own, complete, c.root)
		}
		if other != 0 || rejected != 0 {
			t.Errorf("group %s holds %.1f%% %s and %.1f%% seven_ms: another cgroup's samples", c.key, other, c.other, rejected)
		}
	}
	if _, ok := got["c"]; ok || len(got) != 2 {
		t.Errorf("groups %v; want a and b only", keys(got))
	}
	if st.Dropped == 0 {
		t.Errorf("Stats.Dropped = 0; want the rejected cgroup's samples counted")
	}
	for _, w := range []struct {
		prog *workload
		comm string
		id   uint64
	}{{goProg, "gosplit", idA}, {cProg, "csplit", idB}} {
		tasks := g.tasks[w.prog.cmd.Process.Pid]
		if want := (Task{PID: w.prog.cmd.Process.Pid, Comm: w.comm, Exe: w.prog.cmd.Path, Cgroup: w.id}); len(tasks) != 1 || tasks[0] != want {
			t.Errorf("group function saw %+v, want %+v alone", tasks, want)
		}
	}
	for _, pid := range idle {
		if followed(s, pid) {
			t.Errorf("idle process %d has state in the sampler; want none for a process that never ran", pid)
		}
	}

	// The Go program's threads were listed from /proc on its first
	// sample: their exits free it.
	goProg.cmd.Process.Kill()
	goProg.cmd.Wait()
	if _, err := s.ProfileGroups(time.Now(), time.Now(), g.group); err != nil {
		t.Fatal(err)
	}
	if followed(s, goProg.cmd.Process.Pid) {
		t.Errorf("the Go program %d exited and still has state in the sampler", goProg.cmd.Process.Pid)
	}
}

// followed reports whether s keeps anything of pid.
func followed(s *Sampler, pid int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.procs[pid] != nil || s.threads[pid] != nil
}

func keys(m map[string]*profile.Profile) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestSystemShortProcessAfterAttach starts a 50 ms process in a cgroup after
// AttachSystem and writes its window only after it exited: its maps and name
// can come only from the kernel's records.
func TestSystemShortProcessAfterAttach(t *testing.T) {
	cg := makeTestCgroups(t)
	dir, id := cg.make(t, "brief.scope")
	bin := buildC(t, "testdata/cshort/main.c")
	s := attachSystem(t, SystemOptions{Frequency: 1000})
	p := testprog.StartInCgroup(t, dir, bin, "50")
	pid := p.Cmd.Process.Pid
	if err := p.Cmd.Wait(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	g := newByCgroup(map[uint64]string{id: "brief"})
	got := windows(t, s, g, func(m map[string]*profile.Profile) bool { return total(m["brief"]) > 0 })
	prof := got["brief"]
	pct, top := named(prof)
	inBrief, complete := share(prof, "short_work", "main")
	t.Logf("%d samples of the brief process, %.1f%% named, top %s; short_work %.1f%% (%.1f%% up to main); task %+v; %+v",
		total(prof), pct, top, inBrief, complete, g.tasks[pid], s.Stats())
	if total(prof) < 5 || inBrief < 80 || complete < 95 {
		t.Errorf("the brief process has %d samples, %.1f%% in short_work (%.1f%% up to main); want ≥ 5, ≥ 80%%, ≥ 95%%", total(prof), inBrief, complete)
	}
	// Before its exec, the child is a copy of this test's process, with
	// its name.
	if want := (Task{PID: pid, Comm: "cshort", Exe: bin, Cgroup: id}); !slices.Contains(g.tasks[pid], want) {
		t.Errorf("group function saw %+v, want %+v among them", g.tasks[pid], want)
	}
	var exe bool
	for _, m := range prof.Mapping {
		exe = exe || (m.File == bin && m.BuildID != "")
	}
	if !exe {
		t.Errorf("no mapping of %s with a build ID in %v", bin, prof.Mapping)
	}
	// It exited: nothing of it is kept once its window is written.
	s.ProfileGroups(time.Now(), time.Now(), g.group)
	if followed(s, pid) {
		t.Errorf("the exited process %d still has state in the sampler", pid)
	}
}

// TestSystemProfileAndDone checks that Profile (with its pid labels) works
// on a system sampler, and that its Done channel stays open.
func TestSystemProfileAndDone(t *testing.T) {
	requireSystemPerf(t)
	w := startWorkload(t, buildC(t, "testdata/csplit/main.c"))
	s := attachSystem(t, SystemOptions{})
	pid := fmt.Sprint(w.cmd.Process.Pid)
	deadline := time.Now().Add(60 * time.Second)
	var samples int64
	for samples < 50 && time.Now().Before(deadline) {
		var buf bytes.Buffer
		if err := s.Profile(&buf, time.Now(), time.Now()); err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, smp := range p.Sample {
			if smp.Label["pid"][0] == pid && contains(stackNames(smp), "heavy_work") >= 0 {
				samples += smp.Value[0]
			}
		}
		select {
		case <-s.Done():
			t.Fatal("Done closed on a system sampler")
		case <-time.After(100 * time.Millisecond):
		}
	}
	if samples < 50 {
		t.Errorf("%d samples in heavy_work labelled pid %s after 60 s; want 50", samples, pid)
	}
}

// TestSystemForgetsIdleProcesses stops a busy process: after forgetIdle
// windows without a sample the sampler holds nothing of it, and once it runs
// again it is read afresh and symbolized.
func TestSystemForgetsIdleProcesses(t *testing.T) {
	cg := makeTestCgroups(t)
	dir, id := cg.make(t, "stopped.scope")
	w := startIn(t, dir, buildC(t, "testdata/csplit/main.c"))
	pid := w.cmd.Process.Pid
	s := attachSystem(t, SystemOptions{Frequency: 250})
	known := func() bool { return followed(s, pid) }
	g := newByCgroup(map[uint64]string{id: "stopped"})
	enough := func(m map[string]*profile.Profile) bool {
		pct, _ := share(m["stopped"], "heavy_work", "main")
		return total(m["stopped"]) >= 50 && pct >= 50
	}
	if got := windows(t, s, g, enough); !enough(got) || !known() {
		t.Fatalf("before SIGSTOP: %d samples, followed %v; want 50, mostly heavy_work, and followed", total(got["stopped"]), known())
	}
	if err := w.cmd.Process.Signal(unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, 'T')
	// The samples taken before it stopped are read in this window; then
	// forgetIdle windows pass without any.
	for i := 0; i <= forgetIdle; i++ {
		if _, err := s.ProfileGroups(time.Now(), time.Now(), g.group); err != nil {
			t.Fatal(err)
		}
	}
	if known() {
		t.Errorf("after %d windows without a sample, the stopped process still has state in the sampler", forgetIdle)
	}
	if err := w.cmd.Process.Signal(unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if got := windows(t, s, g, enough); !enough(got) {
		pct, _ := share(got["stopped"], "heavy_work", "main")
		t.Errorf("after SIGCONT: %d samples, %.1f%% heavy_work; want 50, mostly heavy_work", total(got["stopped"]), pct)
	}
}

// waitState waits until /proc says pid is in state (R, S, T...), or fails
// the test after 30 s.
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not in state %c after 30 s: %s", pid, state, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAttachSystemErrors checks the options AttachSystem refuses.
func TestAttachSystemErrors(t *testing.T) {
	for _, f := range []int{-1, 10001} {
		if _, err := AttachSystem(SystemOptions{Frequency: f}); err == nil || !strings.Contains(err.Error(), "SystemOptions.Frequency") {
			t.Errorf("AttachSystem(Frequency %d) = %v, want an error naming SystemOptions.Frequency", f, err)
		}
	}
}

// TestAttachSystemInNestedPIDNamespace runs AttachSystem in a child of this
// test in a PID namespace of its own, as in a container without the host's
// PIDs: it must refuse, saying what to change.
func TestAttachSystemInNestedPIDNamespace(t *testing.T) {
	if os.Getenv("PERF_TEST_NESTED_PID") != "" {
		_, err := AttachSystem(SystemOptions{})
		fmt.Printf("AttachSystem error: %v\n", err)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a PID namespace")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestAttachSystemInNestedPIDNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), "PERF_TEST_NESTED_PID=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	out, err := cmd.CombinedOutput()
	t.Logf("child in a new PID namespace:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if !strings.Contains(string(out), "AttachSystem error: perf: sampling every CPU needs the host's PID namespace, and this process is pid 1 in a nested one") ||
		!strings.Contains(string(out), "hostPID: true") {
		t.Errorf("AttachSystem in a nested PID namespace did not refuse naming the namespace and hostPID")
	}
}
