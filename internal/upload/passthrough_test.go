package upload

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// recordingServer keeps the body of every request it answers with answer.
type recordingServer struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (s *recordingServer) serve(answer func(http.ResponseWriter)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, body)
		s.mu.Unlock()
		answer(w)
	})
}

func (s *recordingServer) all() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Join(s.bodies, nil)
}

// runtimeProfile is runtime/pprof's own profile of the given name.
func runtimeProfile(t *testing.T, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup(name).WriteTo(&b, 0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// No backend parses, splits, re-stamps or re-compresses what a producer
// wrote: each window's pprof reaches the server byte for byte, a heap
// profile that mixes changes and snapshots and a snapshot without a
// duration included. Parca once split the one and stamped the other.
func TestBackendsSendTheProducersBytes(t *testing.T) {
	leakCheck(t)
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	windows := []window.Window{
		{App: "app", Name: window.KindCPU, From: from, Until: from.Add(10 * time.Second), Data: proftest.CPUProfile(t, from, from.Add(10*time.Second)),
			SampleTypes: []window.SampleType{{Name: "samples"}, {Name: "cpu"}}},
		{App: "app", Name: window.KindHeap, From: from, Until: from.Add(10 * time.Second), Data: runtimeProfile(t, "heap"),
			SampleTypes: []window.SampleType{{Name: "alloc_objects"}, {Name: "alloc_space"}, {Name: "inuse_objects", Snapshot: true}, {Name: "inuse_space", Snapshot: true}}},
		{App: "app", Name: window.KindGoroutines, From: from, Until: from.Add(10 * time.Second), Data: runtimeProfile(t, "goroutine"),
			SampleTypes: []window.SampleType{{Name: "goroutine", Snapshot: true}}},
	}
	// Each HTTP backend is opened on a server that records its requests.
	overHTTP := func(h2c bool, answer func(http.ResponseWriter), open func(url string) (Backend, error)) func(t *testing.T) (Backend, func() []byte) {
		return func(t *testing.T) (Backend, func() []byte) {
			var rec recordingServer
			var srv *httptest.Server
			if h2c {
				srv = proftest.NewH2CServer(t, rec.serve(answer))
			} else {
				srv = httptest.NewServer(rec.serve(answer))
				t.Cleanup(srv.Close)
			}
			b, err := open(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := b.(io.Closer); ok {
				t.Cleanup(func() { c.Close() })
			}
			return b, rec.all
		}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (Backend, func() []byte)
	}{
		{"ingest", overHTTP(false, func(http.ResponseWriter) {}, func(url string) (Backend, error) {
			return NewIngest(url, nil, plainClient(t))
		})},
		{"push", overHTTP(false, func(w http.ResponseWriter) { w.Header().Set("Content-Type", "application/proto") }, func(url string) (Backend, error) {
			return NewPush(url, nil, plainClient(t))
		})},
		{"parca", overHTTP(true, proftest.WriteGRPCOK, func(url string) (Backend, error) {
			client, err := NewHTTPClient(TransportOptions{HTTP2: true}, nil)
			if err != nil {
				return nil, err
			}
			return NewParca(url, nil, client)
		})},
		{"dir", func(t *testing.T) (Backend, func() []byte) {
			dir := t.TempDir()
			b, err := NewDir("file://" + dir)
			if err != nil {
				t.Fatal(err)
			}
			return b, func() []byte {
				files, _ := filepath.Glob(filepath.Join(dir, "app", "*.pb.gz"))
				var all []byte
				for _, f := range files {
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, data...)
				}
				return all
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, received := tt.open(t)
			batch := make([]window.Window, len(windows))
			copy(batch, windows)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if n, err := b.Send(ctx, batch); n != len(batch) || err != nil {
				t.Fatalf("Send = %d, %v; want %d delivered", n, err, len(batch))
			}
			got := received()
			for i, w := range windows {
				if !bytes.Equal(batch[i].Data, w.Data) {
					t.Errorf("%s: Send changed the window's Data", w.Name)
				}
				if n := bytes.Count(got, w.Data); n != 1 {
					t.Errorf("%s: the server received the window's %d bytes %d times, want once as they are", w.Name, len(w.Data), n)
				}
			}
		})
	}
}
