package pprofdelta

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// heapProfile is a cumulative heap profile as runtime/pprof writes one:
// stacks a and b, values per sample alloc_objects, alloc_space,
// inuse_objects, inuse_space.
func heapProfile(values map[uint64][][4]int64) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"},
			{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"},
		},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"},
	}
	fn := &profile.Function{ID: 1, Name: "main.alloc"}
	p.Function = []*profile.Function{fn}
	for _, addr := range []uint64{0x1000, 0x2000} {
		loc := &profile.Location{ID: uint64(len(p.Location) + 1), Address: addr, Line: []profile.Line{{Function: fn, Line: int64(addr)}}}
		p.Location = append(p.Location, loc)
		for _, v := range values[addr] {
			p.Sample = append(p.Sample, &profile.Sample{
				Location: []*profile.Location{loc},
				Value:    []int64{v[0], v[1], v[2], v[3]},
				NumLabel: map[string][]int64{"bytes": {64}},
			})
		}
	}
	return p
}

func TestNextIsTheChangeSinceTheLastReading(t *testing.T) {
	s := NewSeries(HeapCounters)
	s.Baseline(heapProfile(map[uint64][][4]int64{0x1000: {{10, 640, 1, 64}}}))

	// a grew by 5 objects and still holds 2; b is new, recorded in two
	// records that must be merged.
	p := heapProfile(map[uint64][][4]int64{
		0x1000: {{15, 960, 2, 128}},
		0x2000: {{3, 192, 0, 0}, {1, 64, 0, 0}},
	})
	if err := s.Next(p); err != nil {
		t.Fatal(err)
	}
	got := map[uint64][]int64{}
	for _, smp := range p.Sample {
		got[smp.Location[0].Address] = smp.Value
	}
	want := map[uint64][]int64{0x1000: {5, 320, 2, 128}, 0x2000: {4, 256, 0, 0}}
	for addr, w := range want {
		if g := got[addr]; len(g) != 4 || g[0] != w[0] || g[1] != w[1] || g[2] != w[2] || g[3] != w[3] {
			t.Errorf("stack %#x: %v, want %v", addr, g, w)
		}
	}
	if len(p.Sample) != 2 {
		t.Errorf("%d samples, want one per stack", len(p.Sample))
	}

	// Nothing new and nothing live on b: b is left out, a keeps its
	// snapshot of live memory.
	p = heapProfile(map[uint64][][4]int64{0x1000: {{15, 960, 2, 128}}, 0x2000: {{4, 256, 0, 0}}})
	if err := s.Next(p); err != nil {
		t.Fatal(err)
	}
	if len(p.Sample) != 1 || p.Sample[0].Location[0].Address != 0x1000 || p.Sample[0].Value[0] != 0 || p.Sample[0].Value[3] != 128 {
		t.Fatalf("samples %v, want only a with 0 allocated and 128 bytes live", p.Sample)
	}

	from := time.Unix(1700000000, 0)
	data, err := s.Encode(p, from, from.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	back, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if back.TimeNanos != from.UnixNano() || back.DurationNanos != 10e9 || len(back.Location) != 1 {
		t.Errorf("encoded: time %d duration %d, %d locations; want the window's times and only the used location", back.TimeNanos, back.DurationNanos, len(back.Location))
	}
}

func TestNextWithoutTheCounters(t *testing.T) {
	p := heapProfile(nil)
	if err := NewSeries(ContentionCounters).Next(p); err == nil {
		t.Fatal("Next of a heap profile as contention: no error, want one naming the missing sample type")
	}
}

// Split cuts a heap window into its allocations, stamped with the window's
// bounds, and its live memory, stamped at the window's end with no
// duration; each keeps only its own values and the samples that have one,
// and numbers its locations and functions 1..n, as Parca requires.
func TestSplitKeepsChangesAndSnapshotsApart(t *testing.T) {
	s := NewSeries(HeapCounters)
	s.Baseline(heapProfile(map[uint64][][4]int64{0x1000: {{1, 64, 1, 64}}, 0x2000: {{1, 64, 0, 0}}}))
	// a allocated nothing new but keeps 2 objects live; b allocated 3
	// and keeps none.
	p := heapProfile(map[uint64][][4]int64{0x1000: {{1, 64, 2, 128}}, 0x2000: {{4, 256, 0, 0}}})
	if err := s.Next(p); err != nil {
		t.Fatal(err)
	}
	changes, snapshots := s.Split(p)
	if changes == nil || snapshots == nil {
		t.Fatalf("Split = %v, %v; want both parts", changes, snapshots)
	}
	from := time.Unix(1700000000, 0)
	until := from.Add(10 * time.Second)
	for _, tc := range []struct {
		name           string
		part           *profile.Profile
		types          string
		values         map[uint64][]int64
		time, duration int64
		snapshot       bool
	}{
		{"changes", changes, "[alloc_objects alloc_space]", map[uint64][]int64{0x2000: {3, 192}}, from.UnixNano(), 10e9, false},
		{"snapshots", snapshots, "[inuse_objects inuse_space]", map[uint64][]int64{0x1000: {2, 128}}, until.UnixNano(), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range s.SampleTypes(tc.part) {
				if st.Snapshot != tc.snapshot {
					t.Errorf("SampleTypes marks %s snapshot=%v, want %v", st.Name, st.Snapshot, tc.snapshot)
				}
			}
			data, err := s.Encode(tc.part, from, until)
			if err != nil {
				t.Fatal(err)
			}
			back, err := profile.Parse(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, st := range back.SampleType {
				types = append(types, st.Type)
			}
			if fmt.Sprint(types) != tc.types {
				t.Errorf("sample types %v, want %s", types, tc.types)
			}
			got := map[uint64][]int64{}
			for _, smp := range back.Sample {
				got[smp.Location[0].Address] = smp.Value
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.values) {
				t.Errorf("values by stack %v, want %v", got, tc.values)
			}
			if back.TimeNanos != tc.time || back.DurationNanos != tc.duration {
				t.Errorf("time %d duration %d, want %d and %d", back.TimeNanos, back.DurationNanos, tc.time, tc.duration)
			}
			for i, l := range back.Location {
				if l.ID != uint64(i+1) {
					t.Errorf("location %d has ID %d, want %d", i, l.ID, i+1)
				}
			}
			for i, f := range back.Function {
				if f.ID != uint64(i+1) {
					t.Errorf("function %d has ID %d, want %d", i, f.ID, i+1)
				}
			}
		})
	}
	if len(p.SampleType) != 4 || len(p.Sample) != 2 || len(p.Sample[0].Value) != 4 {
		t.Errorf("Split changed the profile it cut: %d sample types, %d samples", len(p.SampleType), len(p.Sample))
	}
}
