package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// A Destination is where one application's windows go: the backend its
// Settings ask for, with transport and credentials, behind a Queue. A
// Profiler uses one for the profiles it collects itself; cmd/pyroscope uses
// one for its perf sampler and pprof puller.
type Destination struct {
	s       *config.Settings
	queue   *Queue
	backend Backend
}

// Open builds the backend s asks for and starts its queue. userAgent names
// the program and its version on every request. Close the destination to
// deliver what is queued.
func Open(s *config.Settings, userAgent string) (*Destination, error) {
	backend, creds, err := newBackend(s, userAgent)
	if err != nil {
		return nil, err
	}
	return &Destination{s: s, backend: backend, queue: NewQueue(backend, QueueOptions{
		MaxBytes:    s.QueueBytes,
		Timeout:     s.UploadTimeout,
		Logf:        s.Log,
		Credentials: creds,
		Target:      redactURL(s.Address),
	})}, nil
}

// newBackend builds the backend the settings ask for, with its transport
// and credentials.
func newBackend(s *config.Settings, userAgent string) (Backend, *Credentials, error) {
	if s.Protocol == config.ProtocolDir {
		d, err := NewDir(s.Address)
		if err != nil {
			return nil, nil, fmt.Errorf("pyroscope: ServerAddress: %w", err)
		}
		return d, nil, nil
	}
	creds := &Credentials{
		Token:         s.Token,
		TokenFile:     s.TokenFile,
		TokenSource:   s.TokenSource,
		BasicUser:     s.BasicUser,
		BasicPassword: s.BasicPassword,
		TenantID:      s.TenantID,
		Headers:       s.Headers,
		UserAgent:     userAgent,
	}
	var base Doer
	if s.HTTPClient != nil {
		base = s.HTTPClient
	}
	client, err := NewHTTPClient(TransportOptions{
		CAFile:             s.TLSCAFile,
		CertFile:           s.TLSCertFile,
		KeyFile:            s.TLSKeyFile,
		InsecureSkipVerify: s.TLSInsecureSkipVerify,
		Timeout:            s.UploadTimeout,
		Logf:               s.Log,
		HTTP2:              s.Protocol == config.ProtocolParca,
	}, base)
	if err != nil {
		return nil, nil, fmt.Errorf("pyroscope: transport: %w", err)
	}
	var b Backend
	switch s.Protocol {
	case config.ProtocolPush:
		b, err = NewPush(s.Address, creds, client)
	case config.ProtocolParca:
		b, err = NewParca(s.Address, creds, client)
	default:
		b, err = NewIngest(s.Address, creds, client)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pyroscope: ServerAddress: %w", err)
	}
	return b, creds, nil
}

// Settings are the resolved configuration the destination was opened with.
func (d *Destination) Settings() *config.Settings { return d.s }

// Series is the application name with its tags, as the UI shows it, with
// extra tags added.
func (d *Destination) Series(extra map[string]string) string {
	return SeriesName(d.s.App, d.s.WithTags(extra))
}

// String says where profiles go, for a log line: the series, the address
// without credentials or query, the protocol and the window length.
func (d *Destination) String() string { return d.Describe(nil) }

// Describe is String with extra tags added to the series.
func (d *Destination) Describe(extra map[string]string) string {
	return fmt.Sprintf("%s to %s (%s) every %s", d.Series(extra), redactURL(d.s.Address), d.s.Protocol, d.s.UploadRate)
}

// Push queues windows under the destination's application name and tags,
// with extra tags added (validate them first with config.ValidateTags). It
// never blocks.
func (d *Destination) Push(extra map[string]string, ws ...window.Window) {
	d.PushAs(d.s.App, extra, ws...)
}

// PushAs is Push under application name app instead of the destination's
// own: the name becomes the series' service_name (Parca, push), the name
// before its tags (ingest) and the directory (dir sink). It is for the node
// agent, whose windows belong to many services, each named by its target;
// app must be a valid application name, without tags.
func (d *Destination) PushAs(app string, extra map[string]string, ws ...window.Window) {
	tags := d.s.WithTags(extra)
	for i := range ws {
		ws[i].App, ws[i].Tags = app, tags
		if labelled(ws[i].Name) {
			ws[i].Data = storableLabelKeys(ws[i].Data)
		}
	}
	d.queue.Push(ws...)
}

// Flush returns when every window pushed so far is delivered or dropped, or
// ctx is done.
func (d *Destination) Flush(ctx context.Context) error { return d.queue.Flush(ctx) }

// Close ends delivery. It first calls cutLast, when not nil, which pushes
// the last windows (a Profiler's last cut, the CLI's last CPU window); then
// it delivers what is queued until ctx is done, closes the backend's
// connections and returns an error saying how many windows were not
// delivered, if any: those still queued at the deadline and those the server
// refused since cutLast began, a last window refused before delivery of the
// rest began included.
func (d *Destination) Close(ctx context.Context, cutLast func()) error {
	// Delivery ends a little before ctx's deadline, so that cancelling what
	// is in flight and closing the connections fit in it too: Close as a
	// whole returns by the deadline.
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-closeMargin(time.Until(dl))))
		defer cancel()
	}
	before := d.queue.Stats().Dropped
	if cutLast != nil {
		cutLast()
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
	return fmt.Errorf("pyroscope: %s not delivered to %s: %w", plural(lost, "profile window"), redactURL(d.s.Address), err)
}

// closeMargin is how much of the time left before Close's deadline is kept
// for cancelling the sends in flight and closing connections: a tenth, at
// most 100 ms.
func closeMargin(left time.Duration) time.Duration {
	return max(min(left/10, 100*time.Millisecond), 0)
}

// Target is where windows go, for a log line: the address without
// credentials or query.
func (d *Destination) Target() string { return redactURL(d.s.Address) }

// Plural says n profile windows: "1 profile window", "2 profile windows".
func Plural(n int64) string { return plural(int(n), "profile window") }

// Stats returns the delivery counters.
func (d *Destination) Stats() Stats { return d.queue.Stats() }
