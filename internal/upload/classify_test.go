package upload

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var retryAfterNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"1.5", 0},
		{"soon", 0},
		{"300", maxRetryAfter},
		{"301", maxRetryAfter},
		{"99999999999999999999999", maxRetryAfter},
		{retryAfterNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{retryAfterNow.Add(-time.Hour).Format(http.TimeFormat), 0},
		{retryAfterNow.Add(24 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sunday, 01-Mar-26 12:00:30 GMT", 30 * time.Second}, // RFC 850
		{"Sun Mar  1 12:00:30 2026", 30 * time.Second},       // asctime
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, retryAfterNow); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzParseRetryAfter checks that any header value yields a wait within
// [0, maxRetryAfter], that delay-seconds mean what they say, and that an
// HTTP-date means the time until it. Run it in CI with
//
//	go test ./upload -run '^$' -fuzz '^FuzzParseRetryAfter$' -fuzztime 10s
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "2", "120", "-1", "+5", "1e3", " 42\t", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 01 Mar 2026 12:01:00 GMT", "Sun, 01 Mar 9999 12:01:00 GMT", "garbage"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := ParseRetryAfter(v, retryAfterNow)
		if got < 0 || got > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s, outside [0, %s]", v, got, maxRetryAfter)
		}
		s := strings.TrimSpace(v)
		if s != "" && strings.Trim(s, "0123456789") == "" {
			want := maxRetryAfter
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n < int64(maxRetryAfter/time.Second) {
				want = time.Duration(n) * time.Second
			}
			if got != want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s", v, got, want)
			}
			return
		}
		if at, err := http.ParseTime(s); err == nil {
			want := min(max(at.Sub(retryAfterNow), 0), maxRetryAfter)
			if got != want {
				t.Fatalf("ParseRetryAfter(%q) = %s, want %s (date %s)", v, got, want, at)
			}
		}
	})
}
