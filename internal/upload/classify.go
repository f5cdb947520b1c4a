package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps the wait a server may ask for with Retry-After, so that a
// hostile or confused server cannot park delivery for hours.
const maxRetryAfter = 5 * time.Minute

// maxErrorBody is how much of an error response body is read into a message.
const maxErrorBody = 512

// Classify turns the outcome of one HTTP request into nil (any 2xx) or an
// *Error that says whether to retry. It drains and closes resp.Body, reading
// at most a small capped amount of it.
func Classify(op string, resp *http.Response, err error) error {
	if err != nil {
		// Connection errors and timeouts are retryable; a cancelled context is
		// the caller giving up, which is retryable later too.
		return &Error{Op: op, Retryable: !errors.Is(err, context.Canceled), Err: err}
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Op: op, Status: resp.StatusCode}
	switch s := resp.StatusCode; {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		e.Retryable = true
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		e.Auth = true
	}
	e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if msg := strings.TrimSpace(string(body)); msg != "" {
		e.Err = fmt.Errorf("server said %q", msg)
	}
	return e
}

// ParseRetryAfter reads a Retry-After value, either delay-seconds or an
// HTTP-date, relative to now. It returns 0 for an absent or malformed value
// and caps the result at five minutes.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		// More seconds than an int64 holds: the longest wait we allow.
		return maxRetryAfter
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	return min(max(d, 0), maxRetryAfter)
}
