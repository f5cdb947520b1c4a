package pull

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

// cumulative turns one kind's cumulative profiles (heap, mutex, block) into
// per-window deltas. The per-stack state is a delta.Table, the SDK's one
// owner of that bookkeeping.
type cumulative struct {
	kind        string
	counters    [2]string // sample types that are cumulative and become deltas
	table       *delta.Table
	warnedEmpty bool
}

// keepWindows is how long a stack absent from the program's profile stays in
// the hot table. The runtime never forgets a stack, so this matters only
// after the program restarts under the same URL.
const keepWindows = 4

func newCumulative(kind string) *cumulative {
	c := &cumulative{kind: kind, table: delta.NewTable(keepWindows)}
	if kind == window.KindHeap {
		// inuse_objects and inuse_space are a snapshot and pass through.
		c.counters = [2]string{"alloc_objects", "alloc_space"}
	} else {
		c.counters = [2]string{"contentions", "delay"}
	}
	return c
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
func (c *cumulative) indexes(p *profile.Profile) ([2]int, error) {
	var idx [2]int
	for i, name := range c.counters {
		idx[i] = slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == name })
		if idx[i] < 0 {
			return idx, fmt.Errorf("profile has no %q sample type", name)
		}
	}
	return idx, nil
}

// baseline records p's values as the starting point of every stack.
func (c *cumulative) baseline(p *profile.Profile) {
	idx, err := c.indexes(p)
	if err != nil {
		return // an empty profile may lack sample types; nothing to remember
	}
	for _, g := range groups(p) {
		c.table.Baseline(g.stack, g.tag, delta.Values{g.values[idx[0]], g.values[idx[1]]})
	}
}

// window replaces p's counters by what grew since the previous window and
// returns p as gzipped pprof covering [from, until), with its sample types:
// the counters are changes over the window, the rest (inuse_*) snapshots.
// Samples whose values are all zero are left out.
func (c *cumulative) window(p *profile.Profile, from, until time.Time) ([]byte, []window.SampleType, error) {
	idx, err := c.indexes(p)
	if err != nil {
		return nil, nil, err
	}
	var samples []*profile.Sample
	for _, g := range groups(p) {
		cum := delta.Values{g.values[idx[0]], g.values[idx[1]]}
		g.values[idx[0]], g.values[idx[1]] = 0, 0
		// A heap stack with live memory is written even when it allocated
		// nothing new: its in-use values are a snapshot.
		keep := slices.ContainsFunc(g.values, func(v int64) bool { return v != 0 })
		if e, _ := c.table.Find(g.stack, g.tag, cum, keep); e != nil {
			c.table.Touch(e)
			d := e.Delta(cum)
			g.values[idx[0]], g.values[idx[1]] = d[0], d[1]
		}
		if !slices.ContainsFunc(g.values, func(v int64) bool { return v != 0 }) {
			continue
		}
		s := *g.sample
		s.Value = g.values
		samples = append(samples, &s)
	}
	c.table.EndWindow()
	p.Sample = samples
	p.TimeNanos = from.UnixNano()
	p.DurationNanos = until.Sub(from).Nanoseconds()
	p = p.Compact()
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil { // Write gzips
		return nil, nil, fmt.Errorf("encoding the %s window: %w", c.kind, err)
	}
	return buf.Bytes(), sampleTypes(p, func(name string) bool { return !slices.Contains(c.counters[:], name) }), nil
}

// sampleTypes describes p's sample types, snapshot saying which are.
func sampleTypes(p *profile.Profile, snapshot func(name string) bool) []window.SampleType {
	out := make([]window.SampleType, len(p.SampleType))
	for i, st := range p.SampleType {
		out[i] = window.SampleType{Name: st.Type, Snapshot: snapshot(st.Type)}
	}
	return out
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
	for _, k := range sortedKeys(s.Label) {
		fmt.Fprintf(h, "%s=%q;", k, s.Label[k])
	}
	for _, k := range sortedKeys(s.NumLabel) {
		fmt.Fprintf(h, "%s#%v;", k, s.NumLabel[k])
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
