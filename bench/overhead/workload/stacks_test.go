package main

import (
	"runtime"
	"slices"
	"testing"
)

func TestDepthFor(t *testing.T) {
	for _, tt := range []struct{ n, depth int }{{1, 1}, {4, 1}, {5, 2}, {1 << 10, 5}, {1 << 14, 7}, {1<<14 + 1, 8}} {
		if d := depthFor(tt.n); d != tt.depth {
			t.Errorf("depthFor(%d) = %d, want %d", tt.n, d, tt.depth)
		}
	}
}

// TestWalkGivesDistinctStacks checks the property every scenario relies on:
// n codes reach their leaf through n different call stacks.
func TestWalkGivesDistinctStacks(t *testing.T) {
	for _, n := range []int{1 << 6, 1 << 10} {
		depth := depthFor(n)
		seen := map[string]uint32{}
		pcs := make([]uintptr, 64)
		for code := range uint32(n) {
			var key string
			walk(code, depth, func() {
				k := runtime.Callers(2, pcs)
				key = string(slices.Concat(nil, uintptrBytes(pcs[:k])))
			})
			if prev, dup := seen[key]; dup {
				t.Fatalf("n=%d: codes %d and %d share a stack", n, prev, code)
			}
			seen[key] = code
		}
	}
}

func uintptrBytes(pcs []uintptr) []byte {
	var b []byte
	for _, pc := range pcs {
		for i := range 8 {
			b = append(b, byte(pc>>(8*i)))
		}
	}
	return b
}
