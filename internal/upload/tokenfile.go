package upload

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
)

// tokenFileCheckEvery is how often a TokenFile looks at its file again. A
// stat every few seconds is cheap, and a rotated token is picked up well
// before the old one expires.
const tokenFileCheckEvery = 2 * time.Second

// maxTokenFileSize bounds what is read from a token file, so that pointing
// it at the wrong file cannot load megabytes into every request header.
const maxTokenFileSize = 64 << 10

// A TokenFile is a bearer token kept in a file, as Kubernetes secrets and
// vault agents provide it. Token re-reads the file when its identity, size
// or modification time changes, checking at most every two seconds, so a
// rotated token is used without a restart. It is safe for concurrent use.
type TokenFile struct {
	path string
	now  func() time.Time // time.Now, replaced in tests

	mu      sync.Mutex
	token   config.Secret
	info    os.FileInfo // of the file token was read from
	checked time.Time   // when the file was last looked at
	err     error       // why the last look failed, nil when it did not
}

// NewTokenFile returns a TokenFile reading path. The file is read on the
// first call to Token, not here.
func NewTokenFile(path string) *TokenFile {
	return &TokenFile{path: path, now: time.Now}
}

// Path returns the file's name.
func (f *TokenFile) Path() string { return f.path }

// Token returns the file's content without surrounding white space. When
// the file cannot be read or is empty, it keeps returning the last token it
// read (the empty Secret if none) and Err says why.
func (f *TokenFile) Token() config.Secret {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if since := now.Sub(f.checked); !f.checked.IsZero() && since >= 0 && since < tokenFileCheckEvery {
		return f.token
	}
	f.checked = now
	info, err := os.Stat(f.path)
	if err != nil {
		f.err = fmt.Errorf("token file %q: %w", f.path, err)
		return f.token
	}
	if f.info != nil && os.SameFile(f.info, info) && info.Size() == f.info.Size() && info.ModTime().Equal(f.info.ModTime()) {
		return f.token
	}
	tok, err := readTokenFile(f.path)
	if err != nil {
		f.err = err
		return f.token
	}
	f.token, f.info, f.err = tok, info, nil
	return f.token
}

// Err reports why the last read of the file failed, or nil.
func (f *TokenFile) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// readTokenFile reads and trims a token. Its errors name the file but never
// quote its content.
func readTokenFile(path string) (config.Secret, error) {
	fh, err := os.Open(path)
	if err != nil {
		return config.Secret{}, fmt.Errorf("token file %q: %w", path, err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenFileSize+1))
	if err != nil {
		return config.Secret{}, fmt.Errorf("token file %q: %w", path, err)
	}
	if len(b) > maxTokenFileSize {
		return config.Secret{}, fmt.Errorf("token file %q is larger than %d bytes: point it at the file holding only the token", path, maxTokenFileSize)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return config.Secret{}, fmt.Errorf("token file %q: %w", path, errEmptyToken)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return config.Secret{}, fmt.Errorf("token file %q holds more than one line: it must hold only the token", path)
	}
	return config.NewSecret(tok), nil
}

var errEmptyToken = errors.New("file is empty: write the token into it")
