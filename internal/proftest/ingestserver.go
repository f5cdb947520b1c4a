package proftest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// A Received is one /ingest request as an IngestServer parsed it.
type Received struct {
	Path    string
	Query   map[string]string
	Header  http.Header
	Profile *profile.Profile
	Config  map[string]map[string]any
}

// An IngestServer is a real HTTP server on 127.0.0.1 that parses every
// /ingest upload the way Pyroscope does: a multipart body with a pprof part
// and a sample_type_config part. Every upload is kept and also sent on Got.
type IngestServer struct {
	*httptest.Server
	// Got receives each upload as it arrives; it buffers 1024.
	Got chan Received

	mu      sync.Mutex
	uploads []Received
}

// NewIngestServer starts an IngestServer, closed when the test ends.
func NewIngestServer(t testing.TB) *IngestServer {
	t.Helper()
	s := &IngestServer{Got: make(chan Received, 1024)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *IngestServer) handle(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/ingest") || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.URL.Query().Has("format") {
		// Pyroscope 0.37 answers 422 to format=pprof with a multipart body.
		http.Error(w, "format with multipart", http.StatusUnprocessableEntity)
		return
	}
	ing, err := ParseIngest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := Received{Path: r.URL.Path, Query: map[string]string{}, Header: r.Header.Clone(),
		Profile: ing.Profile, Config: ing.SampleTypeConfig}
	for k := range ing.Query {
		rec.Query[k] = ing.Query.Get(k)
	}
	s.mu.Lock()
	s.uploads = append(s.uploads, rec)
	s.mu.Unlock()
	s.Got <- rec
}

// All returns every upload so far.
func (s *IngestServer) All() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.uploads...)
}

// WaitFor returns the next upload of family from Got, skipping others, and
// fails t when none arrives within 30s.
func (s *IngestServer) WaitFor(t testing.TB, family string) Received {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r := <-s.Got:
			if r.Family() == family {
				return r
			}
		case <-timeout:
			t.Fatalf("no %s upload arrived; got %d uploads", family, len(s.All()))
		}
	}
}

// Family tells the profile family of an upload ("cpu", "heap",
// "goroutines", "goroutine_leak", "mutex", "block") from its sample types
// and sample_type_config.
func (r Received) Family() string {
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
