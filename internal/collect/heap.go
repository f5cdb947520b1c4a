package collect

import (
	"runtime"
	"runtime/metrics"
	"slices"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
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
