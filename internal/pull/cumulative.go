package pull

import (
	"fmt"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/delta/pprofdelta"
	"github.com/pyroscope-sdk/pyroscope-go/upload"
)

// cumulative turns one kind's cumulative profiles (heap, mutex, block) into
// per-window deltas through a pprofdelta.Series, the one owner of that
// bookkeeping for parsed profiles.
type cumulative struct {
	kind        string
	series      *pprofdelta.Series
	warnedEmpty bool
}

func newCumulative(kind string) *cumulative {
	counters := pprofdelta.ContentionCounters
	if kind == upload.KindHeap {
		counters = pprofdelta.HeapCounters // inuse_* are a snapshot and pass through
	}
	return &cumulative{kind: kind, series: pprofdelta.NewSeries(counters)}
}

// baseline records p's values as the starting point of every stack.
func (c *cumulative) baseline(p *profile.Profile) { c.series.Baseline(p) }

// window replaces p's counters by what grew since the previous window and
// returns p as gzipped pprof covering [from, until). Samples whose values
// are all zero are left out.
func (c *cumulative) window(p *profile.Profile, from, until time.Time) ([]byte, error) {
	if err := c.series.Next(p); err != nil {
		return nil, err
	}
	data, err := pprofdelta.Encode(p, from, until)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s window: %w", c.kind, err)
	}
	return data, nil
}
