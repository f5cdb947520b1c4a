package conformance

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.uber.org/goleak"

	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
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
func testWindows(t *testing.T) []window.Window {
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

	// The sample types as runtime/pprof writes them; live heap and
	// goroutines are snapshots, as the SDK's collectors say.
	tags := map[string]string{"env": "test", "region": "eu_west"}
	return []window.Window{
		{App: "checkout.api", Tags: tags, Name: window.KindCPU, From: testFrom, Until: testUntil, Data: proftest.CPUProfile(t), SampleRate: 100,
			SampleTypes: []window.SampleType{{Name: "samples"}, {Name: "cpu"}}},
		{App: "checkout.api", Tags: tags, Name: window.KindGoroutines, From: testFrom, Until: testUntil, Data: goroutines.Bytes(),
			SampleTypes: []window.SampleType{{Name: "goroutine", Snapshot: true}}},
		{App: "checkout.api", Tags: tags, Name: window.KindHeap, From: testFrom, Until: testUntil, Data: heap.Bytes(),
			SampleTypes: []window.SampleType{{Name: "alloc_objects"}, {Name: "alloc_space"}, {Name: "inuse_objects", Snapshot: true}, {Name: "inuse_space", Snapshot: true}}},
	}
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
	case window.KindCPU:
		if !proftest.HasFunction(p, proftest.CPUFunction) || p.Sample[0].Value[1] != 300_000_000 {
			t.Errorf("cpu: want %s with 300ms, got\n%v", proftest.CPUFunction, p)
		}
		if p.TimeNanos != testFrom.UnixNano() || p.DurationNanos != int64(testUntil.Sub(testFrom)) {
			t.Errorf("cpu: time_nanos=%d duration_nanos=%d, want the window's %d and %d",
				p.TimeNanos, p.DurationNanos, testFrom.UnixNano(), testUntil.Sub(testFrom))
		}
	case window.KindGoroutines:
		if !proftest.HasFunction(p, "parkedInBackendTest") {
			t.Errorf("goroutines: no stack holds parkedInBackendTest")
		}
	case window.KindHeap:
		if len(p.SampleType) != 4 || p.SampleType[0].Type != "alloc_objects" {
			t.Errorf("heap: sample types %v, want runtime/pprof's four", p.SampleType)
		}
	}
}

// profileNames is the __name__ label push and Parca series carry for each
// family, as Pyroscope and Parca name them.
var profileNames = map[string]string{
	window.KindCPU: "process_cpu", window.KindHeap: "memory", window.KindGoroutines: "goroutine",
	window.KindMutex: "mutex", window.KindBlock: "block",
}

// mustProfileName is the __name__ of family kind; it fails t for a family
// the table does not know.
func mustProfileName(t *testing.T, kind string) string {
	t.Helper()
	n, ok := profileNames[kind]
	if !ok {
		t.Fatalf("no __name__ known for family %q", kind)
	}
	return n
}
