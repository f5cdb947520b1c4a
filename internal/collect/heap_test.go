package collect

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// keep holds allocations alive so in-use values can be compared.
var keep [][]byte

//go:noinline
func allocKnown(n, size int) {
	for range n {
		keep = append(keep, make([]byte, size))
	}
}

//go:noinline
func allocDeep(depth int) {
	if depth > 0 {
		allocDeep(depth - 1)
		return
	}
	for range 64 {
		keep = append(keep, make([]byte, 4096))
	}
}

// withMemProfileRate samples every rate bytes for the test's duration.
func withMemProfileRate(t *testing.T, rate int) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = rate
	t.Cleanup(func() { runtime.MemProfileRate = old; keep = nil })
}

func TestHeapWindowMatchesPprof(t *testing.T) {
	withMemProfileRate(t, 4096)
	allocKnown(100, 1024) // before the collector: must not show up
	h := NewHeap(HeapOptions{})
	before := runtimeProfile(t, "heap")

	const n, size = 20000, 1024
	allocKnown(n, size)
	runtime.GC() // publish; the collector sees a GC ran and does not force one
	t0 := time.Unix(1700000000, 0)
	ours := collectOnce(t, h, t0, t0.Add(15*time.Second))
	after := runtimeProfile(t, "heap")
	noNegative(t, ours)

	got := sumFor(ours, ".allocKnown", ".TestHeapWindowMatchesPprof")
	want := sumFor(after, ".allocKnown", ".TestHeapWindowMatchesPprof")
	old := sumFor(before, ".allocKnown", ".TestHeapWindowMatchesPprof")
	for _, typ := range []string{AllocObjects, AllocSpace} {
		if got[typ] != want[typ]-old[typ] {
			t.Errorf("%s of allocKnown: ours %d, runtime/pprof change %d (%d - %d)", typ, got[typ], want[typ]-old[typ], want[typ], old[typ])
		}
	}
	for _, typ := range []string{InuseObjects, InuseSpace} {
		if got[typ] != want[typ] {
			t.Errorf("%s of allocKnown: ours %d, runtime/pprof %d", typ, got[typ], want[typ])
		}
	}
	// Sampling error: ~4400 samples, so 15% is many standard deviations.
	// Only the 1 KiB objects: the growth of keep, allocated in the same
	// stack, adds about 5% of other sizes.
	v := sumForSize(ours, size, ".allocKnown", ".TestHeapWindowMatchesPprof")[AllocSpace]
	t.Logf("alloc_space of allocKnown's 1 KiB objects: %d, %.3f of what it allocated", v, float64(v)/(n*size))
	if v < n*size*85/100 || v > n*size*115/100 {
		t.Errorf("alloc_space of allocKnown = %d, want about %d", v, n*size)
	}
	if ours.TimeNanos != t0.UnixNano() || ours.DurationNanos != (15*time.Second).Nanoseconds() {
		t.Errorf("time %d duration %d, want %d and 15s", ours.TimeNanos, ours.DurationNanos, t0.UnixNano())
	}
	checkHeader(t, ours, after)
}

// checkHeader compares the sample types, period and main mapping with
// runtime/pprof's.
func checkHeader(t *testing.T, ours, theirs *profile.Profile) {
	t.Helper()
	if len(ours.SampleType) != len(theirs.SampleType) {
		t.Fatalf("sample types %v, runtime/pprof %v", ours.SampleType, theirs.SampleType)
	}
	for i := range ours.SampleType {
		if *ours.SampleType[i] != *theirs.SampleType[i] {
			t.Errorf("sample type %d = %v, runtime/pprof %v", i, ours.SampleType[i], theirs.SampleType[i])
		}
	}
	if *ours.PeriodType != *theirs.PeriodType || ours.Period != theirs.Period {
		t.Errorf("period %v %d, runtime/pprof %v %d", ours.PeriodType, ours.Period, theirs.PeriodType, theirs.Period)
	}
	if len(ours.Mapping) == 0 || len(theirs.Mapping) == 0 {
		t.Fatalf("mappings: ours %d, runtime/pprof %d", len(ours.Mapping), len(theirs.Mapping))
	}
	om, tm := ours.Mapping[0], theirs.Mapping[0]
	if om.File != tm.File || om.BuildID != tm.BuildID || om.Start != tm.Start || om.Limit != tm.Limit || !om.HasFunctions {
		t.Errorf("main mapping %+v, runtime/pprof %+v", om, tm)
	}
}

