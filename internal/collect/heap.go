package collect

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Heap sample type names, as runtime/pprof names them.
const (
	AllocObjects = "alloc_objects"
	AllocSpace   = "alloc_space"
	InuseObjects = "inuse_objects"
	InuseSpace   = "inuse_space"
)

// keepWindows is how many windows an unchanged stack stays in a delta
// table's hot part before only its cumulative values are kept.
const keepWindows = 4

// HeapOptions configures a Heap collector.
type HeapOptions struct {
	// SampleTypes lists the sample types to write, among alloc_objects,
	// alloc_space, inuse_objects and inuse_space; nil or empty means all
	// four. Names not in that list are ignored.
	SampleTypes []string
	// DisableGCRuns stops the collector from forcing a garbage collection
	// before reading the profile. The runtime publishes heap profile data
	// only at the end of a GC cycle, so without a GC in the window the
	// window's allocations appear one window later.
	DisableGCRuns bool
	// SeparateLive writes live memory as a profile of its own, for a
	// backend that takes each profile as either a change over the window or
	// a snapshot at its end (Parca): Collect then writes the allocations
	// asked for, and the collector Live returns the live memory asked for,
	// both from one reading of the runtime's records. With only one of the
	// two asked for, there is one profile either way.
	SeparateLive bool
}

var heapTypes = [4]pprofenc.ValueType{
	{Type: AllocObjects, Unit: "count"},
	{Type: AllocSpace, Unit: "bytes"},
	{Type: InuseObjects, Unit: "count"},
	{Type: InuseSpace, Unit: "bytes"},
}

// pickColumns returns the indexes into types of the sample types asked for,
// in types' order, and their value types: all of them when asked names none
// of them.
func pickColumns(asked []string, types []pprofenc.ValueType) ([]int, []pprofenc.ValueType) {
	var columns []int
	var picked []pprofenc.ValueType
	for i, vt := range types {
		if len(asked) == 0 || slices.Contains(asked, vt.Type) {
			columns = append(columns, i)
			picked = append(picked, vt)
		}
	}
	if len(columns) == 0 { // only unknown names: fall back to all
		for i := range types {
			columns = append(columns, i)
		}
		return columns, types
	}
	return columns, picked
}

// heapParts cuts the heap columns picked (ascending indexes into heapTypes)
// into the profiles they are written as, as [start, end) ranges: one, or
// with separate the allocations and the live memory when both are asked for.
func heapParts(columns []int, separate bool) [][2]int {
	live := slices.IndexFunc(columns, func(c int) bool { return c >= 2 })
	if !separate || live <= 0 {
		return [][2]int{{0, len(columns)}}
	}
	return [][2]int{{0, live}, {live, len(columns)}}
}

// Live returns the collector of the live memory of a heap collector made
// with SeparateLive and asked for allocations and live memory both, nil
// otherwise. Its Collect writes the live part of the reading the Heap's
// Collect made for the same window, which must come first: the two are one
// reading of the runtime, written as two profiles.
func (h *Heap) Live() Collector {
	if !h.separate() {
		return nil
	}
	return heapLive{h}
}

// heapLive is the live part of a Heap made with SeparateLive.
type heapLive struct{ h *Heap }

func (l heapLive) Collect(w io.Writer, from, until time.Time) error {
	return l.h.collectLive(w, from, until)
}

// SampleTypes are the live heap types asked for, at the window's end.
func (l heapLive) SampleTypes() []window.SampleType {
	return sampleTypes(l.h.liveTypeNames(), func(string) bool { return true })
}

// Close releases nothing: the Heap owns what the reading holds.
func (l heapLive) Close() error { return nil }

// heapLivePending says which window's live part the Heap holds, written by
// its Collect and not yet by the Live collector's.
type heapLivePending struct {
	from, until time.Time
	ok          bool
}

func (p *heapLivePending) reset() { p.ok = false }

func (p *heapLivePending) set(from, until time.Time) {
	p.from, p.until, p.ok = from, until, true
}

// take consumes the pending live part, which must be of [from, until).
func (p *heapLivePending) take(from, until time.Time) error {
	if !p.ok {
		return errors.New("live heap profile: no heap reading to write: the heap collector's Collect must run first in each window")
	}
	if !p.from.Equal(from) || !p.until.Equal(until) {
		return fmt.Errorf("live heap profile: the heap was last read for the window %v to %v, not %v to %v", p.from, p.until, from, until)
	}
	p.ok = false
	return nil
}

// heapGC forces a GC before a heap reading when none completed since the
// previous reading (unless disabled): the runtime publishes a window's
// allocations only at the end of a GC cycle.
type heapGC struct {
	disabled bool
	cycles   []metrics.Sample
	last     uint64
}

// newHeapGC runs the first GC (unless disabled), so that allocations made
// before the collector are published and left out of its first window.
func newHeapGC(disabled bool) *heapGC {
	g := &heapGC{disabled: disabled, cycles: []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}}
	if !disabled {
		runtime.GC()
	}
	g.last = g.count()
	return g
}

func (g *heapGC) count() uint64 {
	metrics.Read(g.cycles)
	if g.cycles[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return g.cycles[0].Value.Uint64()
}

// beforeRead runs a GC unless one completed since the last call or GC runs
// are disabled.
func (g *heapGC) beforeRead() {
	if n := g.count(); n == g.last && !g.disabled {
		runtime.GC()
	}
	g.last = g.count()
}
