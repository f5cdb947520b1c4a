package perf

import "testing"

// TestDefaultFrequencyAvoidsLockstep samples a program whose 10 ms cycle
// (7 ms in one function, 3 ms in another) is aligned to the clock: at a
// frequency that divides it, every sample falls at the same phase.
func TestDefaultFrequencyAvoidsLockstep(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildC(t, "testdata/cphase/main.c"))
	s := attach(t, Options{PID: w.cmd.Process.Pid})
	p := collect(t, s, 500) // 5 s: the share is then within ±2% (one standard deviation)
	seven, _ := share(p, "seven_ms", "main")
	three, _ := share(p, "three_ms", "main")
	t.Logf("at %d Hz: seven_ms %.1f%%, three_ms %.1f%%", DefaultFrequency, seven, three)
	if seven < 60 || seven > 80 || three < 20 || three > 40 {
		t.Errorf("seven_ms has %.1f%% and three_ms %.1f%% of the samples; want 70/30 within 60–80%%", seven, three)
	}
}
