package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	pushv1 "github.com/grafana/pyroscope/api/gen/proto/go/push/v1"
	"github.com/grafana/pyroscope/api/gen/proto/go/push/v1/pushv1connect"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// pushServer is Pyroscope's push service as generated in the official API
// package, recording what it receives. fail, when set, decides the answer
// to the n-th request (from 0).
type pushServer struct {
	pushv1connect.UnimplementedPusherServiceHandler
	fail func(n int) error

	mu       sync.Mutex
	requests []receivedPush
}

type receivedPush struct {
	header     http.Header
	protoMajor int
	req        *pushv1.PushRequest
}

func (s *pushServer) Push(ctx context.Context, req *connect.Request[pushv1.PushRequest]) (*connect.Response[pushv1.PushResponse], error) {
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, receivedPush{header: req.Header().Clone(), protoMajor: protoMajor(ctx), req: req.Msg})
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(n); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(&pushv1.PushResponse{}), nil
}

func (s *pushServer) received() []receivedPush {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedPush(nil), s.requests...)
}

type protoMajorKey struct{}

func protoMajor(ctx context.Context) int { v, _ := ctx.Value(protoMajorKey{}).(int); return v }

// startPushServer serves s on 127.0.0.1 under prefix, over HTTP/1.1 and,
// when h2c is set, plaintext HTTP/2 too. It returns the server's address
// and a client that speaks HTTP/2 without TLS when h2c is set.
func startPushServer(t *testing.T, s *pushServer, prefix string, h2c bool) (string, *http.Client) {
	t.Helper()
	path, h := pushv1connect.NewPusherServiceHandler(s)
	mux := http.NewServeMux()
	mux.Handle(prefix+path, http.StripPrefix(prefix, h))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), protoMajorKey{}, r.ProtoMajor)))
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	transport := &http.Transport{Protocols: new(http.Protocols)}
	if h2c {
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		transport.Protocols.SetUnencryptedHTTP2(true)
	} else {
		transport.Protocols.SetHTTP1(true)
	}
	srv.Start()
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL + prefix, &http.Client{Transport: transport}
}

func TestPushToOfficialServer(t *testing.T) {
	verifyNoLeaks(t)
	windows := testWindows(t, config.ProtocolPush)
	tests := []struct {
		name, prefix string
		h2c          bool
	}{
		{"HTTP/1.1", "", false},
		{"h2c", "", true},
		{"h2c behind a path prefix", "/profiles/push", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &pushServer{}
			addr, client := startPushServer(t, s, tt.prefix, tt.h2c)
			creds := &upload.Credentials{
				Token: config.NewSecret("glc_secret-token"), TokenSource: "PYROSCOPE_AUTH_TOKEN",
				TenantID: "team-a", Headers: map[string]string{"X-Extra": "1"}, UserAgent: "pyroscope-go/test",
			}
			p, err := upload.NewPush(addr, creds, client)
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Send(context.Background(), windows)
			if err != nil || n != len(windows) {
				t.Fatalf("Send = %d, %v; want %d, nil", n, err, len(windows))
			}
			got := s.received()
			if len(got) != 1 {
				t.Fatalf("server got %d requests, want the batch in one", len(got))
			}
			r := got[0]
			wantMajor := 1
			if tt.h2c {
				wantMajor = 2
			}
			if r.protoMajor != wantMajor {
				t.Errorf("request came over HTTP/%d, want HTTP/%d", r.protoMajor, wantMajor)
			}
			for k, want := range map[string]string{
				"Authorization": "Bearer glc_secret-token", "X-Scope-Orgid": "team-a",
				"X-Extra": "1", "User-Agent": "pyroscope-go/test",
			} {
				if v := r.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if len(r.req.Series) != len(windows) {
				t.Fatalf("got %d series, want %d", len(r.req.Series), len(windows))
			}
			for i, series := range r.req.Series {
				labels := map[string]string{}
				for _, l := range series.Labels {
					labels[l.Name] = l.Value
				}
				want := map[string]string{
					"__name__": mustProfileName(t, windows[i].Name), "service_name": "checkout.api",
					"__delta__": "false", "env": "test", "region": "eu_west",
				}
				if fmt.Sprint(labels) != fmt.Sprint(want) {
					t.Errorf("series %d labels %v, want %v", i, labels, want)
				}
				if len(series.Samples) != 1 || len(series.Samples[0].ID) != 36 {
					t.Fatalf("series %d: want one sample with a UUID, got %d", i, len(series.Samples))
				}
				checkReceivedProfile(t, windows[i], series.Samples[0].RawProfile)
			}
		})
	}
}

