package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
)

// parcaProfile is one profile a test Parca server received, with the
// __name__ of its series.
type parcaProfile struct {
	name string
	prof *profile.Profile
}

// parcaServer answers WriteRaw over plaintext HTTP/2 as Parca does, and
// keeps every profile of every series it receives.
type parcaServer struct {
	*httptest.Server
	t   *testing.T
	mu  sync.Mutex
	got []parcaProfile
}

func newParcaServer(t *testing.T) *parcaServer {
	s := &parcaServer{t: t}
	s.Server = proftest.NewH2CServer(t, http.HandlerFunc(s.serve))
	return s
}

func (s *parcaServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
		http.Error(w, "not one gRPC message", http.StatusBadRequest)
		return
	}
	var got []parcaProfile
	// WriteRawRequest: series = 2, each RawProfileSeries with labels = 1
	// (a LabelSet of labels = 1, each name = 1, value = 2) and samples = 2
	// (RawSample with raw_profile = 1).
	for _, series := range fieldsOf(body[5:], 2) {
		var name string
		for _, set := range fieldsOf(series, 1) {
			for _, l := range fieldsOf(set, 1) {
				if n := fieldsOf(l, 1); len(n) == 1 && string(n[0]) == "__name__" {
					if v := fieldsOf(l, 2); len(v) == 1 {
						name = string(v[0])
					}
				}
			}
		}
		for _, sample := range fieldsOf(series, 2) {
			for _, raw := range fieldsOf(sample, 1) {
				p, err := profile.ParseData(raw)
				if err != nil {
					s.t.Errorf("%s: profile does not parse: %v", name, err)
					continue
				}
				got = append(got, parcaProfile{name, p})
			}
		}
	}
	s.mu.Lock()
	s.got = append(s.got, got...)
	s.mu.Unlock()
	proftest.WriteGRPCOK(w)
}

func (s *parcaServer) received() []parcaProfile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// fieldsOf returns the payloads of the length-delimited fields numbered
// field in the protobuf message b, skipping varints; nil if b is malformed.
func fieldsOf(b []byte, field int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		key, n := protowire.ReadVarint(b)
		if n == 0 {
			return nil
		}
		b = b[n:]
		switch key & 7 {
		case protowire.Varint:
			if _, n = protowire.ReadVarint(b); n == 0 {
				return nil
			}
			b = b[n:]
		case protowire.Bytes:
			l, n := protowire.ReadVarint(b)
			if n == 0 || uint64(len(b)-n) < l {
				return nil
			}
			if int(key>>3) == field {
				out = append(out, b[n:n+int(l)])
			}
			b = b[n+int(l):]
		default:
			return nil
		}
	}
	return out
}

// Sent to Parca, a pulled heap arrives as two profiles per window: the
// allocations with the window's duration and the live memory with none,
// which Parca stores as a delta and as a snapshot. Every profile numbers its
// locations and functions 1..n, as Parca's validation requires.
func TestConnectURLToParcaSeparatesLiveHeap(t *testing.T) {
	_, line := startProgram(t, bin.pprofserver, "listening ")
	base := strings.TrimPrefix(line, "listening ")
	srv := newParcaServer(t)
	c := startCLI(t, cleanEnv(), "connect", "--url", base, "--protocol", "parca", "--server-address", srv.URL, "--upload-rate", "1s")
	heapWindows := func() (allocs, live int) {
		for _, r := range srv.received() {
			if r.name == "memory" && len(r.prof.SampleType) > 0 {
				if strings.HasPrefix(r.prof.SampleType[0].Type, "inuse_") {
					live++
				} else {
					allocs++
				}
			}
		}
		return allocs, live
	}
	deadline := time.Now().Add(60 * time.Second)
	for a, l := heapWindows(); a < 2 || l < 2; a, l = heapWindows() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for two heap windows; stderr: %s", c.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", code, c.stderr)
	}
	if allocs, live := heapWindows(); allocs != live {
		t.Errorf("%d allocation and %d live heap profiles, want one of each per window", allocs, live)
	}
	for _, r := range srv.received() {
		var types []string
		for _, st := range r.prof.SampleType {
			types = append(types, st.Type)
		}
		what := fmt.Sprintf("%s %v", r.name, types)
		snapshot := r.name == "goroutine" || slices.Equal(types, []string{"inuse_objects", "inuse_space"})
		switch {
		case r.name == "memory" && !snapshot && !slices.Equal(types, []string{"alloc_objects", "alloc_space"}):
			t.Errorf("%s: a heap profile mixes allocations and live memory", what)
		case snapshot && (r.prof.TimeNanos == 0 || r.prof.DurationNanos != 0):
			t.Errorf("%s: time %d duration %d, want a snapshot: a time and no duration", what, r.prof.TimeNanos, r.prof.DurationNanos)
		case !snapshot && (r.prof.TimeNanos == 0 || r.prof.DurationNanos == 0):
			t.Errorf("%s: time %d duration %d, want a change over the window: both set", what, r.prof.TimeNanos, r.prof.DurationNanos)
		}
		for i, l := range r.prof.Location {
			if l.ID != uint64(i+1) {
				t.Errorf("%s: location %d has ID %d; Parca refuses IDs that are not 1..n", what, i, l.ID)
				break
			}
		}
		for i, f := range r.prof.Function {
			if f.ID != uint64(i+1) {
				t.Errorf("%s: function %d has ID %d; Parca refuses IDs that are not 1..n", what, i, f.ID)
				break
			}
		}
	}
}
