// Package window defines the Window, the hand-off between what produces
// profiles (the SDK's collectors, the CLI's perf sampler and pprof puller)
// and what delivers them (internal/upload). It belongs to neither side, so
// that a producer never imports delivery.
package window

import "time"

// A Window is one profile covering [From, Until), ready to be sent.
type Window struct {
	// App is the application name without tags, e.g. "checkout.api", and
	// Tags the series labels, already validated (keys are [A-Za-z0-9_]).
	// The destination sets both when the window is pushed.
	App  string
	Tags map[string]string
	// Name is the profile family the pprof holds: one of the Kind
	// constants.
	Name string
	// From and Until bound the window.
	From, Until time.Time
	// Data is a gzipped pprof (profile.proto), which backends send as it
	// is. Sample types are named as runtime/pprof names them (samples/cpu,
	// alloc_objects/alloc_space, inuse_objects/inuse_space, goroutine,
	// contentions/delay). Its producer stamps it: a profile of changes
	// carries the window's start and length in time_nanos and
	// duration_nanos, one of snapshots only a time at the window's end and
	// no duration, as runtime/pprof stamps its own.
	Data []byte
	// SampleTypes describe Data's sample types, in order, as its producer
	// wrote them: a backend reads here which values are a change over the
	// window and which a snapshot at its end, instead of deciding it again.
	// For a backend that takes a profile as one or the other (Parca), the
	// producer writes them as windows of their own (the heap's allocations
	// and its live memory).
	SampleTypes []SampleType
	// SampleRate is the CPU sampling frequency in Hz, for KindCPU; 0
	// otherwise.
	SampleRate int
}

// A SampleType is one of a profile's sample types.
type SampleType struct {
	// Name is the sample type's type, e.g. "alloc_space".
	Name string
	// Snapshot is true for a value that is a state at the window's end
	// (live heap, goroutines), false for a change over the window
	// (samples, allocations, contention).
	Snapshot bool
}

// Profile families carried in Window.Name. Each backend maps them to its own names.
const (
	KindCPU           = "cpu"
	KindHeap          = "heap"
	KindGoroutines    = "goroutines"
	KindGoroutineLeak = "goroutine_leak"
	KindMutex         = "mutex"
	KindBlock         = "block"
)

// Size is the number of bytes the window holds against a queue's budget.
func (w *Window) Size() int { return len(w.Data) + 256 }

// HasSnapshots reports whether any of the window's sample types is a
// snapshot.
func (w *Window) HasSnapshots() bool {
	for _, st := range w.SampleTypes {
		if st.Snapshot {
			return true
		}
	}
	return false
}
