package pyroscope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
)

// A Destination delivers profiles that a program collects by other means
// (another process's perf samples, a remote net/http/pprof endpoint) with the
// SDK's configuration, validation, queue, retries and backends. Start uses
// one for the profiles it collects itself; cmd/pyroscope uses one for its
// perf sampler and pprof puller.
type Destination struct {
	s       *settings
	log     leveledLogger
	queue   *upload.Queue
	backend upload.Backend

	// finalFrom, once marked (MarkFinal), is the drop count from before
	// the last windows were cut: Close reports the drops since then,
	// including a window the server refused before Close began. Both are
	// set and read by the goroutine that closes.
	finalFrom int64
	marked    bool
}

// MarkFinal notes that the windows pushed from now on are the last ones,
// before they are cut: Close then also reports those the server refused
// before Close began. Profiler.Stop calls it.
func (d *Destination) MarkFinal() {
	d.finalFrom, d.marked = d.queue.Stats().Dropped, true
}

// NewDestination resolves cfg against the PYROSCOPE_* environment exactly as
// Start does, validates it and starts the upload queue. Fields left unset are
// read through lookupEnv, or os.LookupEnv when it is nil. Close the
// destination to deliver what is queued.
func NewDestination(cfg Config, lookupEnv func(string) (string, bool)) (*Destination, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	return newDestination(cfg, lookupEnv)
}

func newDestination(cfg Config, env lookupEnv) (*Destination, error) {
	s, err := resolve(cfg, env)
	if err != nil {
		return nil, err
	}
	d := &Destination{s: s, log: leveledLogger{out: s.Logger, min: s.logLevel}}
	backend, creds, err := newBackend(s, d.log.logf)
	if err != nil {
		return nil, err
	}
	d.backend = backend
	d.queue = upload.NewQueue(backend, upload.QueueOptions{
		MaxBytes:    s.QueueBytes,
		Timeout:     s.UploadTimeout,
		Logf:        d.log.logf,
		Credentials: creds,
	})
	return d, nil
}

// App is the application name, without tags.
func (d *Destination) App() string { return d.s.app }

// Series is the application name with its tags, as the UI shows it, with
// extra tags added.
func (d *Destination) Series(extra map[string]string) string {
	return upload.SeriesName(d.s.app, d.tags(extra))
}

// String says where profiles go, for a log line: the series, the address
// without credentials or query, the protocol and the window length.
func (d *Destination) String() string { return d.Describe(nil) }

// Describe is String with extra tags added to the series.
func (d *Destination) Describe(extra map[string]string) string {
	return fmt.Sprintf("%s to %s (%s) every %s", d.Series(extra), redactURL(d.s.address), d.s.protocol, d.s.UploadRate)
}

// UploadRate is the window length a tool driving the destination should cut.
func (d *Destination) UploadRate() time.Duration { return d.s.UploadRate }

// SampleRate is the CPU sampling frequency in Hz.
func (d *Destination) SampleRate() int { return int(d.s.SampleRate) }

// ValidateTags checks extra tags with the rules Start applies to Config.Tags.
func ValidateTags(tags map[string]string) error {
	for k, v := range tags {
		if err := validateTag(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (d *Destination) tags(extra map[string]string) map[string]string {
	if len(extra) == 0 {
		return d.s.tags
	}
	tags := maps.Clone(d.s.tags)
	maps.Copy(tags, extra)
	return tags
}

// Push queues windows under the destination's application name and tags,
// with extra tags added (validate them first with ValidateTags). It never
// blocks.
func (d *Destination) Push(extra map[string]string, ws ...upload.Window) {
	tags := d.tags(extra)
	for i := range ws {
		ws[i].App, ws[i].Tags = d.s.app, tags
	}
	d.queue.Push(ws...)
}

// Flush returns when every window pushed so far is delivered or dropped, or
// ctx is done.
func (d *Destination) Flush(ctx context.Context) error { return d.queue.Flush(ctx) }

// Close delivers what is queued until ctx is done, closes the backend's
// connections and returns an error saying how many windows were not
// delivered, if any: those still queued at the deadline and those the server
// refused while Close ran (a rejected token, say), or since MarkFinal.
func (d *Destination) Close(ctx context.Context) error {
	before := d.queue.Stats().Dropped
	if d.marked {
		before = d.finalFrom
	}
	n, err := d.queue.Close(ctx)
	if c, ok := d.backend.(io.Closer); ok {
		c.Close()
	}
	st := d.queue.Stats()
	lost := int(st.Dropped - before)
	if lost == 0 && n == 0 && err == nil {
		return nil
	}
	lost = max(lost, n)
	if err == nil {
		err = errors.New(st.LastError)
	}
	return fmt.Errorf("pyroscope: %d windows not delivered to %s: %w", lost, redactURL(d.s.address), err)
}

// Stats returns the delivery counters.
func (d *Destination) Stats() upload.Stats { return d.queue.Stats() }

// Env is the destination's configuration as the PYROSCOPE_* variables Start
// reads, so that a child process linking this SDK sends to the same
// application, tags, server and credentials. Empty values mean "unset".
func (d *Destination) Env() map[string]string {
	s := d.s
	var tags []string
	for k, v := range s.tags {
		tags = append(tags, k+"="+v)
	}
	protocol := s.protocol
	if protocol == protocolDir {
		protocol = ""
	}
	return map[string]string{
		"PYROSCOPE_APPLICATION_NAME":         s.app,
		"PYROSCOPE_TAGS":                     strings.Join(tags, ","),
		"PYROSCOPE_SERVER_ADDRESS":           s.address,
		"PYROSCOPE_ADHOC_SERVER_ADDRESS":     "",
		"PYROSCOPE_PROTOCOL":                 protocol,
		"PYROSCOPE_UPLOAD_RATE":              s.UploadRate.String(),
		"PYROSCOPE_TENANT_ID":                s.TenantID,
		"PYROSCOPE_AUTH_TOKEN":               s.token,
		"PYROSCOPE_AUTH_TOKEN_FILE":          s.tokenFile,
		"PYROSCOPE_BASIC_AUTH_USER":          s.BasicAuthUser,
		"PYROSCOPE_BASIC_AUTH_PASSWORD":      s.BasicAuthPassword,
		"PYROSCOPE_TLS_CA_FILE":              s.TLSCAFile,
		"PYROSCOPE_TLS_CERT_FILE":            s.TLSCertFile,
		"PYROSCOPE_TLS_KEY_FILE":             s.TLSKeyFile,
		"PYROSCOPE_TLS_INSECURE_SKIP_VERIFY": fmt.Sprint(s.TLSInsecureSkipVerify),
	}
}
