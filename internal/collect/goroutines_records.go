//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import (
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta"
	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

// Goroutines collects a snapshot of all goroutines, counted per stack and
// pprof label set: the goroutine profile is the one profile besides CPU
// whose records carry labels.
type Goroutines struct {
	header pprofenc.Header
	table  *delta.Table
	enc    *pprofenc.Builder

	recs    []stackRecord
	labels  []unsafe.Pointer
	groups  map[groupKey]int
	samples []goroutineSample
	lbls    []pprofenc.Label
	values  [1]int64
	locs    []uint32 // scratch for a new entry's location IDs
}

type groupKey struct {
	stack  uint64
	labels unsafe.Pointer
}

type goroutineSample struct {
	locs   []uint32
	labels *labelSet
	count  int64
}

// NewGoroutines returns a goroutine profile collector.
func NewGoroutines() *Goroutines {
	return &Goroutines{
		header: pprofenc.Header{
			SampleTypes: []pprofenc.ValueType{{Type: "goroutine", Unit: "count"}},
			PeriodType:  pprofenc.ValueType{Type: "goroutine", Unit: "count"},
			Period:      1,
		},
		table:  delta.NewTable(keepWindows),
		enc:    pprofenc.NewBuilder(pprofenc.NewSymbols(readMappings())),
		groups: make(map[groupKey]int),
	}
}

// Collect writes the goroutines alive at the time of the call.
func (g *Goroutines) Collect(w io.Writer, from, until time.Time) error {
	g.recs, g.labels = readGoroutines(g.recs, g.labels)
	clear(g.groups)
	g.samples = g.samples[:0]
	sym := g.enc.Symbols()
	for i := range g.recs {
		stk := g.recs[i].Stack
		e, created := g.table.Find(stk, 0, delta.Values{}, true) // stacks are copies: known by hash
		if created {
			g.locs = sym.Stack(g.locs[:0], stk)
			g.table.SetLocs(e, g.locs)
		}
		g.table.Touch(e)
		// Goroutines started under one pprof.Do share the label set
		// pointer; equal sets at different addresses stay separate
		// samples, which sums the same in every view.
		key := groupKey{e.Key(), g.labels[i]}
		if j, ok := g.groups[key]; ok {
			g.samples[j].count++
			continue
		}
		g.groups[key] = len(g.samples)
		g.samples = append(g.samples, goroutineSample{locs: g.table.Locs(e), labels: (*labelSet)(g.labels[i]), count: 1})
	}
	clear(g.recs) // drop the runtime's stacks until the next window

	g.header.TimeNanos, g.header.DurationNanos = stamp(true, from, until)
	g.enc.Begin(g.header)
	for _, s := range g.samples {
		g.lbls = g.lbls[:0]
		if s.labels != nil {
			for _, l := range s.labels.list {
				g.lbls = append(g.lbls, pprofenc.Label{Key: l.key, Str: l.value})
			}
		}
		g.values[0] = s.count
		g.enc.Sample(s.locs, g.values[:], g.lbls)
	}
	g.table.EndWindow()
	clear(g.samples)
	if err := g.enc.Finish(w); err != nil {
		return fmt.Errorf("goroutine profile: %w", err)
	}
	return nil
}

// Close releases nothing: the goroutine collector changes no runtime setting.
func (g *Goroutines) Close() error { return nil }
