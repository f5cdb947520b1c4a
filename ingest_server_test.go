package pyroscope

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
)

// received is one /ingest request as the test server parsed it.
type received struct {
	Path    string
	Query   map[string]string
	Header  http.Header
	Profile *profile.Profile
	Config  map[string]map[string]any
}

// ingestServer is a real HTTP server on 127.0.0.1 that parses every /ingest
// upload the way Pyroscope does: a multipart body with a pprof part and a
// sample_type_config part.
type ingestServer struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	uploads []received
	got     chan received
}

func newIngestServer(t *testing.T) *ingestServer {
	t.Helper()
	s := &ingestServer{t: t, got: make(chan received, 1024)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestServer) handle(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/ingest") || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.URL.Query().Has("format") {
		// Pyroscope 0.37 answers 422 to format=pprof with a multipart body.
		http.Error(w, "format with multipart", http.StatusUnprocessableEntity)
		return
	}
	ing, err := proftest.ParseIngest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := received{Path: r.URL.Path, Query: map[string]string{}, Header: r.Header.Clone(),
		Profile: ing.Profile, Config: ing.SampleTypeConfig}
	for k := range ing.Query {
		rec.Query[k] = ing.Query.Get(k)
	}
	s.mu.Lock()
	s.uploads = append(s.uploads, rec)
	s.mu.Unlock()
	s.got <- rec
}

// all returns every upload so far.
func (s *ingestServer) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.uploads...)
}

// family tells the profile family of an upload from its sample types and
// sample_type_config.
func (r received) family() string {
	types := map[string]bool{}
	for _, st := range r.Profile.SampleType {
		types[st.Type] = true
	}
	switch {
	case types["samples"] || types["cpu"]:
		return "cpu"
	case types["alloc_space"] || types["inuse_space"] || types["alloc_objects"] || types["inuse_objects"]:
		return "heap"
	case types["goroutine"]:
		return "goroutines"
	case types["goroutineleak"]:
		if c := r.Config["goroutineleak"]; c["display-name"] != "goroutine_leak" || c["aggregation"] != "average" {
			return "goroutineleak without its sample_type_config"
		}
		return "goroutine_leak"
	case types["contentions"] || types["delay"]:
		for _, c := range r.Config {
			if name, _ := c["display-name"].(string); strings.HasPrefix(name, "block") {
				return "block"
			}
		}
		return "mutex"
	}
	return "unknown"
}

// valueOf sums sample type typ over samples whose stack contains fn.
func valueOf(p *profile.Profile, typ, fn string) int64 {
	return valueWhere(p, typ, fn, func(*profile.Sample) bool { return true })
}

// allocatedOfSize sums alloc_space over the heap samples of objects of size
// bytes whose stack contains fn: what fn allocated itself, without what the
// runtime allocated on the same stack (a GC that fn's allocation started).
func allocatedOfSize(p *profile.Profile, fn string, size int64) int64 {
	return valueWhere(p, "alloc_space", fn, func(s *profile.Sample) bool {
		return len(s.NumLabel["bytes"]) == 1 && s.NumLabel["bytes"][0] == size
	})
}

// valueWhere sums sample type typ over samples whose stack contains fn and
// that keep accepts.
func valueWhere(p *profile.Profile, typ, fn string, keep func(*profile.Sample) bool) int64 {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == typ {
			idx = i
		}
	}
	if idx < 0 {
		return 0
	}
	var sum int64
	for _, s := range p.Sample {
		if stackHas(s, fn) && keep(s) {
			sum += s.Value[idx]
		}
	}
	return sum
}

func stackHas(s *profile.Sample, fn string) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function != nil && strings.HasSuffix(line.Function.Name, fn) {
				return true
			}
		}
	}
	return false
}

// goroutineProfile is this process's goroutine profile as gzipped pprof.
func goroutineProfile(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