func TestPushErrorsAreClassified(t *testing.T) {
	verifyNoLeaks(t)
	windows := testWindows(t, config.ProtocolPush)[:1]
	tests := []struct {
		name           string
		err            error
		retryable      bool
		auth           bool
		status         int
		wantInMessage  string
		forbiddenInMsg string
	}{
		{"rejected token", connect.NewError(connect.CodeUnauthenticated, errors.New("invalid token glc_secret-token")),
			false, true, 401, "unauthenticated: invalid token [redacted]", "glc_secret-token"},
		{"no write permission", connect.NewError(connect.CodePermissionDenied, errors.New("no write scope")),
			false, true, 403, "no write scope", ""},
		{"rate limited", connect.NewError(connect.CodeResourceExhausted, errors.New("slow down")), true, false, 429, "resource_exhausted", ""},
		{"unavailable", connect.NewError(connect.CodeUnavailable, errors.New("ingester down")), true, false, 503, "ingester down", ""},
		{"aborted (409)", connect.NewError(connect.CodeAborted, errors.New("conflict")), true, false, 409, "aborted", ""},
		{"bad profile", connect.NewError(connect.CodeInvalidArgument, errors.New("bad pprof")), false, false, 400, "bad pprof", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, client := startPushServer(t, &pushServer{fail: func(int) error { return tt.err }}, "", false)
			p, err := upload.NewPush(addr, &upload.Credentials{Token: config.NewSecret("glc_secret-token"), TokenSource: "PYROSCOPE_AUTH_TOKEN"}, client)
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Send(context.Background(), windows)
			var e *upload.Error
			if n != 0 || !errors.As(err, &e) {
				t.Fatalf("Send = %d, %v; want 0 and an *upload.Error", n, err)
			}
			if e.Retryable != tt.retryable || e.Auth != tt.auth || e.Status != tt.status {
				t.Errorf("Retryable=%v Auth=%v Status=%d, want %v %v %d (%v)", e.Retryable, e.Auth, e.Status, tt.retryable, tt.auth, tt.status, e)
			}
			if !strings.Contains(e.Error(), tt.wantInMessage) {
				t.Errorf("message %q does not say %q", e.Error(), tt.wantInMessage)
			}
			if tt.forbiddenInMsg != "" && strings.Contains(fmt.Sprintf("%v %+v %#v", e, e, e), tt.forbiddenInMsg) {
				t.Errorf("message leaks the token: %v", e)
			}
		})
	}
}

func TestPushRetryAfterFromAProxy(t *testing.T) {
	verifyNoLeaks(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "over capacity", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	p, err := upload.NewPush(srv.URL, nil, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Send(context.Background(), testWindows(t, config.ProtocolPush)[:1])
	var e *upload.Error
	if !errors.As(err, &e) || !e.Retryable || e.RetryAfter != 7*time.Second || !strings.Contains(e.Error(), "over capacity") {
		t.Fatalf("got %#v, want a retryable error asking for 7s that quotes the body", err)
	}
}

func TestPushSplitsLargeBatches(t *testing.T) {
	verifyNoLeaks(t)
	big := make([]byte, 2<<20) // two do not fit one request: the SDK sends at most 3 MiB per request
	batch := []window.Window{
		{App: "a", Name: window.KindCPU, Data: big}, {App: "a", Name: window.KindHeap, Data: big}, {App: "a", Name: window.KindMutex, Data: big},
	}
	tests := []struct {
		name          string
		failAt        int // request index the server fails, -1 for none
		wantDelivered int
		wantRequests  int
	}{
		{"all delivered", -1, 3, 3},
		{"second request fails", 1, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &pushServer{fail: func(n int) error {
				if n == tt.failAt {
					return connect.NewError(connect.CodeUnavailable, errors.New("restarting"))
				}
				return nil
			}}
			addr, client := startPushServer(t, s, "", true)
			p, err := upload.NewPush(addr, nil, client)
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Send(context.Background(), batch)
			if n != tt.wantDelivered || (err == nil) != (tt.failAt < 0) {
				t.Fatalf("Send = %d, %v; want %d delivered", n, err, tt.wantDelivered)
			}
			got := s.received()
			if len(got) != tt.wantRequests {
				t.Fatalf("server got %d requests, want %d", len(got), tt.wantRequests)
			}
			for i, r := range got {
				if len(r.req.Series) != 1 || labelValue(r.req.Series[0], "__name__") != mustProfileName(t, batch[i].Name) {
					t.Errorf("request %d does not hold window %d alone, in order", i, i)
				}
			}
		})
	}
}

func labelValue(s *pushv1.RawProfileSeries, name string) string {
	for _, l := range s.Labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}
