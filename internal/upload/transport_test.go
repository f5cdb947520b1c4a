package upload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newClient builds the SDK's HTTP client and closes it at the end of the test.
func newClient(t *testing.T, opts TransportOptions) Doer {
	t.Helper()
	d, err := NewHTTPClient(opts, nil)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	t.Cleanup(d.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	return d
}

func post(t *testing.T, d Doer, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte("profile")))
	if err != nil {
		t.Fatal(err)
	}
	tokenCreds().Apply(req.Header)
	return d.Do(req)
}

// scripted answers the i-th request with statuses[i] (200 past the end) and
// records when each arrived.
type scripted struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	arrivals []time.Time
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	i := len(s.arrivals)
	s.arrivals = append(s.arrivals, time.Now())
	s.mu.Unlock()
	if i < len(s.statuses) {
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(s.statuses[i])
	}
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

// The client retries short failures itself and leaves the rest to the
// queue: it honours a short Retry-After, and hands back a long one.
func TestHTTPClientRetries(t *testing.T) {
	leakCheck(t)
	tests := []struct {
		name     string
		statuses []int
		header   http.Header
		attempts int
		status   int
	}{
		{"503 then ok", []int{503}, nil, 2, 200},
		{"connection-level 502 twice then ok", []int{502, 502}, nil, 3, 200},
		{"gives up after RetryMax", []int{500, 500, 500, 500}, nil, 3, 500},
		{"400 not retried", []int{400}, nil, 1, 400},
		{"401 not retried", []int{401}, nil, 1, 401},
		{"501 not retried", []int{501}, nil, 1, 501},
		{"long Retry-After left to the queue", []int{429}, http.Header{"Retry-After": {"60"}}, 1, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{statuses: tt.statuses, header: tt.header}
			srv := httptest.NewServer(s)
			defer srv.Close()
			logs := captureLogs(t)
			d := newClient(t, TransportOptions{Logf: logs.logf})
			resp, err := post(t, d, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || s.count() != tt.attempts {
				t.Errorf("status %d after %d attempts, want %d after %d", resp.StatusCode, s.count(), tt.status, tt.attempts)
			}
		})
	}
}

