package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
)

// A destination is where the CLI's windows go: the SDK's own Destination
// (configuration, validation, queue and backends), plus the configuration as
// variables for a child process.
type destination struct {
	*pyroscope.Destination
	env map[string]string
}

// Timeouts of one request and of the last delivery.
const (
	uploadTimeout = 10 * time.Second
	closeTimeout  = 15 * time.Second
)

// newDestination turns the merged flags (whose application name is already
// defaulted) into a pyroscope.Config and lets the SDK validate it. The token
// is passed in Config only when given as a flag; from a variable the SDK
// reads it itself, so that messages about a rejected token name the variable.
func newDestination(c *commonFlags, getenv func(string) string, logf func(level, format string, args ...any)) (*destination, error) {
	given := c.given
	cfg := pyroscope.Config{
		ApplicationName: c.app,
		ServerAddress:   c.server,
		Protocol:        c.protocol,
		TenantID:        c.tenantID,
		UploadRate:      c.uploadRate,
		SampleRate:      uint32(c.sampleRate),
		UploadTimeout:   uploadTimeout,
		StopTimeout:     closeTimeout,
		Logger:          cliLogger{logf},
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
	d, err := pyroscope.NewDestination(cfg, lookup)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "pyroscope: "))
	}
	return &destination{Destination: d, env: d.Env()}, nil
}

// close delivers what is queued within closeTimeout and reports what was not.
func (d *destination) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return d.Close(ctx)
}

// push queues windows under the destination's series, adding extra tags.
func (d *destination) push(extra map[string]string, ws ...upload.Window) { d.Push(extra, ws...) }

// cliLogger routes the SDK's log lines to the CLI's logger. The SDK sends
// warnings to Errorf with a "warning: " prefix.
type cliLogger struct {
	logf func(level, format string, args ...any)
}

func (l cliLogger) Infof(format string, args ...any)  { l.logf("info", format, args...) }
func (l cliLogger) Debugf(format string, args ...any) { l.logf("debug", format, args...) }
func (l cliLogger) Errorf(format string, args ...any) {
	if rest, ok := strings.CutPrefix(format, "warning: "); ok {
		l.logf("warn", rest, args...)
		return
	}
	l.logf("error", format, args...)
}
