//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta"
	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

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

func newContention(name string, opts ContentionOptions) *Contention {
	read, own := blockProfileInternal, opts.Own
	if name == "mutex" {
		read, own = mutexProfileInternal, nil
	}
	c := &Contention{
		name:   name,
		read:   read,
		own:    own,
		cpuGHz: float64(cyclesPerSecond()) / 1e9,
		depth:  len(makeProfStack()),
		table:  delta.NewTable(keepWindows),
		enc:    pprofenc.NewBuilder(pprofenc.NewSymbols(readMappings())),
	}
	c.columns, c.header.SampleTypes = pickColumns(opts.SampleTypes, contentionTypes[:])
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
