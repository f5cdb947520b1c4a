package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/upload"
)

// A destination is where the CLI's windows go: the validated series name and
// tags, and the queue that delivers them to the backend.
//
// PRIVATE EQUIVALENT, to be replaced: the root package resolves and
// validates the same settings in config.go (resolve) and builds the backend
// in backend.go (newBackend), but both are unexported. This file keeps the
// smallest copy of those rules the CLI needs; once the root package exports
// a helper (the signature is proposed in the issue notes), newDestination
// becomes a call to it.
type destination struct {
	app      string
	tags     map[string]string
	address  string // for log lines: scheme, host and path only
	protocol string
	creds    *upload.Credentials
	queue    *upload.Queue
	// env is the configuration as PYROSCOPE_* variables, for a child that
	// links the SDK.
	env map[string]string
}

// uploadTimeout bounds one request; closeTimeout bounds the last delivery.
const (
	uploadTimeout = 10 * time.Second
	closeTimeout  = 15 * time.Second
)

// newDestination validates c (whose application name is already defaulted)
// and starts the delivery queue.
func newDestination(c *commonFlags, getenv func(string) string, logf func(level, format string, args ...any)) (*destination, error) {
	d := &destination{env: map[string]string{}}
	var err error
	if d.app, d.tags, err = parseAppName(c.app); err != nil {
		return nil, fmt.Errorf("--application-name: %w", err)
	}
	for _, kv := range c.tags {
		k, v, _ := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if err := validateTag(k, v); err != nil {
			return nil, fmt.Errorf("--tag: %w", err)
		}
		d.tags[k] = v
	}
	d.creds = &upload.Credentials{
		Token:         upload.NewSecret(strings.TrimSpace(c.token)),
		TokenFile:     c.tokenFile,
		TokenSource:   "PYROSCOPE_AUTH_TOKEN or --auth-token",
		BasicUser:     strings.TrimSpace(getenv("PYROSCOPE_BASIC_AUTH_USER")),
		BasicPassword: upload.NewSecret(strings.TrimSpace(getenv("PYROSCOPE_BASIC_AUTH_PASSWORD"))),
		TenantID:      c.tenantID,
		UserAgent:     "pyroscope-cli/" + version,
	}
	if c.tokenFile != "" {
		d.creds.TokenSource = "the token file " + c.tokenFile
		if c.token != "" {
			return nil, fmt.Errorf("both a token and --auth-token-file are set: drop one")
		}
		if _, err := os.Stat(c.tokenFile); err != nil {
			return nil, fmt.Errorf("--auth-token-file: %w", err)
		}
	}
	if (d.creds.Token.IsSet() || c.tokenFile != "") && (d.creds.BasicUser != "" || d.creds.BasicPassword.IsSet()) {
		return nil, fmt.Errorf("a token and PYROSCOPE_BASIC_AUTH_* are both set, which is ambiguous: unset the basic auth variables for an API key, or drop the token")
	}
	backend, err := d.backend(c, logf)
	if err != nil {
		return nil, err
	}
	d.queue = upload.NewQueue(backend, upload.QueueOptions{Timeout: uploadTimeout, Logf: logf, Credentials: d.creds})
	d.setEnv(c)
	return d, nil
}

// backend builds the backend for c's address and protocol.
func (d *destination) backend(c *commonFlags, logf func(level, format string, args ...any)) (upload.Backend, error) {
	addr := strings.TrimSpace(c.server)
	d.protocol = strings.ToLower(strings.TrimSpace(c.protocol))
	if strings.HasPrefix(addr, "file://") {
		d.protocol, d.address = "dir", addr
		b, err := upload.NewDir(addr)
		if err != nil {
			return nil, fmt.Errorf("--server-address: %w", err)
		}
		return b, nil
	}
	switch d.protocol {
	case "ingest", "push", "parca":
	default:
		return nil, fmt.Errorf("--protocol %q is unknown: use ingest (Pyroscope /ingest, the default), push (Pyroscope push API) or parca (Parca, Polar Signals)", c.protocol)
	}
	u, err := url.Parse(addr)
	bareHostPort := d.protocol == "parca" && !strings.Contains(addr, "://") && addr != ""
	if !bareHostPort && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return nil, fmt.Errorf("--server-address %q is not an http(s) URL with a host: use e.g. http://localhost:4040, or file:///tmp/profiles to write files", addr)
	}
	if !bareHostPort && u.User != nil {
		return nil, fmt.Errorf("--server-address must not carry credentials: pass the token in PYROSCOPE_AUTH_TOKEN")
	}
	d.address = addr
	if !bareHostPort {
		d.address = u.Scheme + "://" + u.Host + u.Path
	}
	client, tlsConfig, err := upload.NewHTTPClient(upload.TransportOptions{Timeout: uploadTimeout, Logf: logf}, nil)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	var b upload.Backend
	switch d.protocol {
	case "push":
		b, err = upload.NewPush(addr, d.creds, client)
	case "parca":
		b, err = upload.NewParca(addr, d.creds, tlsConfig)
	default:
		b, err = upload.NewIngest(strings.TrimRight(addr, "/"), d.creds, client)
	}
	if err != nil {
		return nil, fmt.Errorf("--server-address: %w", err)
	}
	return b, nil
}

