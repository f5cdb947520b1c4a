package collect

import "github.com/pyroscope-sdk/pyroscope-go/internal/window"

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
	return sampleTypes(h.sampleTypeNames(), func(name string) bool {
		return name == InuseObjects || name == InuseSpace
	})
}

// SampleTypes is the goroutine count at the window's end.
func (g *Goroutines) SampleTypes() []window.SampleType {
	return sampleTypes(g.sampleTypeNames(), func(string) bool { return true })
}

// SampleTypes is the count of leaked goroutines at the window's end, named
// after the profile as runtime/pprof names a count profile's sample type.
func (g *GoroutineLeak) SampleTypes() []window.SampleType {
	return []window.SampleType{{Name: "goroutineleak", Snapshot: true}}
}

// SampleTypes are the contention types asked for, both over the window.
func (c *Contention) SampleTypes() []window.SampleType {
	return sampleTypes(c.sampleTypeNames(), func(string) bool { return false })
}

// sampleTypes describes names, snapshot saying which are. Each way of
// reading the runtime (sampletypes_records.go, sampletypes_public.go) says
// which names its collectors write.
func sampleTypes(names []string, snapshot func(name string) bool) []window.SampleType {
	out := make([]window.SampleType, len(names))
	for i, name := range names {
		out[i] = window.SampleType{Name: name, Snapshot: snapshot(name)}
	}
	return out
}
