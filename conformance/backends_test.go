package conformance

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/pprof/profile"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
)

// A backendRun is what one backend's server proftest.Received from a profiling
// session, by family ("cpu", "heap"), with the labels and token it carried.
type backendRun struct {
	profiles map[string]*profile.Profile
	apps     map[string]string // family -> application name as the backend stores it
	tokens   []string          // Authorization values seen
}

func newBackendRun() *backendRun {
	return &backendRun{profiles: map[string]*profile.Profile{}, apps: map[string]string{}}
}

// add records one proftest.Received profile. Several windows of a family are merged.
func (r *backendRun) add(t *testing.T, family, app string, raw []byte) {
	t.Helper()
	p, err := profile.ParseData(raw)
	if err != nil {
		t.Errorf("%s: proftest.Received bytes do not parse as pprof: %v", family, err)
		return
	}
	if old := r.profiles[family]; old != nil {
		if p, err = profile.Merge([]*profile.Profile{old, p}); err != nil {
			t.Errorf("%s: merging windows: %v", family, err)
			return
		}
	}
	r.profiles[family], r.apps[family] = p, app
}

// familyOfName maps the __name__ that push and parca send back to a family.
var familyOfName = map[string]string{"process_cpu": "cpu", "memory": "heap"}

// pushBackend serves Pyroscope's push API from the official package.
type pushBackend struct {
	pushv1connect.UnimplementedPusherServiceHandler
	t   *testing.T
	mu  sync.Mutex
	run *backendRun
}

func (b *pushBackend) Push(_ context.Context, req *connect.Request[pushv1.PushRequest]) (*connect.Response[pushv1.PushResponse], error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.run.tokens = append(b.run.tokens, req.Header().Get("Authorization"))
	for _, s := range req.Msg.Series {
		labels := map[string]string{}
		for _, l := range s.Labels {
			labels[l.Name] = l.Value
		}
		for _, sample := range s.Samples {
			b.run.add(b.t, familyOfName[labels["__name__"]], labels["service_name"], sample.RawProfile)
		}
	}
	return connect.NewResponse(&pushv1.PushResponse{}), nil
}

// rawBytes is a gRPC codec that hands over messages undecoded.
type rawBytes struct{}

func (rawBytes) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawBytes) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawBytes) Name() string { return "proto" }

// decodeWriteRaw reads a parca WriteRawRequest with protowire: series = 2,
// each with labels = 1 (LabelSet{labels = 1: Label{name = 1, value = 2}})
// and samples = 2 (RawSample{raw_profile = 1}).
func decodeWriteRaw(b []byte, each func(labels map[string]string, raw []byte)) error {
	fields := func(b []byte, fn func(num protowire.Number, v []byte)) error {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if typ != protowire.BytesType {
				n = protowire.ConsumeFieldValue(num, typ, b)
				if n < 0 {
					return protowire.ParseError(n)
				}
				b = b[n:]
				continue
			}
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			fn(num, v)
			b = b[n:]
		}
		return nil
	}
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	keep(fields(b, func(num protowire.Number, series []byte) {
		if num != 2 {
			return
		}
		labels := map[string]string{}
		var raws [][]byte
		keep(fields(series, func(num protowire.Number, v []byte) {
			switch num {
			case 1:
				keep(fields(v, func(_ protowire.Number, l []byte) {
					var name, value string
					keep(fields(l, func(num protowire.Number, s []byte) {
						if num == 1 {
							name = string(s)
						} else if num == 2 {
							value = string(s)
						}
					}))
					labels[name] = value
				}))
			case 2:
				keep(fields(v, func(num protowire.Number, raw []byte) {
					if num == 1 {
						raws = append(raws, raw)
					}
				}))
			}
		}))
		for _, raw := range raws {
			each(labels, raw)
		}
	}))
	return firstErr
}

// startParcaBackend runs a real gRPC server answering WriteRaw and returns
// its http:// address.
func startParcaBackend(t *testing.T, run *backendRun) string {
	t.Helper()
	var mu sync.Mutex
	handle := func(_ any, stream grpc.ServerStream) error {
		var in []byte
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		md, _ := metadata.FromIncomingContext(stream.Context())
		mu.Lock()
		defer mu.Unlock()
		run.tokens = append(run.tokens, strings.Join(md.Get("authorization"), ","))
		err := decodeWriteRaw(in, func(labels map[string]string, raw []byte) {
			run.add(t, familyOfName[labels["__name__"]], labels["service_name"], raw)
		})
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		return stream.SendMsg(&[]byte{})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawBytes{}), grpc.UnknownServiceHandler(handle))
	served := make(chan struct{})
	go func() { srv.Serve(lis); close(served) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	return "http://" + lis.Addr().String()
}