// A 429 with Retry-After: 2 is retried no sooner than 2 s later, measured
// on the server (a lower bound only).
func TestHTTPClientRetryAfter(t *testing.T) {
	leakCheck(t)
	s := &scripted{statuses: []int{429}, header: http.Header{"Retry-After": {"2"}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	retries := 0
	d := newClient(t, TransportOptions{OnRetry: func() { retries++ }})
	resp, err := post(t, d, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(s.arrivals) != 2 || retries != 1 {
		t.Fatalf("status %d after %d attempts, %d retries counted", resp.StatusCode, len(s.arrivals), retries)
	}
	if gap := s.arrivals[1].Sub(s.arrivals[0]); gap < 2*time.Second {
		t.Errorf("retried %s after Retry-After: 2", gap)
	}
}

// Authorization survives a redirect on the same scheme, host and port
// only; Go's own client would keep it for another port of the same host.
func TestHTTPClientRedirectDropsAuthorization(t *testing.T) {
	leakCheck(t)
	var mu sync.Mutex
	seen := map[string]string{} // landing path -> Authorization
	record := func(w http.ResponseWriter, r *http.Request) {
		if to, ok := strings.CutPrefix(r.URL.Path, "/to/"); ok {
			http.Redirect(w, r, "http://"+to, http.StatusTemporaryRedirect)
			return
		}
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(record))
	defer other.Close()
	origin := httptest.NewServer(http.HandlerFunc(record))
	defer origin.Close()
	_, port, _ := net.SplitHostPort(other.Listener.Addr().String())
	originHost := origin.Listener.Addr().String()

	tests := []struct {
		name, path string
		keep       bool
	}{
		{"same origin", "/to/" + originHost + "/same", true},
		{"same host, other port", "/to/127.0.0.1:" + port + "/other-port", false},
		{"other host name", "/to/localhost:" + port + "/other-host", false},
		{"back to the origin via another host", "/to/localhost:" + port + "/to/" + originHost + "/back", false},
	}
	d := newClient(t, TransportOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := post(t, d, origin.URL+tt.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			landed := tt.path[strings.LastIndex(tt.path, "/"):]
			mu.Lock()
			got, ok := seen[landed]
			mu.Unlock()
			if !ok {
				t.Fatalf("the redirect never reached %s (seen %v)", landed, seen)
			}
			if has := got == "Bearer "+canaryToken; has != tt.keep {
				t.Errorf("Authorization kept at %s: %v, want %v", landed, has, tt.keep)
			}
		})
	}
}

// A CA file makes a server with a private CA trusted; without it the
// certificate check fails and is not retried.
func TestHTTPClientCAFile(t *testing.T) {
	leakCheck(t)
	s := &scripted{}
	srv := httptest.NewTLSServer(s)
	defer srv.Close()

	_, err := post(t, newClient(t, TransportOptions{}), srv.URL)
	if err == nil || !permanentTransportError(err) {
		t.Fatalf("unknown CA: err = %v, want a certificate error", err)
	}
	caFile := writePEM(t, "ca.pem", "CERTIFICATE", srv.Certificate().Raw)
	resp, err := post(t, newClient(t, TransportOptions{CAFile: caFile}), srv.URL)
	if err != nil {
		t.Fatalf("with CAFile: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || s.count() != 1 {
		t.Errorf("status %d, %d requests served", resp.StatusCode, s.count())
	}
}

// The insecure switch works and says loudly that it is on.
func TestHTTPClientInsecureWarns(t *testing.T) {
	leakCheck(t)
	srv := httptest.NewTLSServer(&scripted{})
	defer srv.Close()
	logs := captureLogs(t)
	resp, err := post(t, newClient(t, TransportOptions{InsecureSkipVerify: true, Logf: logs.logf}), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if w := logs.matching("warn: TLS certificate verification is off"); len(w) != 1 {
		t.Errorf("logs %q: want one warning", logs.all())
	}
}

// A client certificate is presented to a server that requires one.
func TestHTTPClientClientCertificate(t *testing.T) {
	leakCheck(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "profiled-app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile := writePEM(t, "client.pem", "CERTIFICATE", leafDER)
	keyFile := writePEM(t, "client-key.pem", "EC PRIVATE KEY", keyDER)

	var mu sync.Mutex
	var peer string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		peer = r.TLS.PeerCertificates[0].Subject.CommonName
	}))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = discardLogger()
	srv.StartTLS()
	defer srv.Close()
	caFile := writePEM(t, "server-ca.pem", "CERTIFICATE", srv.Certificate().Raw)

	if resp, err := post(t, newClient(t, TransportOptions{CAFile: caFile}), srv.URL); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("server accepted a client without a certificate; the test proves nothing")
		}
	}
	resp, err := post(t, newClient(t, TransportOptions{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || peer != "profiled-app" {
		t.Errorf("status %d, server saw client certificate %q", resp.StatusCode, peer)
	}
}

// Response bodies are capped: a backend cannot be made to read more.
func TestHTTPClientCapsResponseBody(t *testing.T) {
	leakCheck(t)
	for _, tt := range []struct {
		size int
		ok   bool
	}{{maxResponseBody, true}, {maxResponseBody + 1, false}, {8 * maxResponseBody, false}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, tt.size))
		}))
		resp, err := post(t, newClient(t, TransportOptions{}), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if (err == nil) != tt.ok || len(b) > maxResponseBody {
			t.Errorf("body of %d bytes: read %d, err %v; want ok=%v", tt.size, len(b), err, tt.ok)
		}
	}
}

