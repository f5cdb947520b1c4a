package perf

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/testprog"
)

// These tests run programs that exit before their samples are written, the
// case where /proc/PID/maps can no longer help: every mapping must have come
// from the kernel's MMAP2 records, and every file must be found without the
// process.

// startHeld starts `sh -c script args...`: the script's first command must
// be `read go`, so that it waits until release is called, after the test
// attached.
func startHeld(t *testing.T, script string, args ...string) (pid int, release func()) {
	t.Helper()
	p := testprog.Start(t, "sh", append([]string{"-c", script}, args...)...)
	return p.Cmd.Process.Pid, func() { io.WriteString(p.Stdin, "go\n") }
}

// untilDone writes a window every interval until the sampled tree has
// exited, then the last one, and returns them merged. each, when not nil, is
// called after every window.
func untilDone(t *testing.T, s *Sampler, interval time.Duration, each func()) *profile.Profile {
	t.Helper()
	var windows []*profile.Profile
	window := func() {
		var buf bytes.Buffer
		if err := s.Profile(&buf, time.Now(), time.Now()); err != nil {
			t.Fatal(err)
		}
		p, err := profile.Parse(&buf)
		if err != nil {
			t.Fatalf("profile does not parse: %v", err)
		}
		windows = append(windows, p)
		if each != nil {
			each()
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for done := false; !done; {
		select {
		case <-tick.C:
			window()
		case <-s.Done():
			done = true
		case <-deadline:
			t.Fatal("the sampled processes did not exit within 2 minutes")
		}
	}
	window()
	p, err := profile.Merge(windows)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// named returns the share (in %) of samples whose leaf frame has a
// function name, and the function most often at the leaf.
func named(p *profile.Profile) (pct float64, top string) {
	var total, withName int64
	flat := map[string]int64{}
	for _, s := range p.Sample {
		total += s.Value[0]
		if len(s.Location) == 0 || len(s.Location[0].Line) == 0 {
			continue
		}
		withName += s.Value[0]
		fn := s.Location[0].Line[0].Function.Name
		flat[fn] += s.Value[0]
		if flat[fn] > flat[top] {
			top = fn
		}
	}
	if total == 0 {
		return 0, ""
	}
	return 100 * float64(withName) / float64(total), top
}

func TestShellLoopOfShortChildren(t *testing.T) {
	requirePerf(t)
	short := buildC(t, "testdata/cshort/main.c")
	pid, release := startHeld(t, `read go; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do "$0"; done`, short)
	s := attach(t, Options{PID: pid, Children: true})
	release()
	p := untilDone(t, s, time.Hour, nil) // one window, written after all exited
	pct, top := named(p)
	st := s.Stats()
	t.Logf("%.1f%% of %d samples named, top %s; %+v", pct, st.Samples, top, st)
	if pct < 95 || top != "short_work" {
		t.Errorf("%.1f%% of the samples are in named functions and the top one is %q; want ≥ 95%% and short_work", pct, top)
	}
	if sh, _ := share(p, "short_work", "main"); sh < 80 {
		t.Errorf("short_work has %.1f%% of the samples; want the children's work to dominate", sh)
	}
}

func TestLibraryLoadedAfterAttach(t *testing.T) {
	requirePerf(t)
	lib := testprog.BuildC(t, "testdata/dlib/lib.c", "-O2", "-fno-omit-frame-pointer", "-shared", "-fPIC")
	host := buildC(t, "testdata/dlhost/main.c")
	w := startWorkload(t, host, lib)
	s := attach(t, Options{PID: w.cmd.Process.Pid})
	io.WriteString(w.stdin, "go\n")
	p := untilDone(t, s, time.Hour, nil)
	pct, complete := share(p, "in_dlopened_library", "main")
	t.Logf("in_dlopened_library: %.1f%% of the samples, %.1f%% of them from main", pct, complete)
	if pct < 80 || complete < 95 {
		t.Errorf("in_dlopened_library has %.1f%% of the samples (%.1f%% from main); want the dlopened function named with its caller", pct, complete)
	}
	var found bool
	for _, m := range p.Mapping {
		found = found || m.File == lib
	}
	if !found {
		t.Errorf("no mapping of %s in the profile", lib)
	}
}

// TestLeafCallerAfterExit checks that the caller the kernel's walk skips
// (below a C leaf function without a frame) is recovered from the binary
// when the process has exited before its samples are read.
func TestLeafCallerAfterExit(t *testing.T) {
	requirePerf(t)
	leaf := testprog.BuildC(t, "testdata/cleaf/main.c", "-O2", "-fno-omit-frame-pointer")
	pid, release := startHeld(t, `read go; exec "$0"`, leaf)
	s := attach(t, Options{PID: pid})
	release()
	p := untilDone(t, s, time.Hour, nil)
	var inLeaf, withMid int64
	for _, smp := range p.Sample {
		names := stackNames(smp)
		if len(names) > 0 && names[0] == "leaf" {
			inLeaf += smp.Value[0]
			if len(names) > 2 && names[1] == "mid" && names[2] == "main" {
				withMid += smp.Value[0]
			}
		}
	}
	t.Logf("%d samples in leaf, %d of them leaf→mid→main", inLeaf, withMid)
	if inLeaf < 20 || float64(withMid) < 0.95*float64(inLeaf) {
		t.Errorf("%d of %d samples in leaf have leaf→mid→main; want ≥ 95%%", withMid, inLeaf)
	}
}

// TestChurnIsBounded runs 2000 short processes one after another and
// checks that the sampler keeps state only for the live ones.
func TestChurnIsBounded(t *testing.T) {
	requirePerf(t)
	const n = 2000
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true command")
	}
	pid, release := startHeld(t, `read go; i=0; while [ $i -lt `+fmt.Sprint(n)+` ]; do "$0"; i=$((i+1)); done`, truePath)
	s := attach(t, Options{PID: pid, Children: true})
	release()
	var most int
	untilDone(t, s, 200*time.Millisecond, func() { most = max(most, s.Stats().Processes) })
	st := s.Stats()
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	t.Logf("%+v; at most %d process images kept after a window; peak RSS of the test process %d KiB", st, most, ru.Maxrss)
	if st.Mappings < n {
		t.Errorf("%d MMAP2 records for %d execs; want at least one each", st.Mappings, n)
	}
	if most > 10 || st.Processes != 0 {
		t.Errorf("process images kept: at most %d after a window, %d at the end; want a handful, then 0", most, st.Processes)
	}
}

// TestVDSOIsNamed samples a program that spends its time reading the
// clock, which the vDSO does without entering the kernel.
func TestVDSOIsNamed(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildC(t, "testdata/cvdso/main.c"))
	s := attach(t, Options{PID: w.cmd.Process.Pid})
	p := collect(t, s, 100)
	var total, inVDSO, named int64
	for _, smp := range p.Sample {
		total += smp.Value[0]
		leaf := smp.Location[0]
		if leaf.Mapping == nil || leaf.Mapping.File != "[vdso]" {
			continue
		}
		inVDSO += smp.Value[0]
		if len(leaf.Line) > 0 && strings.Contains(leaf.Line[0].Function.Name, "clock_gettime") {
			named += smp.Value[0]
		}
	}
	t.Logf("%d samples, %d in [vdso], %d of them named *clock_gettime*", total, inVDSO, named)
	if inVDSO < total/2 || named < inVDSO*95/100 {
		t.Errorf("%d of %d samples in [vdso], %d of those in a clock_gettime function; want most in [vdso], ≥ 95%% of them named", inVDSO, total, named)
	}
}
