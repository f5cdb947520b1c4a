package collect

import (
	"runtime"
	"sync/atomic"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

// Contention sample type names, as runtime/pprof names them.
const (
	Contentions = "contentions"
	Delay       = "delay"
)

// Rates set when mutex or block profiling is requested while the runtime's
// rate is 0 and ContentionOptions.Rate is 0.
const (
	// DefaultMutexFraction samples one in 10 mutex contention events: cheap
	// enough to leave on in production, frequent enough to find hot locks.
	DefaultMutexFraction = 10
	// DefaultBlockRate samples, on average, one blocking event per 10µs
	// spent blocked: every event of 10µs or more, shorter ones in
	// proportion to their length.
	DefaultBlockRate = 10_000
)

var contentionTypes = [2]pprofenc.ValueType{
	{Type: Contentions, Unit: "count"},
	{Type: Delay, Unit: "nanoseconds"},
}

// ContentionOptions configures a mutex or block collector.
type ContentionOptions struct {
	// SampleTypes lists contentions and/or delay; nil or empty means both.
	SampleTypes []string
	// Rate is the mutex profile fraction or the block profile rate (in
	// nanoseconds) to set when the runtime's is 0. Zero means
	// DefaultMutexFraction or DefaultBlockRate. A rate the program already
	// set is left alone. A negative Rate leaves the runtime's rate alone in
	// every case: for programs that set the block rate themselves, possibly
	// before anything has blocked (see NewBlock).
	Rate int
	// Logger, when set, receives one informational line saying which rate
	// the collector set.
	Logger func(format string, args ...any)
	// Own lists the entry PCs (as reflect.Value.Pointer gives them) of the
	// functions the profiler's own goroutines run. The block profile leaves
	// out records with a frame in one of them: those goroutines wait for
	// the next window or upload by design, seconds per window that would
	// otherwise top the program's block profile. The mutex profile keeps
	// them: contention the profiler causes is the program's to know.
	Own []uintptr
}

// NewMutex returns a collector of the mutex profile. If the runtime's mutex
// profile fraction is 0 it sets opts.Rate (or DefaultMutexFraction) and
// Close sets it back to 0.
func NewMutex(opts ContentionOptions) *Contention {
	c := newContention("mutex", opts)
	if opts.Rate >= 0 && runtime.SetMutexProfileFraction(-1) == 0 {
		rate := cmpOr(opts.Rate, DefaultMutexFraction)
		runtime.SetMutexProfileFraction(rate)
		c.restore = func() { runtime.SetMutexProfileFraction(0) }
		logf(opts.Logger, "mutex profiling was off: set runtime.SetMutexProfileFraction(%d); restored to 0 on stop", rate)
	}
	return c
}

// NewBlock returns a collector of the block profile. The runtime has no way
// to read the block profile rate (neither runtime/metrics nor any setter
// reports it), so it is taken to be 0 when the block profile holds no record
// yet; then opts.Rate (or DefaultBlockRate) is set and Close sets it back to
// 0. A program that sets its own rate but has not blocked yet when the
// collector starts therefore gets opts.Rate until Close and 0 after: such a
// program should pass a negative opts.Rate, which leaves the rate alone.
//
// A collector that restored the rate to 0 remembers it, process-wide, so that
// the next collector in the same process (a second Start) sets it again even
// though the profile now holds records.
func NewBlock(opts ContentionOptions) *Contention {
	c := newContention("block", opts)
	n, _ := runtime.BlockProfile(nil)
	if (n == 0 || blockRateRestored.Load()) && opts.Rate >= 0 {
		rate := cmpOr(opts.Rate, DefaultBlockRate)
		runtime.SetBlockProfileRate(rate)
		blockRateRestored.Store(false)
		c.restore = func() {
			runtime.SetBlockProfileRate(0)
			blockRateRestored.Store(true)
		}
		logf(opts.Logger, "block profiling looked off: set runtime.SetBlockProfileRate(%d); restored to 0 on stop", rate)
	}
	return c
}

// blockRateRestored is true while the block profile rate is 0 because a
// collector set it back to 0. The rate is process-wide state of the runtime,
// which offers no way to read it, so this one fact is kept process-wide too.
var blockRateRestored atomic.Bool

// Close restores the runtime rate the collector set, if it set one.
func (c *Contention) Close() error {
	if c.restore != nil {
		c.restore()
		c.restore = nil
	}
	return nil
}

func cmpOr(v, fallback int) int {
	if v > 0 {
		return v
	}
	return fallback
}

func logf(logger func(string, ...any), format string, args ...any) {
	if logger != nil {
		logger(format, args...)
	}
}
