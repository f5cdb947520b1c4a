package collect

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// withContentionRates records every mutex and block event for the test.
func withContentionRates(t *testing.T) {
	old := runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	t.Cleanup(func() {
		runtime.SetMutexProfileFraction(old)
		runtime.SetBlockProfileRate(0)
	})
}

// holdLock holds mu for hold while a waiter is queued on it, rounds times.
// The runtime charges the waiter's delay to the unlocking stack: holdLock.
//
//go:noinline
func holdLock(mu *sync.Mutex, rounds int, hold time.Duration) {
	for range rounds {
		mu.Lock()
		done := make(chan struct{})
		go func() {
			mu.Lock()
			mu.Unlock() //nolint:staticcheck // an empty critical section is the point
			close(done)
		}()
		time.Sleep(hold) // the known hold time, not a wait for an event
		mu.Unlock()
		<-done
	}
}

// waitOnChan blocks on a channel receive until a sender that waits hold
// first, rounds times.
//
//go:noinline
func waitOnChan(rounds int, hold time.Duration) {
	for range rounds {
		ch := make(chan struct{})
		go func() {
			time.Sleep(hold)
			close(ch)
		}()
		<-ch
	}
}

func TestMutexDelayOfKnownHolder(t *testing.T) {
	withContentionRates(t)
	var mu sync.Mutex
	c := NewMutex(ContentionOptions{})
	defer c.Close()
	before := runtimeProfile(t, "mutex")
	const rounds, hold = 10, 10 * time.Millisecond
	holdLock(&mu, rounds, hold)
	t0 := time.Now()
	ours := collectOnce(t, c, t0, t0.Add(time.Second))
	after := runtimeProfile(t, "mutex")
	noNegative(t, ours)
	checkHeader(t, ours, after)

	got := sumFor(ours, ".holdLock")
	for _, typ := range []string{Contentions, Delay} {
		want := sumFor(after, ".holdLock")[typ] - sumFor(before, ".holdLock")[typ]
		if got[typ] != want {
			t.Errorf("%s of holdLock: ours %d, runtime/pprof change %d", typ, got[typ], want)
		}
	}
	// Every event is recorded (fraction 1): each waiter waits about the
	// hold time (it queues right after Lock and may wake late on a busy
	// machine), so the bounds are loose; the exact check is the one above.
	total := int64(rounds * hold)
	if d := got[Delay]; d < total/4 || d > 3*total {
		t.Errorf("delay of holdLock = %v, want about %v", time.Duration(d), time.Duration(total))
	}
	if got[Contentions] != rounds {
		t.Errorf("contentions of holdLock = %d, want %d", got[Contentions], rounds)
	}
}

func TestBlockDelayOfKnownWaiter(t *testing.T) {
	withContentionRates(t)
	c := NewBlock(ContentionOptions{SampleTypes: []string{Delay}})
	defer c.Close()
	before := runtimeProfile(t, "block")
	const rounds, hold = 5, 10 * time.Millisecond
	waitOnChan(rounds, hold)
	ours := collectOnce(t, c, time.Now(), time.Now())
	after := runtimeProfile(t, "block")
	if len(ours.SampleType) != 1 || ours.SampleType[0].Type != Delay {
		t.Fatalf("sample types %v, want only delay", ours.SampleType)
	}
	got := sumFor(ours, ".waitOnChan")[Delay]
	want := sumFor(after, ".waitOnChan")[Delay] - sumFor(before, ".waitOnChan")[Delay]
	if got != want || got <= 0 || got > int64(rounds*hold)+int64(rounds*time.Millisecond)*10 {
		t.Errorf("delay of waitOnChan: ours %v, runtime/pprof change %v, slept %v", time.Duration(got), time.Duration(want), rounds*hold)
	}
}

func TestContentionWindowsSumToCumulativeChange(t *testing.T) {
	withContentionRates(t)
	var mu sync.Mutex
	mc := NewMutex(ContentionOptions{})
	bc := NewBlock(ContentionOptions{})
	defer mc.Close()
	defer bc.Close()
	mBefore, bBefore := runtimeProfile(t, "mutex"), runtimeProfile(t, "block")
	mTotal, bTotal := map[string]int64{}, map[string]int64{}
	for i := range 5 {
		holdLock(&mu, i%3, time.Millisecond)
		waitOnChan(i%2+1, time.Millisecond)
		for c, total := range map[Collector]map[string]int64{mc: mTotal, bc: bTotal} {
			p := collectOnce(t, c, time.Now(), time.Now())
			noNegative(t, p)
			for _, fn := range []string{".holdLock", ".waitOnChan"} {
				for k, v := range sumFor(p, fn) {
					total[fn+k] += v
				}
			}
		}
	}
	if !byPosition(mc) || !byPosition(bc) {
		t.Errorf("known by position: mutex %v, block %v; want both (the runtime's listings are append-only)", byPosition(mc), byPosition(bc))
	}
	mAfter, bAfter := runtimeProfile(t, "mutex"), runtimeProfile(t, "block")
	for _, tc := range []struct {
		name          string
		total         map[string]int64
		before, after map[string]int64
		fn            string
	}{
		{"mutex", mTotal, sumFor(mBefore, ".holdLock"), sumFor(mAfter, ".holdLock"), ".holdLock"},
		{"block", bTotal, sumFor(bBefore, ".waitOnChan"), sumFor(bAfter, ".waitOnChan"), ".waitOnChan"},
	} {
		for _, typ := range []string{Contentions, Delay} {
			want := tc.after[typ] - tc.before[typ]
			if got := tc.total[tc.fn+typ]; got != want || want == 0 {
				t.Errorf("%s: sum of windows' %s in %s = %d, runtime/pprof change %d", tc.name, typ, tc.fn, got, want)
			}
		}
	}
}

func TestMutexRateSetAndRestored(t *testing.T) {
	old := runtime.SetMutexProfileFraction(0)
	defer runtime.SetMutexProfileFraction(old)
	var logged []string
	c := NewMutex(ContentionOptions{Logger: func(f string, args ...any) { logged = append(logged, f) }})
	if got := runtime.SetMutexProfileFraction(-1); got != DefaultMutexFraction {
		t.Errorf("fraction after NewMutex = %d, want %d", got, DefaultMutexFraction)
	}
	if len(logged) != 1 {
		t.Errorf("logged %q, want one line", logged)
	}
	c.Close()
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Errorf("fraction after Close = %d, want 0", got)
	}

	runtime.SetMutexProfileFraction(3) // set by the program: left alone
	c = NewMutex(ContentionOptions{Rate: 50})
	c.Close()
	if got := runtime.SetMutexProfileFraction(-1); got != 3 {
		t.Errorf("program's fraction 3 became %d", got)
	}
}

func TestNegativeRateLeavesRuntimeAlone(t *testing.T) {
	old := runtime.SetMutexProfileFraction(0)
	defer runtime.SetMutexProfileFraction(old)
	logged := 0
	logger := func(string, ...any) { logged++ }
	for _, tc := range []struct {
		name string
		make func(ContentionOptions) *Contention
	}{
		{"mutex", NewMutex},
		{"block", NewBlock},
	} {
		c := tc.make(ContentionOptions{Rate: -1, Logger: logger})
		if c.restore != nil {
			t.Errorf("%s: Rate -1 set a rate to restore on Close", tc.name)
		}
		c.Close()
	}
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Errorf("mutex fraction with Rate -1 = %d, want the runtime's 0 left alone", got)
	}
	if logged != 0 {
		t.Errorf("logged %d lines about setting a rate, want none", logged)
	}
}
