package upload

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
)

// Doer sends one HTTP request. *http.Client satisfies it, and so does any
// client a user hands the SDK in Config.HTTPClient.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Credentials are what every request to a backend carries.
type Credentials struct {
	// Token is sent as "Authorization: Bearer <token>" on every request.
	Token config.Secret
	// TokenFile names a file holding the token, used instead of Token. It
	// is re-read when it changes (see TokenFile), so rotation needs no restart.
	TokenFile string
	// TokenSource names where Token came from (a Config field or an
	// environment variable), for messages about a rejected token.
	TokenSource string
	// BasicUser and BasicPassword are sent as HTTP basic auth when set.
	BasicUser     string
	BasicPassword config.Secret
	// TenantID is sent as X-Scope-OrgID.
	TenantID string
	// Headers are added to every request after the above, so they can
	// override them on purpose.
	Headers map[string]string
	// UserAgent names the SDK and its version.
	UserAgent string

	fileToken atomic.Pointer[TokenFile] // reader of TokenFile, made on first use
}

// token returns the bearer token to send: the content of TokenFile when
// that is set, Token otherwise.
func (c *Credentials) token() config.Secret {
	if c.TokenFile == "" {
		return c.Token
	}
	f := c.fileToken.Load()
	if f == nil || f.Path() != c.TokenFile {
		c.fileToken.CompareAndSwap(f, NewTokenFile(c.TokenFile))
		f = c.fileToken.Load()
	}
	return f.Token()
}

// Apply sets the credentials' headers on h.
func (c *Credentials) Apply(h http.Header) {
	if c == nil {
		return
	}
	if c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
	if tok := c.token(); tok.IsSet() {
		h.Set("Authorization", "Bearer "+tok.Reveal())
	} else if c.BasicUser != "" || c.BasicPassword.IsSet() {
		r := http.Request{Header: h}
		r.SetBasicAuth(c.BasicUser, c.BasicPassword.Reveal())
	}
	if c.TenantID != "" {
		h.Set("X-Scope-OrgID", c.TenantID)
	}
	for k, v := range c.Headers {
		h.Set(k, v)
	}
}

// scrub removes the credentials' secrets from the message of e, which may
// quote a server that echoed them. Backends call it on every Auth failure,
// so that no *Error they return holds a secret.
func (c *Credentials) scrub(e *Error) {
	if c == nil || e.Err == nil {
		return
	}
	if msg := (redactor{c}).redact(e.Err.Error()); msg != e.Err.Error() {
		e.Err = errors.New(msg)
	}
}

// explainRejection rewrites the message of an Auth failure into one
// sentence saying which credentials the server rejected, where they came
// from and what the server said. The queue calls it, once per failure: it
// is the one place that explains a rejected token.
func (c *Credentials) explainRejection(e *Error) {
	detail := ""
	if e.Err != nil {
		detail = (redactor{c}).redact(e.Err.Error())
	}
	var what string
	switch {
	case c != nil && c.token().IsSet():
		src := c.TokenSource
		if src == "" {
			src = "the configuration"
		}
		what = "the server rejected the bearer token from " + src + "; check that it is current and allowed to write profiles"
	case c != nil && (c.BasicUser != "" || c.BasicPassword.IsSet()):
		what = fmt.Sprintf("the server rejected basic auth for user %q; check the user and password", c.BasicUser)
	default:
		what = "the server requires credentials and none are configured; set a token"
	}
	if detail != "" {
		what += " (" + detail + ")"
	}
	e.Err = errors.New(what)
}

// closeIdle closes client's idle keep-alive connections, when it can, so
// that no connection goroutine outlives the SDK.
func closeIdle(client Doer) {
	if c, ok := client.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
