// Package collect reads the Go runtime's profiles and turns each window into a
// gzipped pprof: CPU through runtime/pprof, heap, mutex, block and goroutines
// as exact per-window deltas or snapshots. Delta state lives here and nowhere
// else. It knows nothing of HTTP, tokens or backends.
package collect

import (
	"io"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// A Collector produces one profile per window. Collect and Close are called
// from a single goroutine (the scheduler's); they need not be safe for
// concurrent use.
type Collector interface {
	// Collect writes the profile of the window [from, until) as gzipped pprof
	// to w. For cumulative profiles it holds only what changed since the
	// previous Collect (or since the collector was made, for the first).
	Collect(w io.Writer, from, until time.Time) error
	// SampleTypes describes the sample types Collect writes, in order, and
	// which of them are snapshots.
	SampleTypes() []window.SampleType
	// Close releases what the collector holds: it stops the CPU profiler and
	// restores runtime rates the collector changed.
	Close() error
}

// stamp returns the time and duration a window's profile carries: the
// window's bounds for changes over it, its end and no duration for a
// profile of states at its end only (live heap, goroutines), as
// runtime/pprof stamps its own snapshots. Parca tells the two apart by the
// duration alone.
func stamp(snapshot bool, from, until time.Time) (timeNanos, durationNanos int64) {
	if snapshot {
		return until.UnixNano(), 0
	}
	return from.UnixNano(), until.Sub(from).Nanoseconds()
}
