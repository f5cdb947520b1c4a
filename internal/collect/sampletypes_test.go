package collect

import (
	"fmt"
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
