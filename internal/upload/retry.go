package upload

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
)

// The retry policy is applied in two layers that share the backoff below.
//
// The HTTP client retries one request at most httpRetryMax times, waiting
// between httpRetryWaitMin and httpRetryWaitMax: enough to ride over a
// reset connection or a restarting server without the queue noticing.
//
// The queue retries a whole batch after the HTTP layer gave up, waiting
// from queueBackoffBase up to queueBackoffCap, or as long as the server's
// Retry-After asks (capped by ParseRetryAfter): that is what carries
// windows over an outage of minutes, within the queue's byte budget.
const (
	httpRetryMax     = 2
	httpRetryWaitMin = 250 * time.Millisecond
	httpRetryWaitMax = 2 * time.Second

	queueBackoffBase = time.Second
	queueBackoffCap  = 30 * time.Second

	// authMinWait is the least the queue waits after the server rejected
	// the credentials: another attempt within seconds cannot succeed
	// unless someone rotates the token, and it must not hammer the server.
	authMinWait = 10 * time.Second
)

// backoff is the wait before the next attempt after failures consecutive
// failed ones: exponential with full jitter (uniform in [0, min(limit,
// base*2^failures)]) so that many clients do not retry in lockstep, but
// never less than the retryAfter the server asked for.
func backoff(failures int, base, limit, retryAfter time.Duration) time.Duration {
	ceil := limit
	if failures < 32 {
		if c := base << failures; c > 0 && c < limit {
			ceil = c
		}
	}
	return max(rand.N(ceil+1), retryAfter)
}

// retryingDoer sends each request with the short-blip policy above
// (checkRetry, backoff) and caps the response body it returns.
type retryingDoer struct {
	hc      *http.Client
	logf    logging.Func
	onRetry func()
}

func newRetryingDoer(hc *http.Client, opts TransportOptions) *retryingDoer {
	return &retryingDoer{hc: hc, logf: opts.Logf, onRetry: opts.OnRetry}
}

// Do sends req, retrying short failures at most httpRetryMax times. Its
// body is read into memory once so that it can be sent again. When the
// retries run out, the last response or error is returned unchanged, so the
// backend classifies it (status, Retry-After) like any other.
func (d *retryingDoer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("upload: reading the body of %s %s: %w", req.Method, redactURL(req.URL.String()), err)
		}
		body = b
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		if attempt > 0 && d.onRetry != nil {
			d.onRetry()
		}
		resp, err := d.hc.Do(withBody(req, body))
		var ue *url.Error
		if errors.As(err, &ue) {
			// net/http quotes the whole URL, query included: the lines
			// that carry this error name the address as the others do.
			ue.URL = redactURL(ue.URL)
		}
		if !checkRetry(ctx, resp, err) || attempt == httpRetryMax {
			if err != nil {
				d.hc.CloseIdleConnections()
			}
			if resp != nil && resp.Body != nil {
				resp.Body = &cappedBody{rc: resp.Body, left: maxResponseBody}
			}
			return resp, err
		}
		var after time.Duration
		reason := fmt.Sprint(err)
		if resp != nil {
			after = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			reason = resp.Status
			drain(resp.Body)
		}
		wait := backoff(attempt+1, httpRetryWaitMin, httpRetryWaitMax, after)
		if d.logf != nil {
			d.logf(logging.Debug, "http: %s %s: %s; retrying in %v", req.Method, redactURL(req.URL.String()), reason, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			d.hc.CloseIdleConnections()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// withBody is req, to be sent once more, with a fresh reader over body.
func withBody(req *http.Request, body []byte) *http.Request {
	if body == nil {
		return req
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}

// drain reads a little of a response that will not be used and closes it,
// so that its connection can be reused for the retry.
func drain(b io.ReadCloser) {
	io.CopyN(io.Discard, b, 4096)
	b.Close()
}

// CloseIdleConnections closes the client's idle keep-alive connections;
// call it when the SDK stops so that no connection goroutine lingers.
func (d *retryingDoer) CloseIdleConnections() { d.hc.CloseIdleConnections() }

// checkRetry reports whether the HTTP layer retries: connection errors and
// timeouts, 408, 429 and 5xx but 501; not a failed certificate check or a
// redirect loop, which another attempt cannot fix; and not a response whose
// Retry-After is longer than this layer waits, which the queue then honours.
func checkRetry(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return !permanentTransportError(err)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500 && s != http.StatusNotImplemented:
		return ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()) <= httpRetryWaitMax
	}
	return false
}

// permanentTransportError reports errors that no retry can fix.
func permanentTransportError(err error) bool {
	var (
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		verifyError *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownCA) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verifyError) ||
		errors.Is(err, errTooManyRedirects)
}
