package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// A destination is where the CLI's windows go: the SDK's own Destination
// (configuration, validation, queue and backends), plus the configuration as
// variables for a child process.
type destination struct {
	*upload.Destination
	env         map[string]string
	stopTimeout time.Duration // bounds close, as StopTimeout bounds the SDK's Stop
}

// uploadTimeout bounds one request.
const uploadTimeout = 10 * time.Second

// newDestination turns the merged flags (whose application name is already
// defaulted) into a configuration and resolves it as the SDK's Start does.
// The token is passed in the configuration only when given as a flag; from a
// variable the resolver reads it itself, so that messages about a rejected
// token name the variable.
func newDestination(c *commonFlags, getenv func(string) string, log *logger) (*destination, error) {
	given := c.given
	names := fieldNames(c.given, c.typed, getenv)
	if c.stopTimeout <= 0 {
		// Zero means the default to the SDK, but a flag has its default
		// already: zero or less is a mistake.
		return nil, fmt.Errorf("%s %s: use a positive duration such as %s (the default), the longest the end of a run may take", names["StopTimeout"], c.stopTimeout, config.DefaultStopTimeout)
	}
	cfg := config.Config{
		ApplicationName: c.app,
		ServerAddress:   c.server,
		Protocol:        c.protocol,
		TenantID:        c.tenantID,
		UploadRate:      c.uploadRate,
		SampleRate:      uint32(c.sampleRate),
		UploadTimeout:   uploadTimeout,
		StopTimeout:     c.stopTimeout,
		Logger:          log,
		Names:           names,
	}
	if given["auth-token"] {
		cfg.AuthToken = c.token
	}
	if given["auth-token-file"] {
		cfg.AuthTokenFile = c.tokenFile
	}
	if len(c.tags) > 0 {
		cfg.Tags = map[string]string{}
		for _, kv := range c.tags {
			k, v, _ := strings.Cut(kv, "=")
			cfg.Tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	lookup := func(k string) (string, bool) {
		if k == "PYROSCOPE_ADHOC_SERVER_ADDRESS" && given["server-address"] {
			return "", false // the flag beats every variable
		}
		v := getenv(k)
		return v, v != ""
	}
	s, err := config.Resolve(cfg, lookup)
	if err == nil {
		var d *upload.Destination
		// The CLI sends as the SDK it is built from.
		if d, err = upload.Open(s, "pyroscope-sdk-go/"+version); err == nil {
			return &destination{Destination: d, env: s.Env(), stopTimeout: s.StopTimeout}, nil
		}
	}
	return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "pyroscope: "))
}

// fieldOf is the config.Config field each flag sets.
var fieldOf = map[string]string{
	"application-name": "ApplicationName",
	"server-address":   "ServerAddress",
	"protocol":         "Protocol",
	"auth-token":       "AuthToken",
	"auth-token-file":  "AuthTokenFile",
	"tenant-id":        "TenantID",
	"tag":              "Tags",
	"sample-rate":      "SampleRate",
	"upload-rate":      "UploadRate",
	"stop-timeout":     "StopTimeout",
	"profile-types":    "ProfileTypes",
}

// fieldNames says, for the resolver's messages, how the user set each
// field: the flag (as typed, an alias included) when given on the command
// line, else the variable the flag's value came from, else the flag.
func fieldNames(given map[string]bool, typed map[string]string, getenv func(string) string) map[string]string {
	names := map[string]string{}
	for flagName, field := range fieldOf {
		names[field] = "--" + flagName
		if given[flagName] {
			if t := typed[flagName]; t != "" {
				names[field] = "--" + t
			}
			continue
		}
		if flagName == "server-address" && strings.TrimSpace(getenv("PYROSCOPE_ADHOC_SERVER_ADDRESS")) != "" {
			names[field] = "PYROSCOPE_ADHOC_SERVER_ADDRESS"
		} else if v := envOf[flagName]; v != "" && strings.TrimSpace(getenv(v)) != "" {
			names[field] = v
		}
	}
	return names
}

// close runs cutLast (nil: nothing more to send), which pushes the last
// windows, delivers what is queued within stopTimeout and returns one line
// for the end of the run: how many windows were sent and dropped, and
// where; err is not nil when some were not delivered at the end, and then
// the line says why.
func (d *destination) close(cutLast func()) (line string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.stopTimeout)
	defer cancel()
	err = d.Close(ctx, cutLast)
	st := d.Stats()
	line = fmt.Sprintf("sent %s to %s, %d dropped", upload.Plural(st.Uploaded), d.Target(), st.Dropped)
	if err != nil {
		// err says the count and the address too: only its cause is new.
		cause := err
		if u := errors.Unwrap(err); u != nil {
			cause = u
		}
		line = fmt.Sprintf("%s (the last undelivered: %v)", line, cause)
	}
	return line, err
}

// push queues windows under the destination's series, adding extra tags.
func (d *destination) push(extra map[string]string, ws ...window.Window) { d.Push(extra, ws...) }
