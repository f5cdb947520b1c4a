package leaktest

import (
	"strings"
	"testing"
	"time"
)

//go:noinline
func parked(ch chan struct{}) { <-ch }

func TestFindReportsALeakAndIgnoresWhatItIsTold(t *testing.T) {
	defer func(d time.Duration) { settle = d }(settle)
	settle = 200 * time.Millisecond // the leak stays: do not wait 5 s for it
	ch := make(chan struct{})
	go parked(ch)
	defer close(ch)
	err := find(nil, nil)
	if err == nil || !strings.Contains(err.Error(), "leaktest.parked") {
		t.Fatalf("find = %v, want the parked goroutine reported", err)
	}
	if err := Find("github.com/pyroscope-sdk/pyroscope-go/internal/leaktest.parked"); err != nil {
		t.Fatalf("Find ignoring parked = %v, want nil", err)
	}
}

func TestFindWaitsForGoroutinesThatAreEnding(t *testing.T) {
	done := make(chan struct{})
	go func() { time.Sleep(50 * time.Millisecond); close(done) }()
	if err := Find(); err != nil {
		t.Fatalf("Find = %v, want nil once the goroutine ended", err)
	}
	<-done
}

func TestCheckKnowsWhatRanBefore(t *testing.T) {
	ch := make(chan struct{})
	go parked(ch)
	defer close(ch)
	if err := Current().Since(); err != nil {
		t.Fatalf("find with the goroutines known beforehand = %v, want nil", err)
	}
}
