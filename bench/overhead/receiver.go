package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/pprof/profile"
)

// A receiver is a minimal Pyroscope /ingest endpoint on 127.0.0.1. Each run
// of the workload uploads under its own path prefix (/run/<id>/ingest), so
// bytes are counted per run and per SDK. Bodies are kept as received and
// parsed only after the run's process has exited, so parsing never competes
// for CPU with what is being measured.
type receiver struct {
	srv *http.Server
	ln  net.Listener

	mu   sync.Mutex
	runs map[string][]rawUpload
}

// rawUpload is one POST as it arrived.
type rawUpload struct {
	query       string
	contentType string
	body        []byte
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: listening on 127.0.0.1: %w", err)
	}
	r := &receiver{ln: ln, runs: map[string][]rawUpload{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go r.srv.Serve(ln)
	return r, nil
}

// addressFor is the ServerAddress a run uploads to.
func (r *receiver) addressFor(run string) string {
	return "http://" + r.ln.Addr().String() + "/run/" + run
}

func (r *receiver) close() error { return r.srv.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	run, ok := strings.CutPrefix(req.URL.Path, "/run/")
	run, ok2 := strings.CutSuffix(run, "/ingest")
	if !ok || !ok2 || req.Method != http.MethodPost {
		http.Error(w, "want POST /run/<id>/ingest", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.runs[run] = append(r.runs[run], rawUpload{req.URL.RawQuery, req.Header.Get("Content-Type"), body})
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// take removes and returns what run uploaded.
func (r *receiver) take(run string) []rawUpload {
	r.mu.Lock()
	defer r.mu.Unlock()
	ups := r.runs[run]
	delete(r.runs, run)
	return ups
}

// An upload is one parsed /ingest request.
type upload struct {
	family    string // cpu, heap, goroutines, mutex or block
	bodyBytes int    // the request body as sent, multipart framing included
	from      int64  // window start, Unix ns
	until     int64  // window end, Unix ns
	samples   int
	functions map[string]bool // every function named in the samples' stacks
	prof      *profile.Profile
}

// parseUpload checks that a request is what a Pyroscope server accepts: a
// multipart body whose "profile" part parses as pprof (gzipped or not), and
// names the profile family from its sample types and sample_type_config.
func parseUpload(u rawUpload) (upload, error) {
	out := upload{bodyBytes: len(u.body)}
	mt, params, err := mime.ParseMediaType(u.contentType)
	if err != nil || mt != "multipart/form-data" {
		return out, fmt.Errorf("content type %q is not multipart/form-data", u.contentType)
	}
	parts := map[string][]byte{}
	mr := multipart.NewReader(bytes.NewReader(u.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, fmt.Errorf("reading multipart body: %w", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return out, fmt.Errorf("reading part %q: %w", p.FormName(), err)
		}
		parts[p.FormName()] = b
	}
	data, ok := parts["profile"]
	if !ok {
		return out, fmt.Errorf("no \"profile\" part (parts: %v)", slices.Sorted(maps.Keys(parts)))
	}
	if out.prof, err = profile.ParseData(data); err != nil {
		return out, fmt.Errorf("profile part does not parse as pprof: %w", err)
	}
	if out.from, out.until, err = window(u.query); err != nil {
		return out, err
	}
	out.samples = len(out.prof.Sample)
	out.functions = map[string]bool{}
	for _, s := range out.prof.Sample {
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil {
					out.functions[l.Function.Name] = true
				}
			}
		}
	}
	out.family = family(out.prof, string(parts["sample_type_config"]))
	if out.family == "" {
		return out, fmt.Errorf("cannot tell the profile family of sample types %v", sampleTypes(out.prof))
	}
	return out, nil
}

// window reads the from and until parameters (Unix ns) of an /ingest query.
func window(raw string) (from, until int64, err error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return 0, 0, fmt.Errorf("query %q: %w", raw, err)
	}
	if from, err = strconv.ParseInt(q.Get("from"), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("query parameter from: %w", err)
	}
	if until, err = strconv.ParseInt(q.Get("until"), 10, 64); err != nil {
		return 0, 0, fmt.Errorf("query parameter until: %w", err)
	}
	if until < from {
		return 0, 0, fmt.Errorf("window ends (%d) before it starts (%d)", until, from)
	}
	return from, until, nil
}

// family names what a profile holds the way the SDKs' ProfileTypes group
// them; mutex and block share sample type names and differ only in the
// sample_type_config's display names.
func family(p *profile.Profile, config string) string {
	types := sampleTypes(p)
	switch {
	case slices.Contains(types, "cpu") || slices.Contains(types, "samples"):
		return "cpu"
	case slices.Contains(types, "alloc_objects") || slices.Contains(types, "inuse_space"):
		return "heap"
	case slices.Contains(types, "goroutine") || slices.Contains(types, "goroutines"):
		return "goroutines"
	case slices.Contains(types, "contentions") || slices.Contains(types, "delay"):
		switch {
		case strings.Contains(config, "mutex_"):
			return "mutex"
		case strings.Contains(config, "block_"):
			return "block"
		}
	}
	return ""
}

func sampleTypes(p *profile.Profile) []string {
	var out []string
	for _, st := range p.SampleType {
		out = append(out, st.Type)
	}
	return out
}