// Bad options fail with an error that names what to fix.
func TestHTTPClientOptionErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tests := []struct {
		name string
		opts TransportOptions
		base Doer
		want string
	}{
		{"missing CA file", TransportOptions{CAFile: "/nonexistent/ca.pem"}, nil, "TLS CA file"},
		{"CA file without PEM", TransportOptions{CAFile: notPEM}, nil, "holds no PEM certificate"},
		{"cert without key", TransportOptions{CertFile: notPEM}, nil, "set both the certificate file and the key file"},
		{"unreadable key pair", TransportOptions{CertFile: notPEM, KeyFile: notPEM}, nil, "TLS client certificate"},
		{"TLS options with a custom client", TransportOptions{InsecureSkipVerify: true}, &http.Client{}, "custom HTTPClient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTPClient(tt.opts, tt.base)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// A user's own client is used as it is, with the retry layer on top.
func TestHTTPClientUsesBaseClient(t *testing.T) {
	leakCheck(t)
	s := &scripted{statuses: []int{503}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	var used int
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used++
		return tr.RoundTrip(r)
	})}
	d, err := NewHTTPClient(TransportOptions{}, base)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	resp, err := post(t, d, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || used != 2 {
		t.Errorf("status %d, base client used %d times, want 200 after 2", resp.StatusCode, used)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// HTTPS_PROXY and HTTP_PROXY route the client through a proxy, with the CA
// file trusted through the tunnel. Go reads the proxy variables once per
// process and never proxies loopback addresses, so the client runs in a
// child process (this test binary) with the variables set, and talks to
// example.com, which the test proxy sends to the servers on 127.0.0.1.
func TestHTTPClientProxyFromEnvironment(t *testing.T) {
	if os.Getenv("UPLOAD_PROXY_CHILD") != "" {
		t.Skip("running as the child of this test")
	}
	leakCheck(t)
	var mu sync.Mutex
	var tokens []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tokens = append(tokens, r.Header.Get("Authorization"))
	})
	tlsSrv := httptest.NewTLSServer(handler)
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(handler)
	defer plainSrv.Close()
	proxy := newTestProxy(t)

	_, tlsPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	_, plainPort, _ := net.SplitHostPort(plainSrv.Listener.Addr().String())
	cmd := exec.Command(os.Args[0], "-test.run=^TestHTTPClientProxyChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		"UPLOAD_PROXY_CHILD=1",
		"HTTPS_PROXY="+proxy.URL, "HTTP_PROXY="+proxy.URL, "NO_PROXY=", "no_proxy=",
		"CHILD_URLS=https://example.com:"+tlsPort+"/ingest http://example.com:"+plainPort+"/ingest",
		"CHILD_CA="+writePEM(t, "ca.pem", "CERTIFICATE", tlsSrv.Certificate().Raw),
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestHTTPClientProxyChild")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte(canaryToken)) {
		t.Errorf("child output leaks the token:\n%s", out)
	}
	seen := proxy.requests()
	want := []string{"CONNECT example.com:" + tlsPort, "POST http://example.com:" + plainPort + "/ingest"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("proxy saw %q, want %q", seen, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 2 || tokens[0] != "Bearer "+canaryToken || tokens[1] != "Bearer "+canaryToken {
		t.Errorf("servers saw %d requests, not all with the token", len(tokens))
	}
}

// TestHTTPClientProxyChild is the client side of the proxy test.
func TestHTTPClientProxyChild(t *testing.T) {
	if os.Getenv("UPLOAD_PROXY_CHILD") == "" {
		t.Skip("run by TestHTTPClientProxyFromEnvironment")
	}
	d := newClient(t, TransportOptions{CAFile: os.Getenv("CHILD_CA")})
	for _, u := range strings.Fields(os.Getenv("CHILD_URLS")) {
		resp, err := post(t, d, u)
		if err != nil {
			t.Fatalf("POST %s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: status %d", u, resp.StatusCode)
		}
	}
}

// testProxy is a forward proxy on 127.0.0.1 that sends example.com to
// 127.0.0.1 and records each request line.
type testProxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newTestProxy(t *testing.T) *testProxy {
	p := &testProxy{}
	dial := func(hostport string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(hostport)
		return net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	}
	tr := &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) { return dial(addr) }}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if r.Method == http.MethodConnect {
			p.seen = append(p.seen, "CONNECT "+r.Host)
		} else {
			p.seen = append(p.seen, r.Method+" "+r.URL.String())
		}
		p.mu.Unlock()
		if r.Method != http.MethodConnect {
			r.RequestURI = ""
			resp, err := tr.RoundTrip(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		upstream, err := dial(r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer upstream.Close()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		done := make(chan struct{})
		go func() {
			io.Copy(upstream, bufio.NewReader(io.MultiReader(buf, conn)))
			upstream.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		io.Copy(conn, upstream)
		conn.Close()
		<-done
	}))
	t.Cleanup(func() { p.Close(); tr.CloseIdleConnections() })
	return p
}

func (p *testProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
