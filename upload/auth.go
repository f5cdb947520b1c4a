package upload

import (
	"net/http"
)

// Doer sends one HTTP request. *http.Client satisfies it, and so does any
// client a user hands the SDK in Config.HTTPClient.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Credentials are what every request to a backend carries.
type Credentials struct {
	// Token is sent as "Authorization: Bearer <token>" on every request.
	Token Secret
	// TokenSource names where Token came from (a Config field or an
	// environment variable), for messages about a rejected token.
	TokenSource string
	// BasicUser and BasicPassword are sent as HTTP basic auth when set.
	BasicUser     string
	BasicPassword Secret
	// TenantID is sent as X-Scope-OrgID.
	TenantID string
	// Headers are added to every request after the above, so they can
	// override them on purpose.
	Headers map[string]string
	// UserAgent names the SDK and its version.
	UserAgent string
}

// Apply sets the credentials' headers on h.
func (c *Credentials) Apply(h http.Header) {
	if c == nil {
		return
	}
	if c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
	if c.Token.IsSet() {
		h.Set("Authorization", "Bearer "+c.Token.Reveal())
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
