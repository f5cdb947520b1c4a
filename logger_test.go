package pyroscope

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/clock/clocktest"
)

// syncBuffer is a bytes.Buffer safe for the SDK's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A *slog.Logger gets each line once, at its level, with the attributes a
// user filters on: app everywhere, attempts and status on a failed upload.
func TestSlogLoggerGetsLevelsAndAttributes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid API key", http.StatusUnauthorized)
	}))
	defer srv.Close()
	var out syncBuffer
	l := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := start(Config{
		ApplicationName: "shop.api", ServerAddress: srv.URL, AuthToken: "canary-secret-7f3a",
		ProfileTypes: []ProfileType{ProfileGoroutines}, Logger: SlogLogger(l),
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err == nil {
		t.Fatal("Stop reported no loss although the server refused the window")
	}
	var rejected, warned, info int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if rec["app"] != "shop.api" {
			t.Errorf("line without app=shop.api: %q", line)
		}
		msg, _ := rec["msg"].(string)
		if strings.Contains(msg, "canary-secret-7f3a") || strings.HasPrefix(msg, "warning: ") {
			t.Errorf("line leaks the token or carries a level prefix: %q", line)
		}
		switch {
		case strings.HasPrefix(msg, "stop: "):
			t.Errorf("Stop logged the failure it returns, a second time: %q", line)
		case strings.Contains(msg, "rejected the bearer token from Config.AuthToken"):
			if rec["level"] != "ERROR" {
				t.Errorf("rejection said again at %v: %q", rec["level"], line)
				break
			}
			rejected++
			if rec["status"] != float64(401) || rec["attempts"] != float64(1) {
				t.Errorf("rejection line has status %v, attempts %v; want 401 and 1", rec["status"], rec["attempts"])
			}
		case rec["level"] == "WARN":
			warned++
		case rec["level"] == "INFO" && strings.HasPrefix(msg, "profiling shop.api"):
			info++
		}
	}
	if rejected != 1 || warned == 0 || info != 1 {
		t.Errorf("got %d rejection errors, %d warnings, %d start lines; want 1, some, 1:\n%s", rejected, warned, info, out.String())
	}
}
