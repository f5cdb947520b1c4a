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
	if err := c.err; err != nil {
		c.err = nil
		return fmt.Errorf("%w (the first window may hold what happened before the profiler started)", err)
	}
	p, err := c.readPprof()
	if err != nil {
		return err
	}
	if err := c.series.Next(p); err != nil {
		return fmt.Errorf("%s profile: %w", c.name, err)
	}
	keepSampleTypes(p, c.keep)
	if !slices.ContainsFunc(c.keep, func(t string) bool { return t != InuseObjects && t != InuseSpace }) {
		from = until // live heap only: a state at the window's end, see stamp
	}
	data, err := pprofdelta.Encode(p, from, until)
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

// keepSampleTypes leaves only the sample types named in keep (all when keep
// names none of p's), and the samples that still have a value other than 0.
func keepSampleTypes(p *profile.Profile, keep []string) {
	var idx []int
	for i, st := range p.SampleType {
		if slices.Contains(keep, st.Type) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 || len(idx) == len(p.SampleType) {
		return
	}
	types := make([]*profile.ValueType, len(idx))
	for j, i := range idx {
		types[j] = p.SampleType[i]
	}
	p.SampleType = types
	kept := p.Sample[:0]
	for _, s := range p.Sample {
		vals := make([]int64, len(idx))
		nonzero := false
		for j, i := range idx {
			vals[j] = s.Value[i]
			nonzero = nonzero || vals[j] != 0
		}
		if nonzero {
			s.Value = vals
			kept = append(kept, s)
		}
	}
	p.Sample = kept
	if !slices.ContainsFunc(types, func(t *profile.ValueType) bool { return t.Type == p.DefaultSampleType }) {
		p.DefaultSampleType = ""
	}
}

// Heap collects the heap profile: allocations (alloc_*) as the change over
// each window, live memory (inuse_*) as a snapshot at the window's end.
type Heap struct {
	c  *cumulativePprof
	gc *heapGC
}

// NewHeap returns a heap collector whose first window holds only what is
// allocated from now on. Unless DisableGCRuns is set it runs a GC first, so
// that allocations made before it are published and left out.
func NewHeap(opts HeapOptions) *Heap {
	h := &Heap{gc: newHeapGC(opts.DisableGCRuns)}
	_, types := pickColumns(opts.SampleTypes, heapTypes[:])
	h.c = newCumulativePprof("heap", pprofdelta.HeapCounters, typeNames(types), nil)
	return h
}

// Collect writes the heap profile of [from, until). It forces a GC first
// unless DisableGCRuns is set or a GC already completed in the window.
func (h *Heap) Collect(w io.Writer, from, until time.Time) error {
	h.gc.beforeRead()
	return h.c.collect(w, from, until)
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
