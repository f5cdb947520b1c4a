package upload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
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

// retryingDoer sends each request through go-retryablehttp with the
// short-blip policy above and caps the response body it returns.
type retryingDoer struct {
	c *retryablehttp.Client
}

func newRetryingDoer(hc *http.Client, opts TransportOptions) *retryingDoer {
	c := &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       leveledLogf{opts.Logf},
		RetryWaitMin: httpRetryWaitMin,
		RetryWaitMax: httpRetryWaitMax,
		RetryMax:     httpRetryMax,
		CheckRetry:   checkRetry,
		Backoff: func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
			var after time.Duration
			if resp != nil {
				after = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			}
			return backoff(attempt+1, lo, hi, after)
		},
		// Hand the last response or error back unchanged, so the backend
		// classifies it (status, Retry-After) like any other.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	if opts.OnRetry != nil {
		c.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
			if attempt > 0 {
				opts.OnRetry()
			}
		}
	}
	return &retryingDoer{c: c}
}

// Do sends req, retrying short failures. Its body is read into memory once
// so that it can be sent again.
func (d *retryingDoer) Do(req *http.Request) (*http.Response, error) {
	rr, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, fmt.Errorf("upload: reading the body of %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	resp, err := d.c.Do(rr)
	if resp != nil && resp.Body != nil {
		resp.Body = &cappedBody{rc: resp.Body, left: maxResponseBody}
	}
	return resp, err
}

// CloseIdleConnections closes the client's idle keep-alive connections;
// call it when the SDK stops so that no connection goroutine lingers.
func (d *retryingDoer) CloseIdleConnections() { d.c.HTTPClient.CloseIdleConnections() }

// checkRetry is the HTTP layer's CheckRetry: retry connection errors and
// timeouts, 408, 429 and 5xx but 501; not a failed certificate check or a
// redirect loop, which another attempt cannot fix; and not a response
// whose Retry-After is longer than this layer waits, which the queue then
// honours. It never returns an error, so the last response or error reaches
// the backend unchanged.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, nil
	}
	if err != nil {
		return !permanentTransportError(err), nil
	}
	switch s := resp.StatusCode; {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500 && s != http.StatusNotImplemented:
		return ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()) <= httpRetryWaitMax, nil
	}
	return false, nil
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

// leveledLogf routes go-retryablehttp's messages to Logf at debug level:
// the queue reports the failures that matter. The library redacts URL
// passwords itself; headers, where tokens live, are never logged.
type leveledLogf struct {
	logf func(level, format string, args ...any)
}

func (l leveledLogf) Error(msg string, kv ...any) { l.log(msg, kv) }
func (l leveledLogf) Warn(msg string, kv ...any)  { l.log(msg, kv) }
func (l leveledLogf) Info(msg string, kv ...any)  { l.log(msg, kv) }
func (l leveledLogf) Debug(msg string, kv ...any) { l.log(msg, kv) }

func (l leveledLogf) log(msg string, kv []any) {
	if l.logf == nil {
		return
	}
	var b strings.Builder
	b.WriteString("http: ")
	b.WriteString(msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	l.logf("debug", "%s", b.String())
}
