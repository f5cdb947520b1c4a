package upload

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.uber.org/goleak"
)

// verifyNoLeaks fails t if goroutines started during the test outlive it
// and its cleanups (servers, transports). Call it first.
func verifyNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// testFrom and testUntil bound the windows the backend tests send.
var (
	testFrom  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testUntil = testFrom.Add(10 * time.Second)
)

// parkedInBackendTest blocks until release is closed, so that a goroutine
// profile taken meanwhile holds a stack with this function's name.
func parkedInBackendTest(parked chan<- struct{}, release <-chan struct{}) {
	close(parked)
	<-release
}

// testWindows returns three windows as the SDK would cut them: a real
// goroutine profile from the runtime (holding parkedInBackendTest), a real
// heap profile, and a CPU profile built with runtime/pprof's sample types
// but without time_nanos and duration_nanos, which the backends must add.
func testWindows(t *testing.T) []Window {
	t.Helper()
	parked, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() { parkedInBackendTest(parked, release); close(done) }()
	<-parked
	var goroutines bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&goroutines, 0); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done

	runtime.GC()
	var heap bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&heap, 0); err != nil {
		t.Fatal(err)
	}

	tags := map[string]string{"env": "test", "region": "eu_west"}
	return []Window{
		{App: "checkout.api", Tags: tags, Name: KindCPU, From: testFrom, Until: testUntil, Data: cpuProfile(t), SampleRate: 100},
		{App: "checkout.api", Tags: tags, Name: KindGoroutines, From: testFrom, Until: testUntil, Data: goroutines.Bytes()},
		{App: "checkout.api", Tags: tags, Name: KindHeap, From: testFrom, Until: testUntil, Data: heap.Bytes()},
	}
}

// cpuProfile returns a gzipped CPU profile shaped like runtime/pprof's, with
// 30 samples (300ms) in main.busyLoop and no time_nanos or duration_nanos.
func cpuProfile(t *testing.T) []byte {
	t.Helper()
	fn := &profile.Function{ID: 1, Name: "main.busyLoop", SystemName: "main.busyLoop", Filename: "main.go"}
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

// hasFunction reports whether any sample of p has a frame in a function
// whose name contains name.
func hasFunction(p *profile.Profile, name string) bool {
	for _, s := range p.Sample {
		for _, l := range s.Location {
			for _, line := range l.Line {
				if line.Function != nil && strings.Contains(line.Function.Name, name) {
					return true
				}
			}
		}
	}
	return false
}

// checkReceivedProfile parses raw as pprof and checks what the window it was
// sent for promises: its functions, and a timestamp and duration.
func checkReceivedProfile(t *testing.T, kind string, raw []byte) {
	t.Helper()
	p, err := profile.ParseData(raw)
	if err != nil {
		t.Fatalf("%s: received bytes do not parse as pprof: %v", kind, err)
	}
	if p.TimeNanos == 0 || p.DurationNanos == 0 {
		t.Errorf("%s: time_nanos=%d duration_nanos=%d, want both non-zero", kind, p.TimeNanos, p.DurationNanos)
	}
	switch kind {
	case KindCPU:
		if !hasFunction(p, "main.busyLoop") || p.Sample[0].Value[1] != 300_000_000 {
			t.Errorf("cpu: want main.busyLoop with 300ms, got\n%v", p)
		}
		if p.TimeNanos != testFrom.UnixNano() || p.DurationNanos != int64(testUntil.Sub(testFrom)) {
			t.Errorf("cpu: time_nanos=%d duration_nanos=%d, want the window's %d and %d",
				p.TimeNanos, p.DurationNanos, testFrom.UnixNano(), testUntil.Sub(testFrom))
		}
	case KindGoroutines:
		if !hasFunction(p, "parkedInBackendTest") {
			t.Errorf("goroutines: no stack holds parkedInBackendTest")
		}
	case KindHeap:
		if len(p.SampleType) != 4 || p.SampleType[0].Type != "alloc_objects" {
			t.Errorf("heap: sample types %v, want runtime/pprof's four", p.SampleType)
		}
	}
}

func TestStampProfile(t *testing.T) {
	withTimes := func(timeNanos, durationNanos int64, gzipped bool) []byte {
		p, err := profile.ParseData(cpuProfile(t))
		if err != nil {
			t.Fatal(err)
		}
		p.TimeNanos, p.DurationNanos = timeNanos, durationNanos
		var b bytes.Buffer
		if gzipped {
			err = p.Write(&b)
		} else {
			err = p.WriteUncompressed(&b)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	const own = 1_700_000_000_000_000_000
	window := int64(testUntil.Sub(testFrom))
	tests := []struct {
		name             string
		in               []byte
		wantTime, wantDu int64
		wantSame         bool
	}{
		{"both missing, gzipped", withTimes(0, 0, true), testFrom.UnixNano(), window, false},
		{"both missing, uncompressed", withTimes(0, 0, false), testFrom.UnixNano(), window, false},
		{"duration missing", withTimes(own, 0, true), own, window, false},
		{"time missing", withTimes(0, 5, true), testFrom.UnixNano(), 5, false},
		{"both present", withTimes(own, 5, true), own, 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := stampProfile(tt.in, testFrom, testUntil)
			if same := len(out) == len(tt.in) && &out[0] == &tt.in[0]; same != tt.wantSame {
				t.Errorf("returned the input unchanged: %v, want %v", same, tt.wantSame)
			}
			p, err := profile.ParseData(out)
			if err != nil {
				t.Fatalf("stamped profile does not parse: %v", err)
			}
			if p.TimeNanos != tt.wantTime || p.DurationNanos != tt.wantDu {
				t.Errorf("time_nanos=%d duration_nanos=%d, want %d and %d", p.TimeNanos, p.DurationNanos, tt.wantTime, tt.wantDu)
			}
			if !hasFunction(p, "main.busyLoop") || p.Sample[0].Value[1] != 300_000_000 {
				t.Errorf("samples changed: %v", p)
			}
		})
	}
	t.Run("not a profile", func(t *testing.T) {
		junk := []byte{0x1f, 0x8b, 0xff}
		if out := stampProfile(junk, testFrom, testUntil); !bytes.Equal(out, junk) {
			t.Errorf("junk changed to %x", out)
		}
	})
}

func mustProfileName(t *testing.T, kind string) string {
	t.Helper()
	n, err := profileName(kind)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProfileName(t *testing.T) {
	tests := []struct{ kind, want string }{
		{KindCPU, "process_cpu"}, {KindHeap, "memory"}, {KindGoroutines, "goroutine"},
		{KindMutex, "mutex"}, {KindBlock, "block"}, {"wall", "wall"}, {"_x9", "_x9"},
		{"wall-clock", ""}, {"go.heap", ""}, {"9lives", ""}, {"", ""},
	}
	for _, tt := range tests {
		got, err := profileName(tt.kind)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("profileName(%q) = %q, %v; want %q", tt.kind, got, err, tt.want)
		}
	}
}

func TestSeriesLabels(t *testing.T) {
	w := &Window{App: "svc", Name: KindMutex, Tags: map[string]string{
		"zone": "a", "env": "prod", "service_name": "spoof", "__name__": "spoof",
	}}
	ls, err := seriesLabels(w, label{labelDelta, "false"})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ls)
	want := "[{__delta__ false} {__name__ mutex} {env prod} {service_name svc} {zone a}]"
	if got != want {
		t.Errorf("labels %s, want %s", got, want)
	}
	if _, err := seriesLabels(&Window{Name: "wall-clock"}); err == nil {
		t.Error("a family with '-' gave no error; Parca cannot parse it as a metric name")
	}
}
