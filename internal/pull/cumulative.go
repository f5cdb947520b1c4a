package pull

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta/pprofdelta"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// cumulative turns one kind's cumulative profiles (heap, mutex, block) into
// per-window deltas through a pprofdelta.Series, the one owner of that
// bookkeeping for parsed profiles.
type cumulative struct {
	kind        string
	counters    [2]string // sample types that are cumulative and become deltas
	series      *pprofdelta.Series
	warnedEmpty bool
}

func newCumulative(kind string) *cumulative {
	counters := pprofdelta.ContentionCounters
	if kind == window.KindHeap {
		counters = pprofdelta.HeapCounters // inuse_* are a snapshot and pass through
	}
	return &cumulative{kind: kind, counters: counters, series: pprofdelta.NewSeries(counters)}
}

// baseline records p's values as the starting point of every stack.
func (c *cumulative) baseline(p *profile.Profile) { c.series.Baseline(p) }

// window replaces p's counters by what grew since the previous window and
// returns p as gzipped pprof covering [from, until), with its sample types:
// the counters are changes over the window, the rest (inuse_*) snapshots.
// Samples whose values are all zero are left out.
func (c *cumulative) window(p *profile.Profile, from, until time.Time) ([]byte, []window.SampleType, error) {
	if err := c.series.Next(p); err != nil {
		return nil, nil, err
	}
	data, err := pprofdelta.Encode(p, from, until)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the %s window: %w", c.kind, err)
	}
	return data, sampleTypes(p, func(name string) bool { return !slices.Contains(c.counters[:], name) }), nil
}

// sampleTypes describes p's sample types, snapshot saying which are.
func sampleTypes(p *profile.Profile, snapshot func(name string) bool) []window.SampleType {
	out := make([]window.SampleType, len(p.SampleType))
	for i, st := range p.SampleType {
		out[i] = window.SampleType{Name: st.Type, Snapshot: snapshot(st.Type)}
	}
	return out
}
