//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import (
	"math"
	"runtime"
	"strings"
	"testing"
)

// stampsGoroutines says the goroutine profile's time is the collector's
// (the window's end), not runtime/pprof's.
const stampsGoroutines = true

// byPosition reports whether the delta table of a heap, mutex or block
// collector still knows the runtime's records by their position.
func byPosition(c Collector) bool {
	switch c := c.(type) {
	case *Heap:
		return c.table.ByPosition()
	case *Contention:
		return c.table.ByPosition()
	}
	return false
}

func TestPathNamesRecords(t *testing.T) {
	got := Path()
	if !strings.Contains(got, "runtime's profile records") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("Path() = %q, want it to name the runtime's profile records and %s", got, runtime.Version())
	}
}

// TestHeapScaleMatchesRuntimePprof checks the kept factor never leaks from
// one size or rate to the next: each result must equal runtime/pprof's
// formula computed afresh.
func TestHeapScaleMatchesRuntimePprof(t *testing.T) {
	var s heapScale
	for i, tc := range []struct{ count, bytes, rate int64 }{
		{3, 3 * 512, 512 * 1024},
		{5, 5 * 512, 512 * 1024}, // same size: kept factor
		{2, 2 * 48, 512 * 1024},  // new size
		{7, 7 * 48, 4096},        // new rate
		{1, 1 << 20, 4096},       // larger than the rate
		{4, 4 * 48, 1},           // every allocation sampled
		{0, 0, 4096},             // nothing
		{9, 9 * 48, 512 * 1024},  // back to an earlier size and rate
	} {
		var wantObjects, wantBytes int64
		switch {
		case tc.count == 0 || tc.bytes == 0:
		case tc.rate <= 1:
			wantObjects, wantBytes = tc.count, tc.bytes
		default:
			f := 1 / (1 - math.Exp(-float64(tc.bytes)/float64(tc.count)/float64(tc.rate)))
			wantObjects, wantBytes = int64(float64(tc.count)*f), int64(float64(tc.bytes)*f)
		}
		if o, b := s.apply(tc.count, tc.bytes, tc.rate); o != wantObjects || b != wantBytes {
			t.Errorf("case %d %+v: got %d objects %d bytes, want %d and %d", i, tc, o, b, wantObjects, wantBytes)
		}
	}
}