// TestRuntimeRecordsMatchPprof guards the go:linkname'd runtime functions:
// for the same live objects our snapshot and runtime/pprof's agree on the
// values and on every frame's function, file, line and start line.
func TestRuntimeRecordsMatchPprof(t *testing.T) {
	withMemProfileRate(t, 1)
	h := NewHeap(HeapOptions{SampleTypes: []string{InuseObjects, InuseSpace}})
	allocKnown(300, 200)
	runtime.GC()
	ours := collectOnce(t, h, time.Now(), time.Now())
	theirs := runtimeProfile(t, "heap")
	if len(ours.SampleType) != 2 || ours.SampleType[0].Type != InuseObjects {
		t.Fatalf("sample types %v, want only inuse_objects and inuse_space", ours.SampleType)
	}
	got := frames(ours, ".allocKnown", ".TestRuntimeRecordsMatchPprof")
	want := frames(theirs, ".allocKnown", ".TestRuntimeRecordsMatchPprof")
	if len(got) == 0 || !slices.Equal(got, want) {
		t.Fatalf("frames of allocKnown:\nours    %q\npprof   %q", got, want)
	}
	if o, p := sumFor(ours, ".allocKnown", ".TestRuntimeRecordsMatchPprof")[InuseObjects], sumFor(theirs, ".allocKnown", ".TestRuntimeRecordsMatchPprof")[InuseObjects]; o != p || o < 300 {
		t.Fatalf("inuse_objects of allocKnown: ours %d, runtime/pprof %d, want 300 or more", o, p)
	}
}

// frames renders the deepest stack through all suffixes as function, file, line
// and start line, leaf first.
func frames(p *profile.Profile, suffixes ...string) []string {
	var out []string
	for _, s := range p.Sample {
		if !hasFuncs(s, suffixes) {
			continue
		}
		var f []string
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				f = append(f, ln.Function.Name+" "+ln.Function.Filename+" "+itoa(ln.Line)+" "+itoa(ln.Function.StartLine))
			}
		}
		if len(f) > len(out) {
			out = f
		}
	}
	return out
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestHeapDeepStack(t *testing.T) {
	withMemProfileRate(t, 1)
	h := NewHeap(HeapOptions{})
	allocDeep(200)
	runtime.GC()
	ours := collectOnce(t, h, time.Now(), time.Now())
	theirs := runtimeProfile(t, "heap")
	got, want := frameDepth(ours, ".allocDeep"), frameDepth(theirs, ".allocDeep")
	t.Logf("allocDeep frames: ours %d, runtime/pprof %d", got, want)
	if got != want || got < 100 {
		t.Fatalf("deepest allocDeep stack: ours %d frames, runtime/pprof %d (want equal and above the legacy 32)", got, want)
	}
}

func TestHeapWindowsSumToCumulativeChange(t *testing.T) {
	withMemProfileRate(t, 2048)
	h := NewHeap(HeapOptions{})
	before := runtimeProfile(t, "heap")
	total := map[string]int64{}
	t0 := time.Now()
	for i := range 6 {
		allocKnown(1000*(i+1), 512)
		if i%2 == 0 {
			runtime.GC()
		}
		p := collectOnce(t, h, t0, t0.Add(time.Second))
		noNegative(t, p)
		for k, v := range sumFor(p, ".allocKnown", ".TestHeapWindowsSumToCumulativeChange") {
			total[k] += v
		}
	}
	runtime.GC()
	p := collectOnce(t, h, t0, t0.Add(time.Second))
	for k, v := range sumFor(p, ".allocKnown", ".TestHeapWindowsSumToCumulativeChange") {
		total[k] += v
	}
	if !byPosition(h) {
		t.Error("the heap table fell back to hashing: the runtime's listing was not append-only")
	}
	after := runtimeProfile(t, "heap")
	for _, typ := range []string{AllocObjects, AllocSpace} {
		want := sumFor(after, ".allocKnown", ".TestHeapWindowsSumToCumulativeChange")[typ] - sumFor(before, ".allocKnown", ".TestHeapWindowsSumToCumulativeChange")[typ]
		if total[typ] != want || want == 0 {
			t.Errorf("sum of windows' %s = %d, runtime/pprof change %d", typ, total[typ], want)
		}
	}
}

