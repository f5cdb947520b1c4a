package upload

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNow is a settable time for TokenFile.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func writeToken(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTokenFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	writeToken(t, path, "  first-token\n")
	clk := &fakeNow{t: time.Unix(1_700_000_000, 0)}
	f := NewTokenFile(path)
	f.now = clk.now

	if got := f.Token().Reveal(); got != "first-token" {
		t.Fatalf("Token = %q, want the trimmed content", got)
	}
	writeToken(t, path, "second-token-longer\n")
	if got := f.Token().Reveal(); got != "first-token" {
		t.Errorf("re-read %q within the check interval", got)
	}
	clk.add(tokenFileCheckEvery)
	if got := f.Token().Reveal(); got != "second-token-longer" {
		t.Errorf("after rotation Token = %q", got)
	}

	// Rotation by rename, as Kubernetes does: same size, same mtime, new file.
	info, _ := os.Stat(path)
	next := filepath.Join(dir, "token.new")
	writeToken(t, next, "third--token-longer\n")
	os.Chtimes(next, info.ModTime(), info.ModTime())
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	clk.add(tokenFileCheckEvery)
	if got := f.Token().Reveal(); got != "third--token-longer" {
		t.Errorf("after rename Token = %q", got)
	}

	// A file emptied or removed mid-rotation keeps the last good token.
	writeToken(t, path, "\n")
	clk.add(tokenFileCheckEvery)
	if got := f.Token().Reveal(); got != "third--token-longer" || f.Err() == nil {
		t.Errorf("emptied file: Token = %q, Err = %v", got, f.Err())
	}
	os.Remove(path)
	clk.add(tokenFileCheckEvery)
	if got := f.Token().Reveal(); got != "third--token-longer" || f.Err() == nil {
		t.Errorf("removed file: Token = %q, Err = %v", got, f.Err())
	}
	writeToken(t, path, "fourth")
	clk.add(tokenFileCheckEvery)
	if got := f.Token().Reveal(); got != "fourth" || f.Err() != nil {
		t.Errorf("recreated file: Token = %q, Err = %v", got, f.Err())
	}
}

func TestTokenFileErrorsNeverQuoteContent(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"two-lines": canaryToken + "\n" + canaryToken + "\n",
		"too-large": canaryToken + strings.Repeat("x", maxTokenFileSize),
	} {
		path := filepath.Join(dir, name)
		writeToken(t, path, content)
		f := NewTokenFile(path)
		if tok := f.Token(); tok.IsSet() || f.Err() == nil {
			t.Errorf("%s: Token set=%v, Err=%v; want an error", name, tok.IsSet(), f.Err())
			continue
		}
		assertNoSecret(t, name+" error", f.Err().Error())
	}
	f := NewTokenFile(filepath.Join(dir, "missing"))
	if f.Token().IsSet() || f.Err() == nil || !strings.Contains(f.Err().Error(), "missing") {
		t.Errorf("missing file: Err = %v", f.Err())
	}
}

// Credentials with a TokenFile send the file's current token.
func TestCredentialsTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, canaryToken+"\n")
	c := &Credentials{TokenFile: path, TokenSource: "PYROSCOPE_AUTH_TOKEN_FILE"}
	h := http.Header{}
	c.Apply(h)
	if got := h.Get("Authorization"); got != "Bearer "+canaryToken {
		t.Fatalf("Authorization = %q", got)
	}
	clk := &fakeNow{t: time.Now()}
	c.fileToken.Load().now = clk.now
	writeToken(t, path, "rotated-token-value\n")
	clk.add(time.Hour)
	c.Apply(h)
	if got := h.Get("Authorization"); got != "Bearer rotated-token-value" {
		t.Errorf("after rotation Authorization = %q", got)
	}
	if got := (redactor{c}).redact("echo rotated-token-value"); got != "echo [redacted]" {
		t.Errorf("redact = %q", got)
	}
}
