package perf

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDefaultFrequencyAvoidsLockstep samples a program whose 10 ms cycle
// (7 ms in one function, 3 ms in another) is aligned to the clock: at a
// frequency that divides it, every sample falls at the same phase.
func TestDefaultFrequencyAvoidsLockstep(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildC(t, "testdata/cphase/main.c"))
	pid := w.cmd.Process.Pid
	s := attach(t, Options{PID: pid})
	// Two tries: on a machine busy with parallel builds one window in
	// many lands off the band (seen once: 79.7/19.3 at 98% of a CPU),
	// while a lockstep puts every window there (100/0 at 100 Hz).
	for try := 1; ; try++ {
		start, cpu0 := time.Now(), processCPU(t, pid)
		p := collect(t, s, 500) // 5 s: the share is then within ±2% (one standard deviation)
		got := (processCPU(t, pid) - cpu0).Seconds() / time.Since(start).Seconds()
		seven, _ := share(p, "seven_ms", "main")
		three, _ := share(p, "three_ms", "main")
		var n int64
		for _, smp := range p.Sample {
			n += smp.Value[0]
		}
		t.Logf("try %d at %d Hz: seven_ms %.1f%%, three_ms %.1f%% of %d samples; the program had %.0f%% of a CPU", try, DefaultFrequency, seven, three, n, got*100)
		if got < 0.8 {
			// Time-sliced with other work, the program's cycle meets the
			// scheduler's slices, and the shares measure them as much as the
			// sampler's phase.
			t.Skipf("the machine is saturated: the program had %.0f%% of a CPU, the test needs it to itself", got*100)
		}
		if seven >= 60 && seven <= 80 && three >= 20 && three <= 40 {
			return
		}
		if try == 2 {
			t.Fatalf("seven_ms has %.1f%% and three_ms %.1f%% of the samples; want 70/30 within 60–80%%", seven, three)
		}
	}
}

// processCPU is a process's user and system time so far, from
// /proc/PID/stat (in USER_HZ ticks, 100 per second).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}
