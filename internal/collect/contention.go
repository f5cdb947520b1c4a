package collect

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta"
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

// Contention collects the mutex or the block profile as the change over
// each window: how many contention events and how long they waited.
type Contention struct {
	name    string
	read    func([]blockRecord) (int, bool)
	restore func()
	columns []int // indexes into [contentions, delay]
	header  pprofenc.Header
	cpuGHz  float64
	depth   int

	table  *delta.Table
	enc    *pprofenc.Builder
	recs   []blockRecord
	values []int64
	locs   []uint32  // scratch for a new entry's location IDs
	own    []uintptr // block only: see ContentionOptions.Own
}

// NewMutex returns a collector of the mutex profile. If the runtime's mutex
// profile fraction is 0 it sets opts.Rate (or DefaultMutexFraction) and
// Close sets it back to 0.
func NewMutex(opts ContentionOptions) *Contention {
	c := newContention("mutex", mutexProfileInternal, opts)
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
	c := newContention("block", blockProfileInternal, opts)
	c.own = opts.Own
	n, _ := blockProfileInternal(nil)
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

func newContention(name string, read func([]blockRecord) (int, bool), opts ContentionOptions) *Contention {
	c := &Contention{
		name:   name,
		read:   read,
		cpuGHz: float64(cyclesPerSecond()) / 1e9,
		depth:  len(makeProfStack()),
		table:  delta.NewTable(keepWindows),
		enc:    pprofenc.NewBuilder(pprofenc.NewSymbols(readMappings())),
	}
	types := [2]pprofenc.ValueType{{Type: Contentions, Unit: "count"}, {Type: Delay, Unit: "nanoseconds"}}
	for i, vt := range types {
		if len(opts.SampleTypes) == 0 || slices.Contains(opts.SampleTypes, vt.Type) {
			c.columns = append(c.columns, i)
			c.header.SampleTypes = append(c.header.SampleTypes, vt)
		}
	}
	if len(c.columns) == 0 {
		c.columns = []int{0, 1}
		c.header.SampleTypes = types[:]
	}
	c.values = make([]int64, len(c.columns))
	c.header.PeriodType = pprofenc.ValueType{Type: Contentions, Unit: "count"}
	c.header.Period = 1

	c.recs = readBlock(c.read, c.recs)
	c.table.Reserve(0, len(c.recs), 0)
	for i := range c.recs {
		r, pos := &c.recs[i], len(c.recs)-1-i // pos counts from the oldest record
		c.table.BaselineAt(pos, r.Stack, 0, c.cumulative(r))
	}
	return c
}

// cumulative converts a record as runtime/pprof does: the runtime already
// scaled the count by the sampling rate, cycles become nanoseconds.
func (c *Contention) cumulative(r *blockRecord) delta.Values {
	return delta.Values{r.Count, int64(float64(r.Cycles) / c.cpuGHz)}
}

// Collect writes the contention that happened in [from, until).
func (c *Contention) Collect(w io.Writer, from, until time.Time) error {
	c.recs = readBlock(c.read, c.recs)
	c.header.TimeNanos = from.UnixNano()
	c.header.DurationNanos = until.Sub(from).Nanoseconds()
	c.enc.Begin(c.header)
	sym := c.enc.Symbols()
	for i := range c.recs {
		r, pos := &c.recs[i], len(c.recs)-1-i // pos counts from the oldest record
		cum := c.cumulative(r)
		e, created := c.table.FindAt(pos, r.Stack, 0, cum, false)
		if e == nil {
			continue // unchanged since it went cold
		}
		if created {
			c.locs = sym.Stack(c.locs[:0], sym.ExpandPhysical(r.Stack, c.depth))
			c.table.SetLocs(e, c.locs)
			e.Skip = c.isOwn(r.Stack)
		}
		d := e.Delta(cum)
		if d == (delta.Values{}) {
			continue
		}
		c.table.Touch(e)
		if e.Skip {
			continue
		}
		for j, col := range c.columns {
			c.values[j] = d[col]
		}
		c.enc.Sample(c.table.Locs(e), c.values, nil)
	}
	c.table.EndWindow()
	if err := c.enc.Finish(w); err != nil {
		return fmt.Errorf("%s profile: %w", c.name, err)
	}
	return nil
}

// isOwn reports whether a frame of stack is in one of c.own. A frame's
// function entry is its outermost function's, inlining included, so a wait
// inlined into an own function still counts.
func (c *Contention) isOwn(stack []uintptr) bool {
	if len(c.own) == 0 {
		return false
	}
	for _, pc := range stack {
		if f := runtime.FuncForPC(pc - 1); f != nil && slices.Contains(c.own, f.Entry()) {
			return true
		}
	}
	return false
}

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
