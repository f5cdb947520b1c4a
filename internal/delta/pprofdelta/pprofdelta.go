// Package pprofdelta turns successive readings of a cumulative pprof profile
// (heap, mutex or block, as runtime/pprof and net/http/pprof write them) into
// exact per-window deltas, keeping its per-stack state in a delta.Table. The
// pprof puller uses it for profiles read over HTTP, and the SDK for profiles
// read through runtime/pprof on a Go release whose internals it was not
// checked against. It is a package of its own so that programs that never
// parse pprof do not link the parser.
package pprofdelta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Sample types whose values are cumulative, by family. Every other sample
// type of these profiles is a snapshot and passes through unchanged.
var (
	HeapCounters       = [2]string{"alloc_objects", "alloc_space"}
	ContentionCounters = [2]string{"contentions", "delay"}
)

// keepWindows is how long a stack absent from the readings stays in the hot
// table. The runtime never forgets a stack, so this matters only when the
// profiled program restarts under the same address.
const keepWindows = 4

// A Series holds the state of one profile read window after window. It is
// not safe for concurrent use.
type Series struct {
	counters [2]string
	table    *delta.Table
}

// NewSeries returns a Series whose counters (HeapCounters or
// ContentionCounters) become deltas.
func NewSeries(counters [2]string) *Series {
	return &Series{counters: counters, table: delta.NewTable(keepWindows)}
}

// group is the samples of a profile that share a stack and labels, summed:
// the runtime may report one stack in several records.
type group struct {
	stack  []uintptr
	tag    int64
	sample *profile.Sample // the first sample, whose locations and labels are kept
	values []int64
}

// indexes returns where the counters sit in p's sample values.
func (s *Series) indexes(p *profile.Profile) ([2]int, error) {
	var idx [2]int
	for i, name := range s.counters {
		idx[i] = slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == name })
		if idx[i] < 0 {
			return idx, fmt.Errorf("profile has no %q sample type", name)
		}
	}
	return idx, nil
}

// Baseline records p's values as the starting point of every stack: the
// first Next then holds only what happened after p was read.
func (s *Series) Baseline(p *profile.Profile) {
	idx, err := s.indexes(p)
	if err != nil {
		return // an empty profile may lack sample types; nothing to remember
	}
	for _, g := range groups(p) {
		s.table.Baseline(g.stack, g.tag, delta.Values{g.values[idx[0]], g.values[idx[1]]})
	}
}

// Next replaces p's counters, in place, by what grew since the previous
// reading (or Baseline), and leaves out samples whose values are then all
// zero. Samples that share a stack and labels are merged into one.
func (s *Series) Next(p *profile.Profile) error {
	idx, err := s.indexes(p)
	if err != nil {
		return err
	}
	var samples []*profile.Sample
	for _, g := range groups(p) {
		cum := delta.Values{g.values[idx[0]], g.values[idx[1]]}
		g.values[idx[0]], g.values[idx[1]] = 0, 0
		// A heap stack with live memory is written even when it allocated
		// nothing new: its in-use values are a snapshot.
		keep := slices.ContainsFunc(g.values, func(v int64) bool { return v != 0 })
		if e, _ := s.table.Find(g.stack, g.tag, cum, keep); e != nil {
			s.table.Touch(e)
			d := e.Delta(cum)
			g.values[idx[0]], g.values[idx[1]] = d[0], d[1]
		}
		if !slices.ContainsFunc(g.values, func(v int64) bool { return v != 0 }) {
			continue
		}
		smp := *g.sample
		smp.Value = g.values
		samples = append(samples, &smp)
	}
	s.table.EndWindow()
	p.Sample = samples
	return nil
}