// TestBackendsReceiveEquivalentProfiles runs the same workload through every
// backend and checks that each server proftest.Received the same functions and, for
// the heap, the same allocation total within sampling error.
func TestBackendsReceiveEquivalentProfiles(t *testing.T) {
	const (
		app       = "equiv.app"
		token     = "backend-token"
		n, size   = 32, 2 << 20
		cpuFamily = "cpu"
	)
	proftest.SampleEveryAllocation(t)
	backends := []struct {
		name  string
		setup func(t *testing.T, run *backendRun) pyroscope.Config
	}{
		{"ingest", func(t *testing.T, run *backendRun) pyroscope.Config {
			srv := proftest.NewIngestServer(t)
			t.Cleanup(func() {
				for _, r := range srv.All() {
					run.tokens = append(run.tokens, r.Header.Get("Authorization"))
					raw, err := rawProfile(r.Profile)
					if err != nil {
						t.Fatal(err)
					}
					run.add(t, r.Family(), strings.SplitN(r.Query["name"], "{", 2)[0], raw)
				}
			})
			return pyroscope.Config{ServerAddress: srv.URL}
		}},
		{"push", func(t *testing.T, run *backendRun) pyroscope.Config {
			path, h := pushv1connect.NewPusherServiceHandler(&pushBackend{t: t, run: run})
			mux := http.NewServeMux()
			mux.Handle(path, h)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			return pyroscope.Config{ServerAddress: srv.URL, Protocol: "push"}
		}},
		{"parca", func(t *testing.T, run *backendRun) pyroscope.Config {
			return pyroscope.Config{ServerAddress: startParcaBackend(t, run), Protocol: "parca"}
		}},
		{"directory", func(t *testing.T, run *backendRun) pyroscope.Config {
			dir := t.TempDir()
			t.Cleanup(func() {
				files, _ := filepath.Glob(filepath.Join(dir, app, "*.pb.gz"))
				for _, f := range files {
					family := strings.SplitN(filepath.Base(f), "_", 2)[0]
					p, err := readProfile(f)
					if err != nil {
						t.Fatal(err)
					}
					raw, err := rawProfile(p)
					if err != nil {
						t.Fatal(err)
					}
					run.add(t, family, app, raw)
				}
				run.tokens = append(run.tokens, "Bearer "+token) // a directory checks no token
			})
			return pyroscope.Config{ServerAddress: "file://" + dir}
		}},
	}
	runs := map[string]*backendRun{}
	for _, b := range backends {
		run := newBackendRun()
		runs[b.name] = run
		t.Run(b.name, func(t *testing.T) {
			cfg := b.setup(t, run)
			cfg.ApplicationName = app
			cfg.AuthToken = token
			cfg.ProfileTypes = []pyroscope.ProfileType{pyroscope.ProfileCPU, pyroscope.ProfileAllocSpace}
			p, err := pyroscope.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			proftest.BurnCPU(300 * time.Millisecond)
			proftest.AllocKnown(n, size)
			runtime.GC() // publish the allocations in the heap profile
			if err := p.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		})
	}
	for _, b := range backends {
		run := runs[b.name]
		for _, tok := range run.tokens {
			if tok != "Bearer "+token {
				t.Errorf("%s: a request carried Authorization %q, want the token", b.name, tok)
			}
		}
		for _, family := range []string{cpuFamily, "heap"} {
			p := run.profiles[family]
			if p == nil {
				t.Errorf("%s: no %s profile arrived (got %v)", b.name, family, familiesOf(run))
				continue
			}
			if run.apps[family] != app {
				t.Errorf("%s: %s profile stored under application %q, want %q", b.name, family, run.apps[family], app)
			}
		}
		if p := run.profiles[cpuFamily]; p != nil && proftest.ValueOf(p, "samples", "BurnCPU") == 0 {
			t.Errorf("%s: no CPU samples in BurnCPU", b.name)
		}
		if p := run.profiles["heap"]; p != nil {
			if got, want := proftest.AllocatedOfSize(p, "AllocKnown", size), int64(n*size); got != want {
				t.Errorf("%s: alloc_space in AllocKnown = %d, want %d", b.name, got, want)
			}
		}
	}
	// Every backend proftest.Received the same sample types for each family.
	for _, family := range []string{cpuFamily, "heap"} {
		var first string
		for _, b := range backends {
			p := runs[b.name].profiles[family]
			if p == nil {
				continue
			}
			var types string
			for _, st := range p.SampleType {
				types += st.Type + "/" + st.Unit + " "
			}
			if first == "" {
				first = types
			} else if types != first {
				t.Errorf("%s: %s sample types %s differ from %s's %s", b.name, family, types, backends[0].name, first)
			}
		}
	}
}

func familiesOf(r *backendRun) []string {
	var out []string
	for f := range r.profiles {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// rawProfile encodes p as gzipped pprof.
func rawProfile(p *profile.Profile) ([]byte, error) {
	var b strings.Builder
	if err := p.Write(&b); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// readProfile parses the pprof file at path.
func readProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return profile.Parse(f)
}
