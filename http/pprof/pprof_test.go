package pprof_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	pprofhttp "github.com/pyroscope-sdk/pyroscope-go/http/pprof"
	"github.com/pyroscope-sdk/pyroscope-go/internal/collect"
	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

var sink atomic.Uint64

//go:noinline
func httpHotLoop(stop <-chan struct{}) {
	x := uint64(1)
	for {
		select {
		case <-stop:
			sink.Add(x)
			return
		default:
		}
		for i := range 100_000 {
			x = x*6364136223846793005 + uint64(i)
		}
	}
}

// burn runs httpHotLoop until the test ends.
func burn(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); httpHotLoop(stop) }()
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// samplesIn counts the CPU samples whose stack holds fn.
func samplesIn(p *profile.Profile, fn string) int64 {
	var n int64
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if strings.HasSuffix(ln.Function.Name, "."+fn) {
					n += s.Value[0]
					goto next
				}
			}
		}
	next:
	}
	return n
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// While the SDK profiles the CPU, the handler serves a CPU profile of the
// program (where net/http/pprof fails), a second request at the same time
// is refused, and the SDK's own windows still hold every sample, a window
// edge inside the request's span included.
func TestProfileWhileTheSDKProfiles(t *testing.T) {
	dir := t.TempDir()
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: "httptest",
		ServerAddress:   "file://" + dir,
		ProfileTypes:    []pyroscope.ProfileType{pyroscope.ProfileCPU},
		UploadRate:      time.Hour, // windows are cut by Flush and Stop only
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	burn(t)
	srv := httptest.NewServer(http.HandlerFunc(pprofhttp.Profile))
	defer srv.Close()

	type result struct {
		status int
		body   []byte
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/?seconds=1")
		if err != nil {
			done <- result{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, body}
	}()
	cpu := collect.RunningCPU()
	for !cpu.Tapping() {
		select {
		case r := <-done:
			t.Fatalf("the request ended before its span began: %d %s", r.status, r.body)
		case <-time.After(time.Millisecond):
		}
	}
	if status, body := get(t, srv.URL+"/?seconds=1"); status != http.StatusInternalServerError || !strings.Contains(string(body), "in progress") {
		t.Errorf("a second request meanwhile: %d %q, want 500 saying one is in progress", status, body)
	}
	p.Flush(false) // a window edge inside the span

	r := <-done
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got, err := profile.ParseData(r.body)
	if err != nil {
		t.Fatalf("the response does not parse as pprof: %v", err)
	}
	served := samplesIn(got, "httpHotLoop")
	if served == 0 || got.DurationNanos < int64(900*time.Millisecond) {
		t.Fatalf("served profile: %d samples in httpHotLoop over %v, want some over about 1s", served, time.Duration(got.DurationNanos))
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "httptest", "cpu_*.pb.gz"))
	if len(files) != 2 {
		t.Fatalf("%d CPU windows written (%v), want 2: the Flush and the Stop", len(files), files)
	}
	var windows int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, err := profile.ParseData(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		windows += samplesIn(w, "httpHotLoop")
	}
	if windows < served {
		t.Errorf("the SDK's windows hold %d httpHotLoop samples, fewer than the %d the request served from the same stream", windows, served)
	}
}

// Without the SDK the handler is net/http/pprof's.
func TestProfileWithoutTheSDK(t *testing.T) {
	burn(t)
	srv := httptest.NewServer(http.HandlerFunc(pprofhttp.Profile))
	defer srv.Close()
	status, body := get(t, srv.URL+"/?seconds=1")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	p, err := profile.ParseData(body)
	if err != nil {
		t.Fatal(err)
	}
	if samplesIn(p, "httpHotLoop") == 0 {
		t.Errorf("no httpHotLoop samples in %d samples", len(p.Sample))
	}
}