// Encode returns p as gzipped pprof of the window [from, until), without the
// locations and functions no sample uses any more. A profile holding one of
// the counters is a change over the window and carries its start and
// length; one of snapshots only (live heap alone) is stamped at the window's
// end with no duration, as runtime/pprof stamps its snapshots: Parca takes
// any duration to mean a change.
func (s *Series) Encode(p *profile.Profile, from, until time.Time) ([]byte, error) {
	if !slices.ContainsFunc(p.SampleType, s.isCounter) {
		from = until
	}
	p.TimeNanos = from.UnixNano()
	p.DurationNanos = until.Sub(from).Nanoseconds()
	prune(p)
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil { // Write gzips
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Series) isCounter(st *profile.ValueType) bool {
	return slices.Contains(s.counters[:], st.Type)
}

// SampleTypes describes p's sample types, in order: the counters are
// changes over the window, every other type a snapshot at its end.
func (s *Series) SampleTypes(p *profile.Profile) []window.SampleType {
	out := make([]window.SampleType, len(p.SampleType))
	for i, st := range p.SampleType {
		out[i] = window.SampleType{Name: st.Type, Snapshot: !s.isCounter(st)}
	}
	return out
}

// Split cuts p, after Next, into the profile of its counters (changes over
// the window) and that of its other sample types (snapshots at its end),
// for a backend that takes each profile as one or the other (Parca). Either
// is nil when p has no such type, and the other is then p itself.
func (s *Series) Split(p *profile.Profile) (changes, snapshots *profile.Profile) {
	var counters, others []string
	for _, st := range p.SampleType {
		if s.isCounter(st) {
			counters = append(counters, st.Type)
		} else {
			others = append(others, st.Type)
		}
	}
	if len(counters) > 0 {
		changes = Select(p, counters)
	}
	if len(others) > 0 {
		snapshots = Select(p, others)
	}
	return changes, snapshots
}

// Select returns p with only the sample types named in names, in p's order,
// and only the samples that still have a value other than 0; p itself when
// names holds all of p's sample types or none of them. p is not changed:
// the result has samples and location and function lists of its own
// (sharing their locations and functions), so that each can be encoded.
func Select(p *profile.Profile, names []string) *profile.Profile {
	var idx []int
	for i, st := range p.SampleType {
		if slices.Contains(names, st.Type) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 || len(idx) == len(p.SampleType) {
		return p
	}
	q := &profile.Profile{
		SampleType: make([]*profile.ValueType, len(idx)),
		Sample:     make([]*profile.Sample, 0, len(p.Sample)),
		Mapping:    p.Mapping,
		Location:   slices.Clone(p.Location),
		Function:   slices.Clone(p.Function),
		Comments:   p.Comments,
		DocURL:     p.DocURL,
		DropFrames: p.DropFrames,
		KeepFrames: p.KeepFrames,
		PeriodType: p.PeriodType,
		Period:     p.Period,
		TimeNanos:  p.TimeNanos,

		DurationNanos: p.DurationNanos,
	}
	for j, i := range idx {
		q.SampleType[j] = p.SampleType[i]
		if p.SampleType[i].Type == p.DefaultSampleType {
			q.DefaultSampleType = p.DefaultSampleType
		}
	}
	for _, s := range p.Sample {
		values := make([]int64, len(idx))
		nonzero := false
		for j, i := range idx {
			values[j] = s.Value[i]
			nonzero = nonzero || values[j] != 0
		}
		if nonzero {
			c := *s
			c.Value = values
			q.Sample = append(q.Sample, &c)
		}
	}
	return q
}

// prune drops the locations and functions no sample uses and numbers those
// left 1..n, as Parca requires of IDs. It is what profile.Compact would
// leave, less its merge of samples (Next already merged them) at a fraction
// of the cost.
func prune(p *profile.Profile) {
	usedLoc := make(map[*profile.Location]bool, len(p.Location))
	for _, s := range p.Sample {
		for _, l := range s.Location {
			usedLoc[l] = true
		}
	}
	usedFn := make(map[*profile.Function]bool, len(p.Function))
	p.Location = slices.DeleteFunc(p.Location, func(l *profile.Location) bool {
		if !usedLoc[l] {
			return true
		}
		for _, ln := range l.Line {
			usedFn[ln.Function] = true
		}
		return false
	})
	p.Function = slices.DeleteFunc(p.Function, func(f *profile.Function) bool { return !usedFn[f] })
	for i, l := range p.Location {
		l.ID = uint64(i) + 1
	}
	for i, f := range p.Function {
		f.ID = uint64(i) + 1
	}
}

// groups sums p's samples by stack and labels, in the order they first
// appear.
func groups(p *profile.Profile) []*group {
	byKey := map[string]*group{}
	var out []*group
	var key []byte
	for _, s := range p.Sample {
		stack := stackOf(s)
		tag := labelHash(s)
		key = key[:0]
		for _, pc := range stack {
			key = binary.LittleEndian.AppendUint64(key, uint64(pc))
		}
		key = binary.LittleEndian.AppendUint64(key, uint64(tag))
		if g := byKey[string(key)]; g != nil {
			for i, v := range s.Value {
				g.values[i] += v
			}
			continue
		}
		g := &group{stack: stack, tag: tag, sample: s, values: slices.Clone(s.Value)}
		byKey[string(key)] = g
		out = append(out, g)
	}
	return out
}

// stackOf identifies a sample's stack by its locations' addresses, which are
// stable for the life of the program. A location without an address (not
// written by the Go runtime, but allowed by the format) is identified by its
// functions and lines instead.
func stackOf(s *profile.Sample) []uintptr {
	stack := make([]uintptr, len(s.Location))
	for i, loc := range s.Location {
		if loc.Address != 0 {
			stack[i] = uintptr(loc.Address)
			continue
		}
		h := fnv.New64a()
		for _, l := range loc.Line {
			if l.Function != nil {
				h.Write([]byte(l.Function.Name))
			}
			h.Write(binary.LittleEndian.AppendUint64(nil, uint64(l.Line)))
		}
		stack[i] = uintptr(h.Sum64())
	}
	return stack
}

// labelHash tells apart samples that share a stack but not their labels,
// such as heap records of different object sizes ("bytes").
func labelHash(s *profile.Sample) int64 {
	if len(s.Label) == 0 && len(s.NumLabel) == 0 {
		return 0
	}
	h := fnv.New64a()
	var buf []byte
	for _, k := range sortedKeys(s.Label) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
		buf = append(buf, k...)
		for _, v := range s.Label[k] {
			buf = binary.AppendUvarint(buf, uint64(len(v)))
			buf = append(buf, v...)
		}
		h.Write(buf)
	}
	for _, k := range sortedKeys(s.NumLabel) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
		buf = append(buf, k...)
		for _, v := range s.NumLabel[k] {
			buf = binary.AppendVarint(buf, v)
		}
		// Units tell apart values that are equal as numbers.
		for _, u := range s.NumUnit[k] {
			buf = append(buf, u...)
			buf = append(buf, 0)
		}
		h.Write(buf)
	}
	return int64(h.Sum64())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
