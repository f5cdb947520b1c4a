package perf

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/symbolize"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Profile writes the samples taken since the previous call (or Attach) as a
// gzipped pprof CPU profile covering [from, until): sample types
// samples/count and cpu/nanoseconds, one pprof mapping per mapped file with
// its build ID, and a "pid" label on every sample.
func (s *Sampler) Profile(w io.Writer, from, until time.Time) error {
	stacks, err := s.window("Profile")
	if err != nil {
		return err
	}
	b := newProfileBuilder(s.periodNs, from, until)
	b.pidLabel = true
	for k, n := range stacks {
		b.add(k, n)
	}
	if err := b.p.Write(w); err != nil {
		return fmt.Errorf("perf: writing profile: %w", err)
	}
	return nil
}

// window reads the records so far and takes the samples counted since the
// previous window. method names the caller, for the error after Close.
func (s *Sampler) window(method string) (map[stackKey]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("perf: %s called after Close", method)
	}
	s.drain()
	stacks := s.stacks
	s.stacks = make(map[stackKey]int64, len(stacks))
	s.windows++
	if s.cfg.system {
		s.forgetIdleProcesses()
	}
	return stacks, nil
}

// SampleTypes describes the sample types Profile writes, in order: samples
// taken and CPU time, both changes over the window.
func (s *Sampler) SampleTypes() []window.SampleType {
	return []window.SampleType{{Name: "samples"}, {Name: "cpu"}}
}

// A profileBuilder interns locations, functions and mappings into one profile.
type profileBuilder struct {
	p         *profile.Profile
	period    int64
	locations map[locationKey]*profile.Location
	functions map[functionKey]*profile.Function
	mappings  map[*symbolize.Mapping]*profile.Mapping
	refreshed map[*process]bool
	samples   map[sampleKey]*profile.Sample
	pidLabel  bool // label each sample with its process's pid
	labels    map[int]map[string][]string
}

type locationKey struct {
	proc *process
	addr uint64
}

type functionKey struct{ name, file string }

type sampleKey struct {
	proc  *process
	stack string
}

func newProfileBuilder(periodNs int64, from, until time.Time) *profileBuilder {
	return &profileBuilder{
		p: &profile.Profile{
			SampleType: []*profile.ValueType{
				{Type: "samples", Unit: "count"},
				{Type: "cpu", Unit: "nanoseconds"},
			},
			PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
			Period:        periodNs,
			TimeNanos:     from.UnixNano(),
			DurationNanos: until.Sub(from).Nanoseconds(),
		},
		period:    periodNs,
		locations: make(map[locationKey]*profile.Location),
		functions: make(map[functionKey]*profile.Function),
		mappings:  make(map[*symbolize.Mapping]*profile.Mapping),
		refreshed: make(map[*process]bool),
		samples:   make(map[sampleKey]*profile.Sample),
		labels:    make(map[int]map[string][]string),
	}
}

func (b *profileBuilder) add(k stackKey, n int64) {
	stack := k.stack
	if k.top != 0 {
		stack = addFramelessCaller(k.proc.sym, stack, k.top)
	}
	// Keys that differ in top alone often end up the same stack.
	sk := sampleKey{k.proc, stack}
	if smp := b.samples[sk]; smp != nil {
		smp.Value[0] += n
		smp.Value[1] += n * b.period
		return
	}
	locs := make([]*profile.Location, 0, len(stack)/8)
	for i := 0; i+8 <= len(stack); i += 8 {
		addr := binary.NativeEndian.Uint64([]byte(stack[i : i+8]))
		locs = append(locs, b.location(k.proc, addr, i > 0))
	}
	var label map[string][]string
	if b.pidLabel {
		label = b.labels[k.proc.pid]
		if label == nil {
			label = map[string][]string{"pid": {strconv.Itoa(k.proc.pid)}}
			b.labels[k.proc.pid] = label
		}
	}
	smp := &profile.Sample{
		Location: locs,
		Value:    []int64{n, n * b.period},
		Label:    label,
	}
	b.samples[sk] = smp
	b.p.Sample = append(b.p.Sample, smp)
}

// location interns the pprof location of addr in proc. Return addresses
// (every frame but the leaf) are symbolized at addr-1, inside the call.
func (b *profileBuilder) location(proc *process, addr uint64, isReturn bool) *profile.Location {
	key := locationKey{proc, addr}
	if loc, ok := b.locations[key]; ok {
		return loc
	}
	lookup := addr
	if isReturn && lookup > 0 {
		lookup--
	}
	loc := &profile.Location{ID: uint64(len(b.p.Location) + 1), Address: addr}
	b.locations[key] = loc
	b.p.Location = append(b.p.Location, loc)
	m, frames := proc.sym.Lookup(lookup)
	if m == nil && !b.refreshed[proc] {
		// Mapped before the kernel reported mappings to us and after the
		// starting state was read, or a record was lost: read the map
		// again, once, if the process still lives.
		b.refreshed[proc] = true
		if proc.sym.Refresh() == nil {
			m, frames = proc.sym.Lookup(lookup)
		}
	}
	if m == nil {
		return loc
	}
	loc.Mapping = b.mapping(m)
	for _, f := range frames {
		loc.Line = append(loc.Line, profile.Line{Function: b.function(f), Line: int64(f.Line)})
	}
	if len(frames) > 0 {
		loc.Mapping.HasFunctions = true
		if frames[0].File != "" {
			loc.Mapping.HasFilenames, loc.Mapping.HasLineNumbers = true, true
		}
	}
	return loc
}

func (b *profileBuilder) mapping(m *symbolize.Mapping) *profile.Mapping {
	if pm, ok := b.mappings[m]; ok {
		return pm
	}
	pm := &profile.Mapping{
		ID:      uint64(len(b.p.Mapping) + 1),
		Start:   m.Start,
		Limit:   m.Limit,
		Offset:  m.Offset,
		File:    m.Path,
		BuildID: m.BuildID,
	}
	b.mappings[m] = pm
	b.p.Mapping = append(b.p.Mapping, pm)
	return pm
}

func (b *profileBuilder) function(f symbolize.Frame) *profile.Function {
	key := functionKey{f.Function, f.File}
	if fn, ok := b.functions[key]; ok {
		return fn
	}
	fn := &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: f.Function, SystemName: f.Function, Filename: f.File}
	b.functions[key] = fn
	b.p.Function = append(b.p.Function, fn)
	return fn
}

// addFramelessCaller inserts the caller that the kernel's frame-pointer walk
// skips when the sample hit a function that has not (yet) pushed a frame
// pointer: Go's frameless leaf functions, C leaf functions (GCC omits their
// frame pointer even with -fno-omit-frame-pointer), and any function's
// first instruction. The frame pointer then still points at the caller's
// frame, so the walk goes from the leaf to the caller's caller, and the
// caller's return address is the word at the stack pointer (ret).
func addFramelessCaller(maps *symbolize.Process, stack string, ret uint64) string {
	leaf := binary.NativeEndian.Uint64([]byte(stack[:8]))
	// Go's line table says exactly where the frame exists; elsewhere the
	// word is trusted only if the instruction before it calls the leaf's
	// function directly.
	if !maps.ReturnAddressAtSP(leaf) && !maps.CallsInto(ret, leaf) {
		return stack
	}
	out := make([]byte, 0, len(stack)+8)
	out = append(out, stack[:8]...)
	out = binary.NativeEndian.AppendUint64(out, ret)
	return string(append(out, stack[8:]...))
}
