package collect

import (
	"bytes"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// collectOnce runs one Collect and parses what it wrote.
func collectOnce(t *testing.T, c Collector, from, until time.Time) *profile.Profile {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Collect(&buf, from, until); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatalf("parsing our profile: %v", err)
	}
	return p
}

// runtimeProfile returns runtime/pprof's own profile of the given name.
func runtimeProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup(name).WriteTo(&buf, 0); err != nil {
		t.Fatalf("runtime/pprof %s: %v", name, err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatalf("parsing runtime/pprof %s: %v", name, err)
	}
	return p
}

// hasFunc reports whether any frame of the sample is in a function whose
// name ends with suffix.
func hasFunc(s *profile.Sample, suffix string) bool {
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function != nil && strings.HasSuffix(ln.Function.Name, suffix) {
				return true
			}
		}
	}
	return false
}

// hasFuncs reports whether the sample passes through every suffix.
func hasFuncs(s *profile.Sample, suffixes []string) bool {
	for _, suffix := range suffixes {
		if !hasFunc(s, suffix) {
			return false
		}
	}
	return true
}

// sumFor sums, per sample type name, the values of samples that pass
// through functions whose names end with each of suffixes.
func sumFor(p *profile.Profile, suffixes ...string) map[string]int64 {
	return sumWhere(p, func(*profile.Sample) bool { return true }, suffixes)
}

// sumForSize is sumFor over the heap samples of objects of the given size
// (their "bytes" label).
func sumForSize(p *profile.Profile, size int64, suffixes ...string) map[string]int64 {
	return sumWhere(p, func(s *profile.Sample) bool {
		return len(s.NumLabel["bytes"]) == 1 && s.NumLabel["bytes"][0] == size
	}, suffixes)
}

func sumWhere(p *profile.Profile, keep func(*profile.Sample) bool, suffixes []string) map[string]int64 {
	out := map[string]int64{}
	for _, s := range p.Sample {
		if !keep(s) || !hasFuncs(s, suffixes) {
			continue
		}
		for i, st := range p.SampleType {
			out[st.Type] += s.Value[i]
		}
	}
	return out
}

// frameDepth returns the largest number of frames (lines, inlined ones
// included) of a sample passing through suffix.
func frameDepth(p *profile.Profile, suffix string) int {
	depth := 0
	for _, s := range p.Sample {
		if !hasFunc(s, suffix) {
			continue
		}
		n := 0
		for _, loc := range s.Location {
			n += len(loc.Line)
		}
		depth = max(depth, n)
	}
	return depth
}

// noNegative fails the test if any sample value is negative.
func noNegative(t *testing.T, p *profile.Profile) {
	t.Helper()
	for _, s := range p.Sample {
		for i, v := range s.Value {
			if v < 0 {
				t.Fatalf("negative %s value %d", p.SampleType[i].Type, v)
			}
		}
	}
}
