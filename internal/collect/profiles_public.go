//go:build !go1.25 || go1.28 || pyroscope_publicapi

package collect

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta/pprofdelta"
	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

// This file is built instead of the runtime mirrors (runtime_*.go) on a Go
// release they were not checked against, and with the pyroscope_publicapi
// build tag. It reads the heap, mutex, block and goroutine profiles through
// runtime/pprof's writers, public and stable API, and turns the cumulative
// ones into exact deltas with pprofdelta. Windows hold the same values as on
// the fast path; each costs more, since runtime/pprof symbolizes and encodes
// every record and the profile is parsed back.

// Path says how the heap, mutex, block and goroutine profiles are read, and
// why, for the line Start logs.
func Path() string {
	why := "the program was built with the pyroscope_publicapi tag"
	if !checkedRelease(runtime.Version()) {
		why = "the program was built with " + runtime.Version() +
			", newer than the Go releases this SDK's runtime mirrors were checked against (1.25 to 1.27)"
	}
	return "heap, mutex, block and goroutine profiles are read through runtime/pprof's public API, still as exact deltas but at a higher cost per window: " + why
}

// checkedRelease reports whether v (runtime.Version()) is a release the
// runtime mirrors were checked against.
func checkedRelease(v string) bool {
	for _, r := range []string{"go1.25", "go1.26", "go1.27"} {
		if v == r || strings.HasPrefix(v, r+".") || strings.HasPrefix(v, r+"rc") {
			return true
		}
	}
	return false
}

// readPprof parses runtime/pprof's profile of the given name, reusing buf.
func readPprof(name string, buf *bytes.Buffer) (*profile.Profile, error) {
	buf.Reset()
	if err := pprof.Lookup(name).WriteTo(buf, 0); err != nil {
		return nil, fmt.Errorf("runtime/pprof %s profile: %w", name, err)
	}
	p, err := profile.Parse(buf)
	if err != nil {
		return nil, fmt.Errorf("parsing runtime/pprof's %s profile: %w", name, err)
	}
	return p, nil
}

// cumulativePprof is the state shared by the heap, mutex and block
// collectors of this file.
type cumulativePprof struct {
	name   string // runtime/pprof's profile name
	keep   []string
	series *pprofdelta.Series
	buf    bytes.Buffer
	err    error // of the baseline reading, reported by the first Collect
	drop   func(*profile.Sample) bool
}

func newCumulativePprof(name string, counters [2]string, keep []string, drop func(*profile.Sample) bool) *cumulativePprof {
	c := &cumulativePprof{name: name, keep: keep, drop: drop, series: pprofdelta.NewSeries(counters)}
	p, err := c.readPprof()
	if err != nil {
		c.err = err
		return c
	}
	c.series.Baseline(p)
	return c
}

func (c *cumulativePprof) collect(w io.Writer, from, until time.Time) error {
	p, err := c.next()
	if err != nil {
		return err
	}
	return c.encode(w, pprofdelta.Select(p, c.keep), from, until)
}

// next reads the profile and turns it into the change since the last
// reading.
func (c *cumulativePprof) next() (*profile.Profile, error) {
	if err := c.err; err != nil {
		c.err = nil
		return nil, fmt.Errorf("%w (the first window may hold what happened before the profiler started)", err)
	}
	p, err := c.readPprof()
	if err != nil {
		return nil, err
	}
	if err := c.series.Next(p); err != nil {
		return nil, fmt.Errorf("%s profile: %w", c.name, err)
	}
	return p, nil
}

// encode writes p as the window [from, until), stamped as a change or, for
// live heap only, as a snapshot (see stamp).
func (c *cumulativePprof) encode(w io.Writer, p *profile.Profile, from, until time.Time) error {
	data, err := c.series.Encode(p, from, until)
	if err != nil {
		return fmt.Errorf("%s profile: %w", c.name, err)
	}
	_, err = w.Write(data)
	return err
}

func (c *cumulativePprof) readPprof() (*profile.Profile, error) {
	p, err := readPprof(c.name, &c.buf)
	if err == nil && c.drop != nil {
		p.Sample = slices.DeleteFunc(p.Sample, c.drop)
	}
	return p, err
}

