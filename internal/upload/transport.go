package upload

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
)

// maxResponseBody caps what a backend can read of any response: the SDK
// only needs a status and a short message, and a broken or hostile server
// must not make it buffer an endless body.
const maxResponseBody = 1 << 20

// maxRedirects bounds a redirect chain.
const maxRedirects = 5

var errTooManyRedirects = errors.New("upload: stopped after too many redirects")

// TransportOptions configure the HTTP client NewHTTPClient builds.
type TransportOptions struct {
	// CAFile names a PEM file of CA certificates trusted in addition to
	// the system's, for a server with a private CA.
	CAFile string
	// CertFile and KeyFile name a PEM client certificate and its key, for
	// servers that require mutual TLS. Set both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify turns off TLS certificate verification. It is
	// for tests only and logs a warning.
	InsecureSkipVerify bool
	// Timeout bounds one HTTP exchange, body included. Default 10s.
	Timeout time.Duration
	// Logf receives the client's messages, as QueueOptions.Logf.
	Logf logging.Func
	// OnRetry, when set, is called each time the client retries a request
	// by itself (the queue's Stats.Retried counts only its own retries).
	OnRetry func()
	// HTTP2 makes the client speak HTTP/2 only, in plaintext (h2c) for an
	// http:// URL: what gRPC (the parca protocol) needs.
	HTTP2 bool
}

// NewHTTPClient returns the Doer every backend sends through: the one
// transport builder of the SDK.
//
// The Doer retries short failures itself (see retry.go) and leaves longer
// outages to the Queue. It honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY,
// verifies TLS certificates unless told otherwise, drops the Authorization
// header on a redirect to another scheme, host or port (Go's client keeps
// it for the same host name on another port and for subdomains), and caps
// response bodies at 1 MiB.
//
// base is the user's own client (Config.HTTPClient), or nil. When set, its
// transport is used as it is, so the TLS options must be unset, and the
// returned tls.Config is nil. The returned Doer also has a
// CloseIdleConnections method, to call when the SDK stops.
func NewHTTPClient(opts TransportOptions, base Doer) (Doer, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if base != nil {
		if opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "" || opts.InsecureSkipVerify {
			return nil, errors.New("the TLS options (CA file, client certificate, insecure switch) cannot apply to a custom HTTPClient: configure its transport instead, or drop it")
		}
		var hc *http.Client
		if c, ok := base.(*http.Client); ok {
			copied := *c
			hc = &copied
			if hc.CheckRedirect == nil {
				hc.CheckRedirect = checkRedirect
			}
		} else {
			hc = &http.Client{Transport: doerTransport{base}, CheckRedirect: checkRedirect}
		}
		if hc.Timeout == 0 {
			hc.Timeout = opts.Timeout
		}
		return newRetryingDoer(hc, opts), nil
	}
	tc, err := tlsConfig(opts)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   opts.Timeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          8,
		MaxIdleConnsPerHost:   defaultWorkers,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if opts.HTTP2 {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
		// An HTTP proxy cannot carry plaintext HTTP/2: only TLS goes
		// through one (CONNECT).
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			if r.URL.Scheme == "http" {
				return nil, nil
			}
			return http.ProxyFromEnvironment(r)
		}
	}
	hc := &http.Client{Transport: t, Timeout: opts.Timeout, CheckRedirect: checkRedirect}
	return newRetryingDoer(hc, opts), nil
}

// tlsConfig builds the client TLS settings; its errors name the option at
// fault and never quote file contents.
func tlsConfig(opts TransportOptions) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %q holds no PEM certificate: give a file with -----BEGIN CERTIFICATE----- blocks", opts.CAFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case opts.CertFile != "" && opts.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate (%q, key %q): %w", opts.CertFile, opts.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case opts.CertFile != "" || opts.KeyFile != "":
		return nil, errors.New("TLS client certificate: set both the certificate file and the key file, or neither")
	}
	if opts.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
		if opts.Logf != nil {
			opts.Logf(logging.Warn, "TLS certificate verification is off (insecure switch): anyone on the path to the server can read the profiles and the credentials; use a CA file instead")
		}
	}
	return tc, nil
}

// checkRedirect follows at most maxRedirects redirects and keeps the
// Authorization header only while every hop stays on the first request's
// scheme, host and port.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return errTooManyRedirects
	}
	for _, r := range append(via[1:], req) {
		if !sameOrigin(r.URL, via[0].URL) {
			req.Header.Del("Authorization")
			break
		}
	}
	return nil
}

// sameOrigin compares scheme, host and port, filling in default ports.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// doerTransport lets a user's Doer serve as the transport of the client
// that retryingDoer drives.
type doerTransport struct{ d Doer }

func (t doerTransport) RoundTrip(req *http.Request) (*http.Response, error) { return t.d.Do(req) }

// cappedBody fails a read past its limit instead of returning more.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("upload: response body is larger than %d bytes", maxResponseBody)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