// With SeparateLive, one reading is written as two profiles: the
// allocations, a change over the window, and the live memory, a snapshot at
// its end. Together they hold what the whole heap profile of the same
// reading holds, each value in one of them only.
func TestHeapSeparateLiveSplitsOneReading(t *testing.T) {
	withMemProfileRate(t, 4096)
	h := NewHeap(HeapOptions{SeparateLive: true})
	whole := NewHeap(HeapOptions{})
	live := h.Live()
	if live == nil {
		t.Fatal("Live() = nil for a collector of all four types made with SeparateLive")
	}
	if got, want := fmt.Sprint(h.SampleTypes(), live.SampleTypes()), "[{alloc_objects false} {alloc_space false}] [{inuse_objects true} {inuse_space true}]"; got != want {
		t.Errorf("SampleTypes of the two parts: %s, want %s", got, want)
	}
	allocKnown(5000, 1024)
	runtime.GC() // publish; neither collector forces another
	from := time.Unix(1700000000, 0)
	until := from.Add(15 * time.Second)
	allocs := collectOnce(t, h, from, until)
	snapshot := collectOnce(t, live, from, until)
	all := collectOnce(t, whole, from, until)

	for _, tc := range []struct {
		name           string
		p              *profile.Profile
		types          []string
		time, duration int64
	}{
		{"allocations", allocs, []string{AllocObjects, AllocSpace}, from.UnixNano(), (15 * time.Second).Nanoseconds()},
		{"live memory", snapshot, []string{InuseObjects, InuseSpace}, until.UnixNano(), 0},
	} {
		var types []string
		for _, st := range tc.p.SampleType {
			types = append(types, st.Type)
		}
		if !slices.Equal(types, tc.types) {
			t.Errorf("%s: sample types %v, want %v", tc.name, types, tc.types)
		}
		if tc.p.TimeNanos != tc.time || tc.p.DurationNanos != tc.duration {
			t.Errorf("%s: time %d duration %d, want %d and %d", tc.name, tc.p.TimeNanos, tc.p.DurationNanos, tc.time, tc.duration)
		}
		for _, s := range tc.p.Sample {
			if !slices.ContainsFunc(s.Value, func(v int64) bool { return v != 0 }) {
				t.Errorf("%s: a sample with only zeros was written", tc.name)
				break
			}
		}
		got := sumFor(tc.p, ".allocKnown", ".TestHeapSeparateLiveSplitsOneReading")
		want := sumFor(all, ".allocKnown", ".TestHeapSeparateLiveSplitsOneReading")
		for _, typ := range tc.types {
			if got[typ] != want[typ] || want[typ] == 0 {
				t.Errorf("%s: %s of allocKnown %d, the whole profile's %d", tc.name, typ, got[typ], want[typ])
			}
		}
	}
}

// The live part is written from the Heap's reading of the same window, and
// once: out of turn it is an error, not a stale or empty profile.
func TestHeapLiveNeedsTheSameWindowsReading(t *testing.T) {
	h := NewHeap(HeapOptions{SeparateLive: true, DisableGCRuns: true})
	live := h.Live()
	t0 := time.Unix(1700000000, 0)
	var buf bytes.Buffer
	if err := live.Collect(&buf, t0, t0.Add(time.Second)); err == nil {
		t.Error("live part before any reading: no error")
	}
	if err := h.Collect(&buf, t0, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := live.Collect(&buf, t0.Add(time.Second), t0.Add(2*time.Second)); err == nil {
		t.Error("live part of another window than the reading's: no error")
	}
	buf.Reset()
	if err := live.Collect(&buf, t0, t0.Add(time.Second)); err != nil || buf.Len() == 0 {
		t.Errorf("live part of the reading's window: %v, %d bytes; want a profile", err, buf.Len())
	}
	if err := live.Collect(&buf, t0, t0.Add(time.Second)); err == nil {
		t.Error("live part written twice from one reading: no error")
	}
	for _, opts := range []HeapOptions{{}, {SeparateLive: true, SampleTypes: []string{InuseSpace}}, {SeparateLive: true, SampleTypes: []string{AllocSpace}}} {
		if l := NewHeap(opts).Live(); l != nil {
			t.Errorf("NewHeap(%+v).Live() = %v, want nil: there is one profile", opts, l)
		}
	}
}