// Heap collects the heap profile: allocations (alloc_*) as the change over
// each window, live memory (inuse_*) as a snapshot at the window's end.
type Heap struct {
	c  *cumulativePprof
	gc *heapGC
	// parts are the sample types of the profiles one reading is written
	// as: one, or with HeapOptions.SeparateLive the allocations and then
	// the live memory, whose profile waits in liveData for Live's Collect.
	parts    [][]string
	live     heapLivePending
	liveData []byte
}

// NewHeap returns a heap collector whose first window holds only what is
// allocated from now on. Unless DisableGCRuns is set it runs a GC first, so
// that allocations made before it are published and left out.
func NewHeap(opts HeapOptions) *Heap {
	h := &Heap{gc: newHeapGC(opts.DisableGCRuns)}
	columns, types := pickColumns(opts.SampleTypes, heapTypes[:])
	names := typeNames(types)
	for _, cut := range heapParts(columns, opts.SeparateLive) {
		h.parts = append(h.parts, names[cut[0]:cut[1]])
	}
	h.c = newCumulativePprof("heap", pprofdelta.HeapCounters, names, nil)
	return h
}

// Collect writes the heap profile of [from, until). It forces a GC first
// unless DisableGCRuns is set or a GC already completed in the window.
func (h *Heap) Collect(w io.Writer, from, until time.Time) error {
	h.live.reset()
	h.gc.beforeRead()
	if !h.separate() {
		return h.c.collect(w, from, until)
	}
	p, err := h.c.next()
	if err != nil {
		return err
	}
	var live bytes.Buffer
	if err := h.c.encode(&live, pprofdelta.Select(p, h.parts[1]), from, until); err != nil {
		return err
	}
	if err := h.c.encode(w, pprofdelta.Select(p, h.parts[0]), from, until); err != nil {
		return err
	}
	h.liveData = live.Bytes()
	h.live.set(from, until)
	return nil
}

// collectLive writes the live part of the reading the latest Collect made,
// which must be of the window [from, until).
func (h *Heap) collectLive(w io.Writer, from, until time.Time) error {
	if err := h.live.take(from, until); err != nil {
		return err
	}
	data := h.liveData
	h.liveData = nil
	_, err := w.Write(data)
	return err
}

// Close releases nothing: the heap collector changes no runtime setting.
func (h *Heap) Close() error { return nil }

// Contention collects the mutex or the block profile as the change over
// each window: how many contention events and how long they waited.
type Contention struct {
	c       *cumulativePprof
	restore func()
}

func newContention(name string, opts ContentionOptions) *Contention {
	_, types := pickColumns(opts.SampleTypes, contentionTypes[:])
	var drop func(*profile.Sample) bool
	if name == "block" && len(opts.Own) > 0 {
		own := map[string]bool{}
		for _, pc := range opts.Own {
			if f := runtime.FuncForPC(pc); f != nil {
				own[f.Name()] = true
			}
		}
		drop = func(s *profile.Sample) bool { return inFunctions(s, own) }
	}
	c := newCumulativePprof(name, pprofdelta.ContentionCounters, typeNames(types), drop)
	return &Contention{c: c}
}

// Collect writes the contention that happened in [from, until).
func (c *Contention) Collect(w io.Writer, from, until time.Time) error {
	return c.c.collect(w, from, until)
}

// inFunctions reports whether a frame of s is in one of the named functions.
func inFunctions(s *profile.Sample, names map[string]bool) bool {
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function != nil && names[ln.Function.Name] {
				return true
			}
		}
	}
	return false
}

func typeNames(types []pprofenc.ValueType) []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Type
	}
	return names
}

// Goroutines collects a snapshot of all goroutines with their pprof labels:
// runtime/pprof's goroutine profile, as it writes it.
type Goroutines struct{}

// NewGoroutines returns a goroutine profile collector.
func NewGoroutines() *Goroutines { return &Goroutines{} }

// Collect writes the goroutines alive at the time of the call.
func (g *Goroutines) Collect(w io.Writer, from, until time.Time) error {
	if err := pprof.Lookup("goroutine").WriteTo(w, 0); err != nil {
		return fmt.Errorf("goroutine profile: %w", err)
	}
	return nil
}

// Close releases nothing: the goroutine collector changes no runtime setting.
func (g *Goroutines) Close() error { return nil }
