package perf

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// SampleTypes names the sample types of the profiles Profile writes, both
// changes over the window, and Profile stamps each with the window's bounds
// itself: a backend passes the bytes on as they are.
func TestSampleTypesDescribeTheProfile(t *testing.T) {
	requirePerf(t)
	w := startWorkload(t, buildGo(t, "testdata/gosplit"))
	s := attach(t, Options{PID: w.cmd.Process.Pid, Frequency: 250})
	collect(t, s, 50) // some samples, so that the window is not empty
	from := time.Unix(1700000000, 0)
	until := from.Add(10 * time.Second)
	var buf bytes.Buffer
	if err := s.Profile(&buf, from, until); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var written []window.SampleType
	for _, st := range p.SampleType {
		written = append(written, window.SampleType{Name: st.Type})
	}
	if got, want := fmt.Sprint(s.SampleTypes()), fmt.Sprint(written); got != want || got != "[{samples false} {cpu false}]" {
		t.Errorf("SampleTypes = %s, the profile's %s; want [{samples false} {cpu false}]", got, want)
	}
	if p.TimeNanos != from.UnixNano() || p.DurationNanos != until.Sub(from).Nanoseconds() {
		t.Errorf("time %d duration %d, want the window's %d and %d", p.TimeNanos, p.DurationNanos, from.UnixNano(), until.Sub(from).Nanoseconds())
	}
}
