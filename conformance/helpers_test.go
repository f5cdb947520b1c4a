package conformance

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.uber.org/goleak"

	"github.com/pyroscope-sdk/pyroscope-go/internal/collect"
	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
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

// heapWorkload holds what conformanceAlloc allocates, so that the heap
// windows have live memory of their own besides allocations.
var heapWorkload [][]byte

//go:noinline
func conformanceAlloc() {
	for range 256 {
		heapWorkload = append(heapWorkload, make([]byte, 64<<10))
	}
}

// testWindows returns the windows the SDK's producers cut for one window
// for protocol, split and stamped by them: a CPU profile shaped and stamped
// as runtime/pprof writes one, the goroutine snapshot of the SDK's
// collector (holding parkedInBackendTest), and the heap from the SDK's heap
// collector, as one window of its four sample types or, for Parca, as a
// window of allocations and one of live memory.
func testWindows(t *testing.T, protocol string) []window.Window {
	t.Helper()
	parked, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() { parkedInBackendTest(parked, release); close(done) }()
	<-parked
	var goroutines bytes.Buffer
	g := collect.NewGoroutines()
	if err := g.Collect(&goroutines, testFrom, testUntil); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done

	heap := collect.NewHeap(collect.HeapOptions{SeparateLive: protocol == config.ProtocolParca})
	conformanceAlloc()
	heapParts := []collect.Collector{heap}
	if live := heap.Live(); live != nil {
		heapParts = append(heapParts, live)
	}

	tags := map[string]string{"env": "test", "region": "eu_west"}
	ws := []window.Window{
		{App: "checkout.api", Tags: tags, Name: window.KindCPU, From: testFrom, Until: testUntil, Data: proftest.CPUProfile(t, testFrom, testUntil), SampleRate: 100,
			SampleTypes: []window.SampleType{{Name: "samples"}, {Name: "cpu"}}},
		{App: "checkout.api", Tags: tags, Name: window.KindGoroutines, From: testFrom, Until: testUntil, Data: goroutines.Bytes(),
			SampleTypes: g.SampleTypes()},
	}
	for _, c := range heapParts {
		var b bytes.Buffer
		if err := c.Collect(&b, testFrom, testUntil); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, window.Window{App: "checkout.api", Tags: tags, Name: window.KindHeap, From: testFrom, Until: testUntil, Data: b.Bytes(),
			SampleTypes: c.SampleTypes()})
	}
	return ws
}

// checkReceivedProfile checks the profile a server received for window w:
// the producer's bytes as they are, stamped as the producer stamps (a
// change with the window's start and length, a profile of snapshots only
// at its end with no duration), holding what the window promises.
func checkReceivedProfile(t *testing.T, w window.Window, raw []byte) {
	t.Helper()
	if !bytes.Equal(raw, w.Data) {
		t.Errorf("%s %v: the server received %d bytes that differ from the window's %d: a backend rewrote the profile", w.Name, w.SampleTypes, len(raw), len(w.Data))
	}
	p, err := profile.ParseData(raw)
	if err != nil {
		t.Fatalf("%s: received bytes do not parse as pprof: %v", w.Name, err)
	}
	snapshots := 0
	for i, st := range w.SampleTypes {
		if i >= len(p.SampleType) || p.SampleType[i].Type != st.Name {
			t.Errorf("%s: the profile's sample types %v, the window says %v", w.Name, p.SampleType, w.SampleTypes)
			break
		}
		if st.Snapshot {
			snapshots++
		}
	}
	wantTime, wantDuration := w.From.UnixNano(), w.Until.Sub(w.From).Nanoseconds()
	if snapshots == len(w.SampleTypes) {
		wantTime, wantDuration = w.Until.UnixNano(), 0
		for _, s := range p.Sample {
			if !slices.ContainsFunc(s.Value, func(v int64) bool { return v != 0 }) {
				t.Errorf("%s snapshot: a sample with only zeros was kept", w.Name)
				break
			}
		}
	}
	if p.TimeNanos != wantTime || p.DurationNanos != wantDuration {
		t.Errorf("%s %v: time_nanos=%d duration_nanos=%d, want %d and %d", w.Name, w.SampleTypes, p.TimeNanos, p.DurationNanos, wantTime, wantDuration)
	}
	switch w.Name {
	case window.KindCPU:
		if !proftest.HasFunction(p, proftest.CPUFunction) || p.Sample[0].Value[1] != 300_000_000 {
			t.Errorf("cpu: want %s with 300ms, got\n%v", proftest.CPUFunction, p)
		}
	case window.KindGoroutines:
		if !proftest.HasFunction(p, "parkedInBackendTest") {
			t.Errorf("goroutines: no stack holds parkedInBackendTest")
		}
	case window.KindHeap:
		if !proftest.HasFunction(p, "conformanceAlloc") {
			t.Errorf("heap %v: no stack holds conformanceAlloc", w.SampleTypes)
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
