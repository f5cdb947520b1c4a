package collect

import (
	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// The sample types each collector writes, in order, and whether each is a
// change over the window or a snapshot at its end: the one place that
// decides it. The scheduler puts them in every window it cuts.

// SampleTypes are those of runtime/pprof's CPU profile: samples taken and
// CPU time, both over the window.
func (c *CPU) SampleTypes() []window.SampleType {
	return []window.SampleType{{Name: "samples"}, {Name: "cpu"}}
}

// SampleTypes are the heap types asked for: allocations over the window,
// live memory (inuse_*) at its end.
func (h *Heap) SampleTypes() []window.SampleType {
	return sampleTypes(h.header.SampleTypes, func(name string) bool {
		return name == InuseObjects || name == InuseSpace
	})
}

// SampleTypes is the goroutine count at the window's end.
func (g *Goroutines) SampleTypes() []window.SampleType {
	return sampleTypes(g.header.SampleTypes, func(string) bool { return true })
}

// SampleTypes is the count of leaked goroutines at the window's end, named
// after the profile as runtime/pprof names a count profile's sample type.
func (g *GoroutineLeak) SampleTypes() []window.SampleType {
	return []window.SampleType{{Name: "goroutineleak", Snapshot: true}}
}

// SampleTypes are the contention types asked for, both over the window.
func (c *Contention) SampleTypes() []window.SampleType {
	return sampleTypes(c.header.SampleTypes, func(string) bool { return false })
}

func sampleTypes(types []pprofenc.ValueType, snapshot func(name string) bool) []window.SampleType {
	out := make([]window.SampleType, len(types))
	for i, vt := range types {
		out[i] = window.SampleType{Name: vt.Type, Snapshot: snapshot(vt.Type)}
	}
	return out
}
