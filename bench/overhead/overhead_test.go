package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestSmoke is the benchmark's CI mode: each variant of the workload is
// built and run once on small scenarios, and every SDK run must deliver
// each profile family in bodies that parse as pprof, with the workload's
// own functions in its heap and goroutine profiles. It never looks at a
// timing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three programs")
	}
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := smokePlan()
	var progress bytes.Buffer
	res, err := measureAll(ctx, p, &progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(progress.String())
	for _, s := range p.scenarios {
		rds := res.rounds[s.key()]
		if len(rds) != p.rounds {
			t.Fatalf("%s: %d rounds recorded, want %d", s.key(), len(rds), p.rounds)
		}
		for _, rd := range rds {
			for _, v := range p.variants {
				rec := rd[v]
				if rec == nil {
					t.Fatalf("%s: no %s run recorded", s.key(), v)
				}
				if err := checkRecord(rec, s); err != nil {
					t.Error(err)
				}
				if v != "none" && rec.windows() == 0 {
					t.Errorf("%s %s: no window counted", s.key(), v)
				}
			}
		}
	}
	md := report(res)
	for _, want := range []string{"| ours |", "| peer |", "| none |", "ours/peer"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	svg := plot(res)
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("plot is not well-formed SVG: %v", err)
	}
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("plot has %d lines, want 2 (ours, peer)", n)
	}
}

