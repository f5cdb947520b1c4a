package pull

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

func TestMain(m *testing.M) {
	// Record every allocation, so that counts in the heap profile are exact.
	runtime.MemProfileRate = 1
	leaktest.VerifyTestMain(m)
}

// pprofServer serves this test process's own net/http/pprof endpoints on
// 127.0.0.1.
func pprofServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var sink []byte

//go:noinline
func pullTestAlloc(n int) {
	for range n {
		sink = make([]byte, 4096)
	}
	sink = nil
}

//go:noinline
func pullTestContend(rounds int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				mu.Lock()
				time.Sleep(10 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// sumFor adds up sample type typ over the samples whose stack holds fn.
func sumFor(t *testing.T, data []byte, typ, fn string) int64 {
	t.Helper()
	p, err := profile.ParseData(data)
	if err != nil {
		t.Fatalf("window does not parse as pprof: %v", err)
	}
	sum, ok := proftest.Sum(p, typ, fn)
	if !ok {
		t.Fatalf("profile has no sample type %q", typ)
	}
	return sum
}

// sumOfSize is sumFor over the heap samples of objects of the given size.
func sumOfSize(t *testing.T, data []byte, typ, fn string, size int64) int64 {
	t.Helper()
	p, err := profile.ParseData(data)
	if err != nil {
		t.Fatalf("window does not parse as pprof: %v", err)
	}
	p.Sample = slices.DeleteFunc(p.Sample, func(s *profile.Sample) bool {
		return len(s.NumLabel["bytes"]) != 1 || s.NumLabel["bytes"][0] != size
	})
	sum, ok := proftest.Sum(p, typ, fn)
	if !ok {
		t.Fatalf("profile has no sample type %q", typ)
	}
	return sum
}

func fetchRaw(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeltasSumOverWindows(t *testing.T) {
	prevMutex := runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(prevMutex)
	srv := pprofServer(t)
	ctx := context.Background()

	// Work done before Probe must not appear in any window.
	pullTestAlloc(100)
	pullTestContend(20)
	mutexBefore := sumFor(t, fetchRaw(t, srv.URL+"/debug/pprof/mutex"), "delay", "pullTestContend")

	p, err := New(Options{URL: srv.URL, Kinds: []string{window.KindHeap, window.KindMutex, window.KindGoroutines}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Binary() == "" {
		t.Error("Binary() is empty: the probe did not learn the program's name")
	}
	allocs := []int{300, 0, 700}
	var objects, space, delay int64
	kinds := map[string]int{}
	for _, n := range allocs {
		pullTestAlloc(n)
		pullTestContend(50)
		ws, err := p.Cut(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			kinds[w.Name]++
			if !w.From.Before(w.Until) {
				t.Errorf("%s window [%v, %v) is empty", w.Name, w.From, w.Until)
			}
			if got, want := fmt.Sprint(w.SampleTypes), map[string]string{
				window.KindHeap:       "[{alloc_objects false} {alloc_space false} {inuse_objects true} {inuse_space true}]",
				window.KindMutex:      "[{contentions false} {delay false}]",
				window.KindGoroutines: "[{goroutine true}]",
			}[w.Name]; got != want {
				t.Errorf("%s window sample types %s, want %s", w.Name, got, want)
			}
			switch w.Name {
			case window.KindHeap:
				// Only pullTestAlloc's own 4 KiB objects: under load the
				// runtime once charged it with a 112-byte object of its own.
				objects += sumOfSize(t, w.Data, "alloc_objects", "pullTestAlloc", 4096)
				space += sumOfSize(t, w.Data, "alloc_space", "pullTestAlloc", 4096)
			case window.KindMutex:
				delay += sumFor(t, w.Data, "delay", "pullTestContend")
			}
		}
	}
	if kinds[window.KindHeap] != 3 || kinds[window.KindMutex] != 3 || kinds[window.KindGoroutines] != 3 {
		t.Errorf("windows per kind = %v, want 3 heap, 3 mutex and 3 goroutines", kinds)
	}
	if objects != 1000 || space != 1000*4096 {
		t.Errorf("heap windows sum to %d objects, %d bytes allocated by pullTestAlloc; want 1000 and %d", objects, space, 1000*4096)
	}
	mutexAfter := sumFor(t, fetchRaw(t, srv.URL+"/debug/pprof/mutex"), "delay", "pullTestContend")
	if delay == 0 || delay != mutexAfter-mutexBefore {
		t.Errorf("mutex windows sum to %dns of delay in pullTestContend; the program's counter grew by %dns", delay, mutexAfter-mutexBefore)
	}
}

var kept [][]byte

//go:noinline
func pullTestKeep(n int) {
	for range n {
		kept = append(kept, make([]byte, 2048))
	}
}

// For a backend that takes a profile as a change or a snapshot (Parca), the
// puller writes the heap as two windows: the allocations over the window,
// with its bounds, and the live memory at its end, with no duration. The
// goroutine snapshot is net/http/pprof's own, stamped by the program with
// no duration either.
func TestSeparateLiveHeap(t *testing.T) {
	defer func() { kept = nil }()
	srv := pprofServer(t)
	ctx := context.Background()
	p, err := New(Options{URL: srv.URL, Kinds: []string{window.KindHeap, window.KindGoroutines}, SeparateLiveHeap: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	pullTestAlloc(300)
	pullTestKeep(40)
	ws, err := p.Cut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Name+fmt.Sprint(w.SampleTypes))
		prof, err := profile.ParseData(w.Data)
		if err != nil {
			t.Fatalf("%s window does not parse: %v", w.Name, err)
		}
		var types []string
		for _, st := range prof.SampleType {
			types = append(types, st.Type)
		}
		if len(types) != len(w.SampleTypes) || types[0] != w.SampleTypes[0].Name {
			t.Errorf("%s window: the profile's sample types %v, the window says %v", w.Name, types, w.SampleTypes)
		}
		if w.HasSnapshots() {
			if prof.TimeNanos == 0 || prof.DurationNanos != 0 {
				t.Errorf("%s snapshot %v: time %d duration %d, want a time and no duration", w.Name, types, prof.TimeNanos, prof.DurationNanos)
			}
		} else if prof.TimeNanos != w.From.UnixNano() || prof.DurationNanos != w.Until.Sub(w.From).Nanoseconds() {
			t.Errorf("%s changes %v: time %d duration %d, want the window's %d and %d", w.Name, types, prof.TimeNanos, prof.DurationNanos, w.From.UnixNano(), w.Until.Sub(w.From).Nanoseconds())
		}
	}
	want := []string{
		"goroutines[{goroutine true}]",
		"heap[{alloc_objects false} {alloc_space false}]",
		"heap[{inuse_objects true} {inuse_space true}]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("windows %q, want %q", got, want)
	}
	allocs, live := ws[1], ws[2]
	if live.Until.UnixNano() != mustParse(t, live.Data).TimeNanos {
		t.Errorf("live heap stamped at %d, want the window's end %d", mustParse(t, live.Data).TimeNanos, live.Until.UnixNano())
	}
	if n := sumOfSize(t, allocs.Data, "alloc_objects", "pullTestAlloc", 4096); n != 300 {
		t.Errorf("allocations window: %d objects allocated by pullTestAlloc, want 300", n)
	}
	if n := sumOfSize(t, live.Data, "inuse_objects", "pullTestKeep", 2048); n != 40 {
		t.Errorf("live window: %d objects live from pullTestKeep, want 40", n)
	}
}

func mustParse(t *testing.T, data []byte) *profile.Profile {
	t.Helper()
	p, err := profile.ParseData(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullCPU(t *testing.T) {
	srv := pprofServer(t)
	p, err := New(Options{URL: srv.URL + "/", Kinds: []string{window.KindCPU}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	ws, err := p.Pull(context.Background(), context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Name != window.KindCPU {
		t.Fatalf("got %d windows, want one cpu window", len(ws))
	}
	prof, err := profile.ParseData(ws[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(prof.SampleType) == 0 || prof.SampleType[0].Type != "samples" {
		t.Errorf("cpu window sample types %v, want samples first", prof.SampleType)
	}
	if got := fmt.Sprint(ws[0].SampleTypes); got != "[{samples false} {cpu false}]" {
		t.Errorf("cpu window says its sample types are %s, want samples and cpu, both changes", got)
	}
}

func TestBadTargets(t *testing.T) {
	// A port nothing listens on: bind one, then close it.
	l := httptest.NewServer(http.NotFoundHandler())
	closedURL := l.URL
	l.Close()
	notPprof := httptest.NewServer(http.NotFoundHandler())
	defer notPprof.Close()

	for _, tc := range []struct {
		name, url, want string
	}{
		{"not a URL", "127.0.0.1:6060", "is not an http(s) URL"},
		{"unreachable", closedURL, "connection refused"},
		{"no pprof there", notPprof.URL, "is net/http/pprof imported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Options{URL: tc.url})
			if err == nil {
				err = p.Probe(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEmptyMutexProfileIsExplained(t *testing.T) {
	prev := runtime.SetMutexProfileFraction(0)
	defer runtime.SetMutexProfileFraction(prev)
	srv := pprofServer(t)
	var logs []string
	p, err := New(Options{URL: srv.URL, Kinds: []string{window.KindMutex}, Logf: func(level logging.Level, format string, args ...any) {
		logs = append(logs, level.String()+": "+format)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	ws, err := p.Cut(context.Background())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	// The process may hold mutex samples from other tests; only when the
	// profile is empty must the hint appear.
	if len(ws) == 0 && (len(logs) == 0 || !strings.Contains(logs[0], "empty")) {
		t.Errorf("empty mutex profile not explained; logs: %q", logs)
	}
}
