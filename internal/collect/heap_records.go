//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta"
	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

// Heap collects the heap profile: allocations (alloc_*) as the change over
// each window, live memory (inuse_*) as a snapshot at the window's end.
type Heap struct {
	columns []int // indexes into [alloc_objects, alloc_space, inuse_objects, inuse_space]
	inuse   bool  // an inuse_* column is written
	// parts are the profiles one reading is written as: one, or with
	// HeapOptions.SeparateLive the allocations and then the live memory,
	// which write columns[:split] and columns[split:].
	parts []heapPart
	split int
	live  heapLivePending

	table  *delta.Table
	recs   []memRecord
	all    [4]int64
	values []int64
	labels []pprofenc.Label
	locs   []uint32 // scratch for a new entry's location IDs

	scale heapScale
	gc    *heapGC
}

// A heapPart is one profile of a heap reading: its header and its encoder,
// which shares the collector's Symbols with the other part.
type heapPart struct {
	header pprofenc.Header
	enc    *pprofenc.Builder
	live   bool // of live memory only: a snapshot
}

// NewHeap returns a heap collector whose first window holds only what is
// allocated from now on. Unless DisableGCRuns is set it runs a GC first, so
// that allocations made before it are published and left out.
func NewHeap(opts HeapOptions) *Heap {
	h := &Heap{table: delta.NewTable(keepWindows)}
	sym := pprofenc.NewSymbols(readMappings())
	columns, types := pickColumns(opts.SampleTypes, heapTypes[:])
	cuts := heapParts(columns, opts.SeparateLive)
	for _, cut := range cuts {
		h.parts = append(h.parts, heapPart{
			header: pprofenc.Header{
				SampleTypes: types[cut[0]:cut[1]],
				PeriodType:  pprofenc.ValueType{Type: "space", Unit: "bytes"},
			},
			enc:  pprofenc.NewBuilder(sym),
			live: columns[cut[0]] >= 2,
		})
	}
	h.columns, h.split = columns, cuts[0][1]
	h.values = make([]int64, len(columns))
	h.inuse = columns[len(columns)-1] >= 2
	h.gc = newHeapGC(opts.DisableGCRuns)
	rate := int64(runtime.MemProfileRate)
	h.recs = readMem(h.recs)
	h.table.Reserve(0, len(h.recs), 0)
	for i := range h.recs {
		r, pos := &h.recs[i], len(h.recs)-1-i // pos counts from the oldest record
		if r.AllocObjects == 0 {
			h.table.SkipAt(pos, r.Stack)
			continue
		}
		objects, bytes := h.scale.apply(r.AllocObjects, r.allocBytes(), rate)
		h.table.BaselineAt(pos, r.Stack, r.objectSize(), delta.Values{objects, bytes})
	}
	return h
}

// Collect writes the heap profile of [from, until). It forces a GC first
// unless DisableGCRuns is set or a GC already completed in the window.
func (h *Heap) Collect(w io.Writer, from, until time.Time) error {
	h.live.reset()
	h.gc.beforeRead()

	rate := int64(runtime.MemProfileRate)
	h.recs = readMem(h.recs)
	for i := range h.parts {
		part := &h.parts[i]
		part.header.Period = rate
		part.header.TimeNanos, part.header.DurationNanos = stamp(part.live, from, until)
		part.enc.Begin(part.header)
	}
	if n := len(h.recs) - h.table.Len(); h.inuse && n > h.table.Len() {
		// Every stack with live memory is written, so on a first reading
		// most records make an entry: size the table for them at once.
		words := 0
		for i := range h.recs {
			words += len(h.recs[i].Stack) // about one location per PC
		}
		h.table.Reserve(n, 0, words)
	}
	sym := h.parts[0].enc.Symbols()
	// Samples are written in the runtime's order, newest first: on the
	// idle-rich benchmark's heap profile that gzips 2% smaller than
	// oldest first.
	for i := range h.recs {
		r, pos := &h.recs[i], len(h.recs)-1-i // pos counts from the oldest record
		if r.AllocObjects == 0 {
			h.table.SkipAt(pos, r.Stack)
			continue
		}
		size := r.objectSize()
		objects, bytes := h.scale.apply(r.AllocObjects, r.allocBytes(), rate)
		h.all[2], h.all[3] = h.scale.apply(max(r.AllocObjects-r.FreeObjects, 0), max(r.allocBytes()-r.freeBytes(), 0), rate)
		live := h.inuse && h.all[3] != 0
		e, created := h.table.FindAt(pos, r.Stack, size, delta.Values{objects, bytes}, live)
		if e == nil {
			continue // no allocation since it went cold, and nothing live to show
		}
		if created {
			h.locs = sym.HeapStack(h.locs[:0], r.Stack)
			h.table.SetLocs(e, h.locs)
		}
		d := e.Delta(delta.Values{objects, bytes})
		h.all[0], h.all[1] = d[0], d[1]
		// Each part writes the record if it has a value other than 0 for
		// it: allocations, live memory, or both in one profile.
		first, second := false, false
		for j, c := range h.columns {
			h.values[j] = h.all[c]
			if h.all[c] != 0 {
				if j < h.split {
					first = true
				} else {
					second = true
				}
			}
		}
		if !first && !second {
			continue
		}
		h.table.Touch(e)
		h.labels = append(h.labels[:0], pprofenc.Label{Key: "bytes", Num: size})
		locs := h.table.Locs(e)
		if first {
			h.parts[0].enc.Sample(locs, h.values[:h.split], h.labels)
		}
		if second {
			h.parts[1].enc.Sample(locs, h.values[h.split:], h.labels)
		}
	}
	h.table.EndWindow()
	if err := h.parts[0].enc.Finish(w); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if len(h.parts) > 1 {
		h.live.set(from, until)
	}
	return nil
}

// collectLive writes the live part of the reading the latest Collect made,
// which must be of the window [from, until).
func (h *Heap) collectLive(w io.Writer, from, until time.Time) error {
	if err := h.live.take(from, until); err != nil {
		return err
	}
	if err := h.parts[1].enc.Finish(w); err != nil {
		return fmt.Errorf("live heap profile: %w", err)
	}
	return nil
}

// Close releases nothing: the heap collector changes no runtime setting.
func (h *Heap) Close() error { return nil }

// heapScale undoes the runtime's heap sampling as runtime/pprof does: a
// record of objects of one size, sampled on average every rate bytes, stands
// for count/(1-exp(-size/rate)) objects. The result is truncated the same
// way, so values match runtime/pprof's to the unit. The factor depends only
// on the average size and the rate, so the last one is kept: a record's
// allocated and live values share it, and so do records of the same size.
type heapScale struct {
	avg, rate, factor float64
}

func (s *heapScale) apply(count, bytes, rate int64) (int64, int64) {
	if count == 0 || bytes == 0 {
		return 0, 0
	}
	if rate <= 1 {
		return count, bytes
	}
	avg := float64(bytes) / float64(count)
	if avg != s.avg || float64(rate) != s.rate {
		s.avg, s.rate = avg, float64(rate)
		s.factor = 1 / (1 - math.Exp(-avg/float64(rate)))
	}
	return int64(float64(count) * s.factor), int64(float64(bytes) * s.factor)
}
