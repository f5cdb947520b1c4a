package proftest

import (
	"crypto/sha256"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// BurnCPU is a test's hot function. It runs until the process has used d
// more CPU time, not d of wall time, so that a loaded machine still gives the
// CPU profiler samples to take.
//
//go:noinline
func BurnCPU(d time.Duration) [32]byte {
	var h [32]byte
	for end := cpuTime() + d; cpuTime() < end; {
		for range 1000 {
			h = sha256.Sum256(h[:])
		}
	}
	return h
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// AllocKnown allocates n objects of size bytes each, and nothing else.
//
//go:noinline
func AllocKnown(n, size int) {
	for range n {
		allocSink = make([]byte, size)
	}
	allocSink = nil
}

// allocSink makes AllocKnown's objects escape to the heap.
var allocSink []byte

// SampleEveryAllocation sets runtime.MemProfileRate to 1 for the test, so
// heap values are exact rather than estimates with a sampling error.
func SampleEveryAllocation(t testing.TB) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	t.Cleanup(func() { runtime.MemProfileRate = old })
}

// ValueOf sums sample type typ over samples whose stack has a function whose
// name ends in fn.
func ValueOf(p *profile.Profile, typ, fn string) int64 {
	return valueWhere(p, typ, fn, func(*profile.Sample) bool { return true })
}

// AllocatedOfSize sums alloc_space over the heap samples of objects of size
// bytes whose stack has a function whose name ends in fn: what fn allocated
// itself, without what the runtime allocated on the same stack (a GC that
// fn's allocation started).
func AllocatedOfSize(p *profile.Profile, fn string, size int64) int64 {
	return valueWhere(p, "alloc_space", fn, func(s *profile.Sample) bool {
		return len(s.NumLabel["bytes"]) == 1 && s.NumLabel["bytes"][0] == size
	})
}

// valueWhere sums sample type typ over samples whose stack has a function
// whose name ends in fn and that keep accepts.
func valueWhere(p *profile.Profile, typ, fn string, keep func(*profile.Sample) bool) int64 {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == typ {
			idx = i
		}
	}
	if idx < 0 {
		return 0
	}
	var sum int64
	for _, s := range p.Sample {
		if StackEndsIn(s, fn) && keep(s) {
			sum += s.Value[idx]
		}
	}
	return sum
}

// StackEndsIn reports whether a frame of s is in a function whose name ends
// in fn.
func StackEndsIn(s *profile.Sample, fn string) bool {
	return stackMatches(s, func(name string) bool { return strings.HasSuffix(name, fn) })
}