// setEnv records the configuration as the variables the SDK reads, so a
// child that links it sends to the same application, tags and server.
func (d *destination) setEnv(c *commonFlags) {
	d.env["PYROSCOPE_APPLICATION_NAME"] = d.app
	d.env["PYROSCOPE_SERVER_ADDRESS"] = c.server
	d.env["PYROSCOPE_PROTOCOL"] = d.protocol
	if d.protocol == "dir" {
		d.env["PYROSCOPE_PROTOCOL"] = ""
	}
	var tags []string
	for k, v := range d.tags {
		tags = append(tags, k+"="+v)
	}
	d.env["PYROSCOPE_TAGS"] = strings.Join(tags, ",")
	d.env["PYROSCOPE_UPLOAD_RATE"] = c.uploadRate.String()
	d.env["PYROSCOPE_TENANT_ID"] = c.tenantID
	// The token travels by variable or file name, never on a command line.
	d.env["PYROSCOPE_AUTH_TOKEN"] = d.creds.Token.Reveal()
	d.env["PYROSCOPE_AUTH_TOKEN_FILE"] = c.tokenFile
}

// push queues windows under the destination's series, adding extra tags.
func (d *destination) push(extra map[string]string, ws ...upload.Window) {
	for i := range ws {
		ws[i].App = d.app
		ws[i].Tags = d.tags
		if len(extra) > 0 {
			tags := make(map[string]string, len(d.tags)+len(extra))
			for k, v := range d.tags {
				tags[k] = v
			}
			for k, v := range extra {
				tags[k] = v
			}
			ws[i].Tags = tags
		}
	}
	d.queue.Push(ws...)
}

// close delivers what is queued within closeTimeout and reports what was not.
func (d *destination) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	n, err := d.queue.Close(ctx)
	if n > 0 || err != nil {
		return fmt.Errorf("%d profiles not delivered to %s: %v", n, d.address, err)
	}
	return nil
}

// series renders the name the UI shows.
func (d *destination) series(extra map[string]string) string {
	tags := map[string]string{}
	for k, v := range d.tags {
		tags[k] = v
	}
	for k, v := range extra {
		tags[k] = v
	}
	return upload.SeriesName(d.app, tags)
}

// parseAppName splits "app{k=v,...}" into name and tags, with the SDK's
// rules (PRIVATE EQUIVALENT of the root package's parseAppName).
func parseAppName(s string) (string, map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil, fmt.Errorf("the application name is empty: pass --application-name NAME or set PYROSCOPE_APPLICATION_NAME")
	}
	tags := map[string]string{}
	name := s
	if i := strings.IndexByte(s, '{'); i >= 0 {
		if !strings.HasSuffix(s, "}") {
			return "", nil, fmt.Errorf("%q has '{' without a closing '}' at the end: write app{key=value}", s)
		}
		name = strings.TrimSpace(s[:i])
		for _, kv := range strings.Split(s[i+1:len(s)-1], ",") {
			if kv = strings.TrimSpace(kv); kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return "", nil, fmt.Errorf("tag %q has no '=': write key=value", kv)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if err := validateTag(k, v); err != nil {
				return "", nil, err
			}
			tags[k] = v
		}
	}
	if name == "" {
		return "", nil, fmt.Errorf("%q has no name before its tags", s)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("{}=, \t\"", r) {
			return "", nil, fmt.Errorf("%q contains %q: use letters, digits, '.', '-', '_' or '/'", name, r)
		}
	}
	return name, tags, nil
}

// validateTag applies the SDK's tag rules (PRIVATE EQUIVALENT of the root
// package's validateTag): keys of letters, digits and '_' not starting with
// a digit or "__"; values without { } , = or control characters.
func validateTag(k, v string) error {
	if k == "" {
		return fmt.Errorf("empty tag key (value %q)", v)
	}
	if strings.HasPrefix(k, "__") {
		return fmt.Errorf("tag key %q starts with \"__\", which is reserved for the server", k)
	}
	for i, r := range k {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return fmt.Errorf("tag key %q contains %q: keys are letters, digits and '_', not starting with a digit", k, r)
		}
	}
	if v == "" {
		return fmt.Errorf("tag %q has an empty value", k)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("{},=", r) {
			return fmt.Errorf("tag %q value %q contains %q, which breaks the app{k=v} series syntax", k, v, r)
		}
	}
	return nil
}
