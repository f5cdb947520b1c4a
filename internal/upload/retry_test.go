package upload

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// backoff is full jitter: spread over [0, min(limit, base*2^n)], never
// below Retry-After, never above the limit otherwise.
func TestBackoffFullJitter(t *testing.T) {
	const base, limit = time.Second, 30 * time.Second
	for _, failures := range []int{0, 1, 2, 4, 5, 10, 40, 1000} {
		ceil := limit
		if failures < 5 {
			ceil = base << failures
		}
		lo, hi := ceil, time.Duration(0)
		for range 2000 {
			d := backoff(failures, base, limit, 0)
			if d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %s, outside [0, %s]", failures, d, ceil)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo > ceil/4 || hi < ceil*3/4 {
			t.Errorf("backoff(%d) spans only [%s, %s] of [0, %s]: not full jitter", failures, lo, hi, ceil)
		}
		if d := backoff(failures, base, limit, 2*time.Minute); d != 2*time.Minute {
			t.Errorf("backoff(%d) with Retry-After 2m = %s", failures, d)
		}
	}
}

func TestCheckRetry(t *testing.T) {
	resp := func(status int, retryAfter string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(nil)}
		if retryAfter != "" {
			r.Header.Set("Retry-After", retryAfter)
		}
		return r
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		resp  *http.Response
		err   error
		retry bool
	}{
		{"connection reset", context.Background(), nil, &url.Error{Op: "Post", URL: "x", Err: errors.New("connection reset by peer")}, true},
		{"unknown CA", context.Background(), nil, &url.Error{Op: "Post", URL: "x", Err: x509.UnknownAuthorityError{}}, false},
		{"redirect loop", context.Background(), nil, &url.Error{Op: "Post", URL: "x", Err: errTooManyRedirects}, false},
		{"caller gave up", cancelled, nil, context.Canceled, false},
		{"408", context.Background(), resp(408, ""), nil, true},
		{"429 short Retry-After", context.Background(), resp(429, "1"), nil, true},
		{"429 long Retry-After", context.Background(), resp(429, "30"), nil, false},
		{"503", context.Background(), resp(503, ""), nil, true},
		{"501", context.Background(), resp(501, ""), nil, false},
		{"400", context.Background(), resp(400, ""), nil, false},
		{"403", context.Background(), resp(403, ""), nil, false},
		{"200", context.Background(), resp(200, ""), nil, false},
	}
	for _, tt := range tests {
		if retry := checkRetry(tt.ctx, tt.resp, tt.err); retry != tt.retry {
			t.Errorf("%s: checkRetry = %v, want %v", tt.name, retry, tt.retry)
		}
	}
}
