package collect

import (
	"runtime"
	"sync"
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
		newStack func(i int)
	}{
		{"heap", heapStacks, func(i int) { allocKnown(10+i, 64*(i+1)); runtime.GC() }},
		{"mutex", blockStacks(mutexProfileInternal), func(i int) { holdLock(&mu, i, time.Millisecond) }},
		{"block", blockStacks(blockProfileInternal), func(i int) { waitOnChan(i+1, time.Millisecond) }},
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
