package collect

import (
	"sync"
	"testing"
	"time"
)

// blockedForever receives from a channel that only it still references: a
// goroutine leak the runtime's leak profile finds. main_test.go tells goleak
// to expect it.
//
//go:noinline
func blockedForever(ch chan int) { <-ch }

//go:noinline
func leakOne() {
	ch := make(chan int)
	go blockedForever(ch)
}

func TestGoroutineLeakShowsOnlyTheLeak(t *testing.T) {
	g, err := NewGoroutineLeak()
	if err != nil {
		t.Skipf("no goroutine leak profile on this runtime: %v", err)
	}
	// A healthy parked goroutine: its channel is still reachable.
	var started sync.WaitGroup
	started.Add(1)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); parkHere(&started, release) }()
	started.Wait()
	defer func() { close(release); <-done }()

	leakOne()
	var leaked, healthy int64
	// The leaked goroutine must have started and blocked before the
	// detecting GC runs; read until it shows, within the test's deadline.
	// Until then it is not leaked yet, only new.
	for leaked == 0 {
		p := collectOnce(t, g, time.Now(), time.Now())
		leaked, healthy = 0, 0
		for _, s := range p.Sample {
			switch {
			case hasFunc(s, ".blockedForever"):
				leaked += s.Value[0]
			case hasFunc(s, ".parkHere"):
				healthy += s.Value[0]
			}
		}
		if healthy != 0 {
			t.Fatalf("the leak profile holds %d parked goroutines whose channel is still reachable", healthy)
		}
		if leaked == 0 {
			time.Sleep(10 * time.Millisecond) // let the new goroutine reach its receive
		}
	}
}
