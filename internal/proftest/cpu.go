package proftest

import (
	"bytes"
	"testing"

	"github.com/google/pprof/profile"
)

// CPUFunction is the one function of CPUProfile's samples.
const CPUFunction = "main.busyLoop"

// CPUProfile returns a gzipped CPU profile shaped like runtime/pprof's: 30
// samples (300ms) in CPUFunction, and no time_nanos or duration_nanos, which
// the backends must add from the window's bounds.
func CPUProfile(t testing.TB) []byte {
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
