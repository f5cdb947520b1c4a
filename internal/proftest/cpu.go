package proftest

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// CPUFunction is the one function of CPUProfile's samples.
const CPUFunction = "main.busyLoop"

// CPUProfile returns a gzipped CPU profile of the window [from, until)
// shaped and stamped like runtime/pprof's: 30 samples (300ms) in
// CPUFunction, time_nanos the window's start and duration_nanos its length.
func CPUProfile(t testing.TB, from, until time.Time) []byte {
	t.Helper()
	fn := &profile.Function{ID: 1, Name: CPUFunction, SystemName: CPUFunction, Filename: "main.go"}
	loc := &profile.Location{ID: 1, Address: 0x1000, Line: []profile.Line{{Function: fn, Line: 12}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
		Sample:     []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{30, 300_000_000}}},
		Location:   []*profile.Location{loc},
		Function:   []*profile.Function{fn},
		TimeNanos:  from.UnixNano(),

		DurationNanos: until.Sub(from).Nanoseconds(),
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// HasFunction reports whether any sample of p has a frame in a function
// whose name contains name.
func HasFunction(p *profile.Profile, name string) bool {
	for _, s := range p.Sample {
		if stackHas(s, name) {
			return true
		}
	}
	return false
}