// TestProfilerFilesDifferOnlyInImport keeps the comparison fair: the two
// SDK variants of the workload run the same lines.
func TestProfilerFilesDifferOnlyInImport(t *testing.T) {
	read := func(name string) []string {
		b, err := os.ReadFile("workload/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	ours, peer := read("profiler_ours.go"), read("profiler_peer.go")
	if len(ours) != len(peer) {
		t.Fatalf("profiler_ours.go has %d lines, profiler_peer.go %d", len(ours), len(peer))
	}
	allowed := map[[2]string]bool{
		{"//go:build ours", "//go:build peer"}: true,
		{`import pyroscope "github.com/pyroscope-sdk/pyroscope-go"`, `import pyroscope "github.com/grafana/pyroscope-go"`}: true,
		{`const variant = "ours"`, `const variant = "peer"`}:                                                               true,
	}
	diffs := 0
	for i := range ours {
		if ours[i] == peer[i] {
			continue
		}
		diffs++
		if !allowed[[2]string{ours[i], peer[i]}] {
			t.Errorf("line %d differs beyond build tag, import and name:\n ours: %s\n peer: %s", i+1, ours[i], peer[i])
		}
	}
	if diffs != len(allowed) {
		t.Errorf("%d lines differ, want exactly the %d allowed ones", diffs, len(allowed))
	}
}

// multipartBody builds an /ingest body as both SDKs send it.
func multipartBody(t *testing.T, prof []byte, config string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(prof)
	if config != "" {
		fw, _ = mw.CreateFormFile("sample_type_config", "sample_type_config.json")
		fw.Write([]byte(config))
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func runtimeProfile(t *testing.T, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup(name).WriteTo(&b, 0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestParseUpload(t *testing.T) {
	runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(0)
	heap, mutex, goroutine := runtimeProfile(t, "heap"), runtimeProfile(t, "mutex"), runtimeProfile(t, "goroutine")
	tests := []struct {
		name, config string
		prof         []byte
		query        string // empty: a valid one
		contentType  string // empty: the multipart one
		family       string // empty: an error is expected
	}{
		{name: "heap", prof: heap, family: "heap"},
		{name: "goroutines", prof: goroutine, family: "goroutines"},
		{name: "mutex by config", prof: mutex, config: `{"contentions":{"display-name":"mutex_count"}}`, family: "mutex"},
		{name: "block by config", prof: mutex, config: `{"contentions":{"display-name":"block_count"}}`, family: "block"},
		{name: "contention without config", prof: mutex},
		{name: "not pprof", prof: []byte("hello")},
		{name: "not multipart", prof: heap, contentType: "application/octet-stream"},
		{name: "window ends before it starts", prof: heap, query: "from=43&until=42"},
		{name: "no window", prof: heap, query: "name=a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := multipartBody(t, tt.prof, tt.config)
			if tt.contentType != "" {
				ct = tt.contentType
			}
			q := "name=a%7B%7D&from=42&until=43"
			if tt.query != "" {
				q = tt.query
			}
			u, err := parseUpload(rawUpload{query: q, contentType: ct, body: body})
			if tt.family == "" {
				if err == nil {
					t.Fatalf("parsed as %q, want an error", u.family)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.family != tt.family || u.from != 42 || u.until != 43 || u.bodyBytes != len(body) {
				t.Errorf("got family %q window [%d, %d) bytes %d, want %q [42, 43) %d", u.family, u.from, u.until, u.bodyBytes, tt.family, len(body))
			}
		})
	}
}

// TestReceiverKeepsRunsApart posts concurrently under two run ids and
// expects each run to get back exactly its own bodies.
func TestReceiverKeepsRunsApart(t *testing.T) {
	defer goleak.VerifyNone(t)
	r, err := newReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	ct, body := multipartBody(t, runtimeProfile(t, "heap"), "")
	var wg sync.WaitGroup
	for _, run := range []string{"1", "2"} {
		for range 3 {
			wg.Go(func() {
				resp, err := http.Post(r.addressFor(run)+"/ingest?from=1&until=2", ct, bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
				}
			})
		}
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	for _, run := range []string{"1", "2"} {
		ups := r.take(run)
		if len(ups) != 3 {
			t.Fatalf("run %s: %d uploads, want 3", run, len(ups))
		}
		for _, u := range ups {
			if !bytes.Equal(u.body, body) {
				t.Errorf("run %s: body differs from what was sent", run)
			}
		}
	}
	if ups := r.take("1"); len(ups) != 0 {
		t.Errorf("take returned %d uploads twice", len(ups))
	}
	resp, err := http.Get(r.addressFor("1") + "/ingest")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET answered %d, want 404", resp.StatusCode)
	}
}

func TestSeries(t *testing.T) {
	tests := []struct {
		in             series
		median, lo, hi float64
		spread         string
	}{
		{series{3, 1, 2}, 2, 1, 3, "2.00x [1.00x – 3.00x]"},
		{series{4, 1, 2, 3}, 2.5, 1, 4, "2.50x [1.00x – 4.00x]"},
		{series{7}, 7, 7, 7, "7.00x"},
		{nil, 0, 0, 0, "–"},
	}
	for _, tt := range tests {
		if m, lo, hi := tt.in.Median(), tt.in.Min(), tt.in.Max(); m != tt.median || lo != tt.lo || hi != tt.hi {
			t.Errorf("%v: median/min/max %v %v %v, want %v %v %v", tt.in, m, lo, hi, tt.median, tt.lo, tt.hi)
		}
		if s := tt.in.Spread(times); s != tt.spread {
			t.Errorf("%v: spread %q, want %q", tt.in, s, tt.spread)
		}
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"runtime.mallocgc": "runtime.mallocgc",
		"github.com/grafana/pyroscope-go.(*Session).reset":                                          "pyroscope-go.(*Session).reset",
		"github.com/a/b/internal/pprof.(*profMap[go.shape.struct { x int64 },go.shape.int]).Lookup": "pprof.(*profMap[...]).Lookup",
		"compress/flate.(*compressor).deflate":                                                      "flate.(*compressor).deflate",
	} {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSteadyWindowBytes checks the per-window cost on uploads shaped like
// the two SDKs': the peer's CPU windows run on their own clock and its first
// windows carry history; ours sends a short last window on Stop.
func TestSteadyWindowBytes(t *testing.T) {
	s := int64(time.Second)
	up := func(family string, from, until float64, n int) upload {
		return upload{family: family, from: int64(from * float64(s)), until: int64(until * float64(s)), bodyBytes: n}
	}
	tests := []struct {
		name    string
		uploads []upload
		windows int
		steady  float64 // NaN: some family has fewer than three uploads
	}{
		{"peer-like", []upload{
			up("heap", 0, 1, 900), up("heap", 1, 2, 100), up("heap", 2, 3, 100), up("heap", 3, 4, 100),
			up("cpu", 0.4, 2.4, 50), up("cpu", 2.4, 3.4, 20), up("cpu", 3.4, 4.4, 30), up("cpu", 4.4, 5.0, 5),
		}, 4, 100 + 25},
		{"ours-like", []upload{
			up("heap", 0, 1, 100), up("heap", 1, 2, 120), up("heap", 2, 3, 140), up("heap", 3, 3.02, 3),
			up("mutex", 0, 1, 10), up("mutex", 1, 2, 10), up("mutex", 2, 3, 30), up("mutex", 3, 3.02, 1),
		}, 4, 130 + 20},
		{"a family without steady windows", []upload{
			up("heap", 0, 1, 100), up("heap", 1, 2, 120), up("heap", 2, 3, 140), up("heap", 3, 3.02, 3),
			up("cpu", 0, 2, 10), up("cpu", 2, 3.02, 10),
		}, 4, math.NaN()},
		{"too short", []upload{up("heap", 0, 1, 10), up("heap", 1, 1.5, 12)}, 2, math.NaN()},
	}
	for _, tt := range tests {
		r := &record{uploadRate: time.Second, uploads: tt.uploads}
		if got := r.windows(); got != tt.windows {
			t.Errorf("%s: %d windows, want %d", tt.name, got, tt.windows)
		}
		got := r.steadyWindowBytes()
		if math.Abs(got-tt.steady) > 1e-9 && !(math.IsNaN(got) && math.IsNaN(tt.steady)) {
			t.Errorf("%s: steady bytes %v, want %v", tt.name, got, tt.steady)
		}
	}
}
