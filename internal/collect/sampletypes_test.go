package collect

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Each collector's SampleTypes name the sample types of the profile it
// writes, in order, and mark the snapshots: live heap and goroutines.
func TestSampleTypesDescribeTheProfile(t *testing.T) {
	from := time.Now()
	tests := []struct {
		name string
		c    Collector
		want string
	}{
		{"heap, all four", NewHeap(HeapOptions{}), "[{alloc_objects false} {alloc_space false} {inuse_objects true} {inuse_space true}]"},
		{"heap, two", NewHeap(HeapOptions{SampleTypes: []string{InuseSpace, AllocObjects}}), "[{alloc_objects false} {inuse_space true}]"},
		{"heap allocations, live apart", NewHeap(HeapOptions{SeparateLive: true}), "[{alloc_objects false} {alloc_space false}]"},
		{"heap live memory, apart", liveOf(NewHeap(HeapOptions{SeparateLive: true, SampleTypes: []string{InuseSpace, AllocSpace}})), "[{inuse_space true}]"},
		{"goroutines", NewGoroutines(), "[{goroutine true}]"},
		{"mutex", NewMutex(ContentionOptions{Rate: -1}), "[{contentions false} {delay false}]"},
		{"block, delay only", NewBlock(ContentionOptions{Rate: -1, SampleTypes: []string{Delay}}), "[{delay false}]"},
	}
	if leak, err := NewGoroutineLeak(); err == nil { // Go 1.27 and later
		tests = append(tests, struct {
			name string
			c    Collector
			want string
		}{"goroutine leak", leak, "[{goroutineleak true}]"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.c.Close()
			got := tt.c.SampleTypes()
			if fmt.Sprint(got) != tt.want {
				t.Errorf("SampleTypes = %v, want %s", got, tt.want)
			}
			p := collectOnce(t, tt.c, from, time.Now())
			var written []window.SampleType
			for i, st := range p.SampleType {
				written = append(written, window.SampleType{Name: st.Type, Snapshot: i < len(got) && got[i].Snapshot})
			}
			if fmt.Sprint(written) != fmt.Sprint(got) {
				t.Errorf("the profile's sample types %v differ from SampleTypes %v", written, got)
			}
		})
	}
}

// liveOf is the live part of h, after a reading that Collect would make
// first in a window.
func liveOf(h *Heap) Collector {
	return liveAfterReading{h}
}

type liveAfterReading struct{ h *Heap }

func (l liveAfterReading) Collect(w io.Writer, from, until time.Time) error {
	if err := l.h.Collect(io.Discard, from, until); err != nil {
		return err
	}
	return l.h.Live().Collect(w, from, until)
}
func (l liveAfterReading) SampleTypes() []window.SampleType { return l.h.Live().SampleTypes() }
func (l liveAfterReading) Close() error                     { return l.h.Close() }

// A profile of states at the window's end only (goroutines, live heap
// alone) is stamped at that end with no duration, as runtime/pprof stamps
// its snapshots; one with changes carries the window's bounds. Parca reads
// the duration to tell them apart.
func TestSnapshotsAreStampedAtTheWindowsEnd(t *testing.T) {
	from := time.Unix(1700000000, 0)
	until := from.Add(15 * time.Second)
	for _, tc := range []struct {
		name           string
		c              Collector
		time, duration int64
	}{
		{"goroutines", NewGoroutines(), until.UnixNano(), 0},
		{"live heap only", NewHeap(HeapOptions{SampleTypes: []string{InuseObjects, InuseSpace}}), until.UnixNano(), 0},
		{"allocations", NewHeap(HeapOptions{SampleTypes: []string{AllocSpace}}), from.UnixNano(), (15 * time.Second).Nanoseconds()},
		{"whole heap", NewHeap(HeapOptions{}), from.UnixNano(), (15 * time.Second).Nanoseconds()},
		{"allocations, live apart", NewHeap(HeapOptions{SeparateLive: true}), from.UnixNano(), (15 * time.Second).Nanoseconds()},
		{"live memory, apart", liveOf(NewHeap(HeapOptions{SeparateLive: true})), until.UnixNano(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.c.Close()
			p := collectOnce(t, tc.c, from, until)
			if tc.name == "goroutines" && !stampsGoroutines {
				tc.time = p.TimeNanos // runtime/pprof's own profile, stamped when written
			}
			if p.TimeNanos != tc.time || p.DurationNanos != tc.duration {
				t.Errorf("time %d duration %d, want %d and %d", p.TimeNanos, p.DurationNanos, tc.time, tc.duration)
			}
		})
	}
}
