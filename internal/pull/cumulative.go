package pull

import (
	"fmt"
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
	series      *pprofdelta.Series
	separate    bool // write the snapshots (live heap) as a window of their own
	warnedEmpty bool
}

func newCumulative(kind string, separateLive bool) *cumulative {
	counters := pprofdelta.ContentionCounters
	if kind == window.KindHeap {
		counters = pprofdelta.HeapCounters // inuse_* are a snapshot and pass through
	}
	return &cumulative{kind: kind, series: pprofdelta.NewSeries(counters), separate: separateLive && kind == window.KindHeap}
}

// baseline records p's values as the starting point of every stack.
func (c *cumulative) baseline(p *profile.Profile) { c.series.Baseline(p) }

// windows replaces p's counters by what grew since the previous window and
// returns p as the window [from, until): one, or when the changes and the
// snapshots (inuse_*) are kept apart, a window of each. Samples whose
// values are all zero are left out.
func (c *cumulative) windows(p *profile.Profile, from, until time.Time) ([]window.Window, error) {
	if err := c.series.Next(p); err != nil {
		return nil, err
	}
	parts := []*profile.Profile{p}
	if c.separate {
		changes, snapshots := c.series.Split(p)
		parts = parts[:0]
		for _, q := range []*profile.Profile{changes, snapshots} {
			if q != nil {
				parts = append(parts, q)
			}
		}
	}
	out := make([]window.Window, 0, len(parts))
	for _, q := range parts {
		data, err := c.series.Encode(q, from, until)
		if err != nil {
			return nil, fmt.Errorf("encoding the %s window: %w", c.kind, err)
		}
		out = append(out, window.Window{Name: c.kind, From: from, Until: until, Data: data, SampleTypes: c.series.SampleTypes(q)})
	}
	return out, nil
}

// sampleTypes describes p's sample types, snapshot saying which are.
func sampleTypes(p *profile.Profile, snapshot func(name string) bool) []window.SampleType {
	out := make([]window.SampleType, len(p.SampleType))
	for i, st := range p.SampleType {
		out[i] = window.SampleType{Name: st.Type, Snapshot: snapshot(st.Type)}
	}
	return out
}
