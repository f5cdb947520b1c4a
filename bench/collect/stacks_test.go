package collect

import (
	"runtime"
	"sync"
)

// The workload builds distinct call stacks from two functions that call
// each other by the bits of an id: depth levels give 2^depth stacks, each
// about depth+5 frames deep, all of them sampled (MemProfileRate is 1).
const stackDepth = 15

var (
	live      [][]byte // keeps every stack's allocation live (in use)
	liveStack = map[int]bool{}
)

//go:noinline
func pathA(depth int, id uint32, leaf func()) {
	if depth == 0 {
		leaf()
		return
	}
	if id&1 == 0 {
		pathA(depth-1, id>>1, leaf)
	} else {
		pathB(depth-1, id>>1, leaf)
	}
}

//go:noinline
func pathB(depth int, id uint32, leaf func()) {
	if depth == 0 {
		leaf()
		return
	}
	if id&1 == 0 {
		pathA(depth-1, id>>1, leaf)
	} else {
		pathB(depth-1, id>>1, leaf)
	}
}

//go:noinline
func allocLeaf() { live = append(live, make([]byte, 64)) }

// ensureHeapStacks makes the first n distinct stacks hold live memory,
// sampling every allocation while it runs.
func ensureHeapStacks(n int) {
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = defaultMemProfileRate }()
	for id := range n {
		if !liveStack[id] {
			pathA(stackDepth, uint32(id), allocLeaf)
			liveStack[id] = true
		}
	}
	runtime.GC() // publish the new records
}

// contend makes one mutex contention event charged to the caller's stack
// (it unlocks while a waiter is queued) and one blocking event on it (it
// waits for the waiter to finish).
//
//go:noinline
func contendLeaf() {
	var mu sync.Mutex
	done := make(chan struct{})
	mu.Lock()
	go func() {
		mu.Lock()
		mu.Unlock() //nolint:staticcheck // the contention is the point
		close(done)
	}()
	for range 3 {
		runtime.Gosched() // let the waiter queue on mu
	}
	mu.Unlock()
	<-done
}

// contendStacks records contention on n distinct stacks.
func contendStacks(n int) {
	for id := range n {
		pathA(stackDepth, uint32(id), contendLeaf)
	}
}
