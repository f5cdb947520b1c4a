//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestRuntimeListingIsAppendOnly checks what delta.Table.FindAt relies on
// for the heap, mutex and block profiles: the runtime lists its records
// newest first, never drops one, and each record's stack is the runtime's
// own copy, at the same address on every reading. Counted from the oldest,
// a position then always holds the same record. A runtime that changes this
// still gets exact profiles (the table falls back to hashing), but slower:
// this test says so.
func TestRuntimeListingIsAppendOnly(t *testing.T) {
	withMemProfileRate(t, 1)
	withContentionRates(t)
	var mu sync.Mutex
	type stackAt struct {
		addr uintptr
		n    int
	}
	heapStacks := func() []stackAt {
		var out []stackAt
		for _, r := range readMem(nil) {
			out = append(out, stackAt{uintptr(unsafe.Pointer(unsafe.SliceData(r.Stack))), len(r.Stack)})
		}
		return out
	}
	blockStacks := func(read func([]blockRecord) (int, bool)) func() []stackAt {
		return func() []stackAt {
			var out []stackAt
			for _, r := range readBlock(read, nil) {
				out = append(out, stackAt{uintptr(unsafe.Pointer(unsafe.SliceData(r.Stack))), len(r.Stack)})
			}
			return out
		}
	}
	for _, tc := range []struct {
		name     string
		read     func() []stackAt
		newStack func(int)
	}{
		{"heap", heapStacks, func(int) { atNewStack(func() { allocKnown(10, 64) }); runtime.GC() }},
		{"mutex", blockStacks(mutexProfileInternal), func(int) { atNewStack(func() { holdLock(&mu, 1, time.Millisecond) }) }},
		{"block", blockStacks(blockProfileInternal), func(int) { atNewStack(func() { waitOnChan(1, time.Millisecond) }) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.newStack(0)
			before := tc.read()
			for i := 1; i < 4; i++ {
				tc.newStack(i)
			}
			after := tc.read()
			if len(after) <= len(before) {
				t.Fatalf("%d records before new stacks, %d after: the test made no new record", len(before), len(after))
			}
			// Compare from the oldest: after's tail must be before.
			tail := after[len(after)-len(before):]
			for i := range before {
				if tail[i] != before[i] {
					t.Fatalf("record %d of %d counted from the newest: stack at %#x (%d PCs), then at %#x (%d PCs); the listing is no longer append-only with stable stacks",
						i, len(before), before[i].addr, before[i].n, tail[i].addr, tail[i].n)
				}
			}
		})
	}
}

// stackCode numbers the call stacks atNewStack makes, across every run of
// the test (-count), so that each call is at a stack the runtime has not
// recorded yet.
var stackCode atomic.Uint32

// atNewStack runs f under a call stack no earlier call made: 16 frames of
// viaA or viaB, one per bit of a fresh code.
func atNewStack(f func()) { via(stackCode.Add(1), 16, f) }

func via(code uint32, bits int, f func()) {
	switch {
	case bits == 0:
		f()
	case code&1 == 0:
		viaA(code>>1, bits-1, f)
	default:
		viaB(code>>1, bits-1, f)
	}
}

//go:noinline
func viaA(code uint32, bits int, f func()) { via(code, bits, f) }

//go:noinline
func viaB(code uint32, bits int, f func()) { via(code, bits, f) }
