package upload

import (
	"fmt"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofwire"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
)

// TestKeepSampleTypes cuts a hand-written profile whose sample values are
// written one varint field each (unpacked, which profile.proto also allows)
// and checks what google/pprof reads back.
func TestKeepSampleTypes(t *testing.T) {
	strs := []string{"", "alloc_space", "inuse_space", "goroutine", "bytes", "count", "main.f"}
	var raw []byte
	for _, typ := range [][2]uint64{{1, 4}, {2, 4}, {3, 5}} {
		var vt []byte
		vt = appendField(vt, 1, protowire.Varint, typ[0], nil)
		vt = appendField(vt, 2, protowire.Varint, typ[1], nil)
		raw = protowire.AppendBytes(raw, pprofwire.ProfileSampleType, vt)
	}
	for _, values := range [][]uint64{{1, 0, 2}, {0, 5, 0}, {7, 0, 0}} {
		var s []byte
		s = appendField(s, 1, protowire.Varint, 1, nil) // location 1
		for _, v := range values {
			s = appendField(s, pprofwire.SampleValue, protowire.Varint, v, nil)
		}
		raw = protowire.AppendBytes(raw, pprofwire.ProfileSample, s)
	}
	var fn, line, loc []byte
	fn = appendField(fn, 1, protowire.Varint, 1, nil)
	fn = appendField(fn, 2, protowire.Varint, 6, nil)
	raw = protowire.AppendBytes(raw, 5, fn) // Profile.function
	line = appendField(line, 1, protowire.Varint, 1, nil)
	loc = appendField(loc, 1, protowire.Varint, 1, nil)
	loc = protowire.AppendBytes(loc, 4, line)
	raw = protowire.AppendBytes(raw, 4, loc) // Profile.location
	for _, s := range strs {
		raw = protowire.AppendString(raw, pprofwire.ProfileStringTable, s)
	}
	raw = appendField(raw, pprofwire.ProfileTimeNanos, protowire.Varint, 111, nil)
	raw = appendField(raw, pprofwire.ProfileDurationNanos, protowire.Varint, 222, nil)

	names, ok := sampleTypeNames(raw)
	if !ok || fmt.Sprint(names) != "[alloc_space inuse_space goroutine]" {
		t.Fatalf("sampleTypeNames = %v, %v", names, ok)
	}
	for _, tc := range []struct {
		keep           []int
		time, duration int64
		want           string // sample values, in order
	}{
		{[]int{0, 2}, 111, 222, "[[1 2] [7 0]]"},
		{[]int{1}, 333, 0, "[[5]]"},
	} {
		p, err := profile.ParseData(keepSampleTypes(raw, tc.keep, tc.time, tc.duration))
		if err != nil {
			t.Fatalf("keep %v: %v", tc.keep, err)
		}
		var got [][]int64
		for _, s := range p.Sample {
			got = append(got, s.Value)
			if len(s.Location) != 1 || s.Location[0].Line[0].Function.Name != "main.f" {
				t.Errorf("keep %v: sample lost its location: %v", tc.keep, s.Location)
			}
		}
		if fmt.Sprint(got) != tc.want || len(p.SampleType) != len(tc.keep) || p.SampleType[0].Type != names[tc.keep[0]] {
			t.Errorf("keep %v: types %v values %v, want %s", tc.keep, p.SampleType, got, tc.want)
		}
		if p.TimeNanos != tc.time || p.DurationNanos != tc.duration {
			t.Errorf("keep %v: time %d duration %d, want %d and %d", tc.keep, p.TimeNanos, p.DurationNanos, tc.time, tc.duration)
		}
	}
}
