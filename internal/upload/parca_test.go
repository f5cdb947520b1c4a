package upload

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// The Parca backend sends through the client it is given, the user's
// included, and so gets the HTTP layer's short retries: a proxy's 503 in
// front of the gRPC server costs no window.
func TestParcaUsesTheClientAndItsShortRetries(t *testing.T) {
	leakCheck(t)
	var calls atomic.Int32
	srv := proftest.NewH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "upstream restarting", http.StatusServiceUnavailable)
			return
		}
		if r.ProtoMajor != 2 || r.Header.Get("Content-Type") != "application/grpc" {
			http.Error(w, "not gRPC", http.StatusBadRequest)
			return
		}
		proftest.WriteGRPCOK(w)
	}))

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	var used atomic.Int32
	user := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return tr.RoundTrip(r)
	})}
	client, err := NewHTTPClient(TransportOptions{HTTP2: true}, user)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewParca(srv.URL, nil, client)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := p.Send(ctx, []window.Window{{App: "a", Name: window.KindCPU, Data: []byte("not checked by this server")}})
	if n != 1 || err != nil {
		t.Fatalf("Send = %d, %v; want the window delivered after one short retry", n, err)
	}
	if calls.Load() != 2 || used.Load() != 2 {
		t.Errorf("server answered %d calls, the user's client made %d; want 2 and 2", calls.Load(), used.Load())
	}
}

// A bare host:port means TLS; against a plaintext server the failure says
// to write http://.
func TestParcaBareAddressAgainstPlaintextSaysHTTP(t *testing.T) {
	leakCheck(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	client, err := NewHTTPClient(TransportOptions{HTTP2: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewParca(strings.TrimPrefix(srv.URL, "http://"), nil, client)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = p.Send(ctx, []window.Window{{App: "a", Name: window.KindCPU, Data: []byte("x")}})
	if err == nil || !strings.Contains(err.Error(), "write the address as http://host:port") {
		t.Fatalf("Send = %v; want the hint to write http://", err)
	}
}
