// Package pull profiles a running Go program through its net/http/pprof
// endpoints, for services that already expose them and cannot be relaunched
// with the SDK. Each window holds a CPU profile taken over the window by
// /debug/pprof/profile?seconds=N, the goroutine snapshot, and the heap, mutex
// and block profiles turned from the runtime's cumulative counters into
// per-window deltas (through internal/delta), so that the windows of a run
// sum exactly to what the program recorded over the run.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// maxBody bounds what is read from one endpoint, so that a wrong URL cannot
// make the puller hold gigabytes.
const maxBody = 64 << 20

// Options say what to pull from where.
type Options struct {
	// URL is the program's address, "http://host:port", optionally with the
	// path prefix under which /debug/pprof/ is served.
	URL string
	// Kinds lists the profile families to pull (window.KindCPU and the
	// others); nil means all five.
	Kinds []string
	// Client sends the requests; nil means a plain *http.Client.
	Client *http.Client
	// Logf receives the puller's messages; nil discards them.
	Logf logging.Func
	// SeparateLiveHeap writes the heap's live memory (inuse_*) as a window
	// of its own, stamped at the window's end with no duration, beside the
	// allocations over the window: for a backend that takes each profile
	// as either a change or a snapshot (Parca).
	SeparateLiveHeap bool
}

// A Puller reads one program's profiles window after window. It is not safe
// for concurrent use: one goroutine calls Probe once, then Pull.
type Puller struct {
	base   *url.URL
	kinds  []string
	client *http.Client
	logf   logging.Func

	cumulative map[string]*cumulative // heap, mutex, block
	last       time.Time              // when the cumulative profiles were last read
	binary     string                 // main binary's base name, from the probe
	warnedCPU  bool
}

// New checks opts and returns a Puller. It does not contact the program.
func New(opts Options) (*Puller, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("pull: URL %q is not an http(s) URL with a host: use e.g. http://127.0.0.1:6060", opts.URL)
	}
	p := &Puller{
		base:       u,
		kinds:      opts.Kinds,
		client:     opts.Client,
		logf:       opts.Logf,
		cumulative: map[string]*cumulative{},
	}
	if len(p.kinds) == 0 {
		p.kinds = []string{window.KindCPU, window.KindHeap, window.KindGoroutines, window.KindMutex, window.KindBlock}
	}
	for _, k := range p.kinds {
		switch k {
		case window.KindCPU, window.KindGoroutines:
		case window.KindHeap, window.KindMutex, window.KindBlock:
			p.cumulative[k] = newCumulative(k, opts.SeparateLiveHeap)
		default:
			return nil, fmt.Errorf("pull: unknown profile kind %q", k)
		}
	}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.logf == nil {
		p.logf = func(logging.Level, string, ...any) {}
	}
	return p, nil
}

// Host returns the program's host:port, a natural "instance" label.
func (p *Puller) Host() string { return p.base.Host }

// Binary returns the base name of the program's executable as its profiles
// name it, or "" when they do not; known after Probe.
func (p *Puller) Binary() string { return p.binary }

// endpoint returns the URL of /debug/pprof/name with query q.
func (p *Puller) endpoint(name string, q url.Values) string {
	u := *p.base
	u.Path = strings.TrimRight(u.Path, "/") + "/debug/pprof/" + name
	u.RawQuery = q.Encode()
	return u.String()
}

// fetch GETs one endpoint and returns its body, or an error that says what
// the program answered.
func (p *Puller) fetch(ctx context.Context, name string, q url.Values) ([]byte, error) {
	u := p.endpoint(name, q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("GET %s: body larger than %d MiB", u, maxBody>>20)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, &StatusError{URL: u, Status: resp.StatusCode, Message: msg}
	}
	return body, nil
}

// A StatusError is a non-200 answer from an endpoint.
type StatusError struct {
	URL     string
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	hint := ""
	if e.Status == http.StatusNotFound {
		hint = ": is net/http/pprof imported and served at this address?"
	}
	return fmt.Sprintf("GET %s: status %d %s%s", e.URL, e.Status, e.Message, hint)
}

// Probe checks that the program serves pprof, learns its binary's name and
// reads the cumulative profiles once as the baseline: the first window then
// holds only what happened after Probe.
func (p *Puller) Probe(ctx context.Context) error {
	body, err := p.fetch(ctx, "goroutine", nil)
	if err != nil {
		return fmt.Errorf("pull: %s does not serve net/http/pprof: %w", p.base.Redacted(), err)
	}
	prof, err := parse(p.endpoint("goroutine", nil), body)
	if err != nil {
		return fmt.Errorf("pull: %s: the goroutine profile: %w", p.base.Redacted(), err)
	}
	if len(prof.Mapping) > 0 && prof.Mapping[0].File != "" {
		p.binary = path.Base(prof.Mapping[0].File)
	}
	now := time.Now()
	for kind, c := range p.cumulative {
		prof, err := p.fetchProfile(ctx, kind)
		if err != nil {
			return fmt.Errorf("pull: %s: %w", p.base.Redacted(), err)
		}
		c.baseline(prof)
	}
	p.last = now
	return nil
}

// cumulativeEndpoint names the endpoint of a cumulative kind. The heap is
// read with gc=1 so that its in-use values are current, as the SDK's own
// heap window is.
func cumulativeEndpoint(kind string) (string, url.Values) {
	switch kind {
	case window.KindHeap:
		return "heap", url.Values{"gc": {"1"}}
	case window.KindMutex:
		return "mutex", nil
	default:
		return "block", nil
	}
}

func (p *Puller) fetchProfile(ctx context.Context, kind string) (*profile.Profile, error) {
	name, q := cumulativeEndpoint(kind)
	body, err := p.fetch(ctx, name, q)
	if err != nil {
		return nil, err
	}
	prof, err := parse(p.endpoint(name, q), body)
	if err != nil {
		return nil, fmt.Errorf("%s profile: %w", name, err)
	}
	return prof, nil
}

// Pull takes one window of length d: it holds a CPU profile request open for
// d (rounded to whole seconds, at least one), then reads the other profiles.
// The windows it returns carry Name, From, Until and Data; the caller sets
// App and Tags. When ctx ends during the CPU request, the partial CPU window
// is lost (net/http/pprof answers only at the end) but the other profiles
// are still read with cut's context, so a last Pull on shutdown delivers the
// heap, mutex and block changes up to that moment.
//
// A failing kind is logged and left out; Pull fails only when nothing could
// be read.
func (p *Puller) Pull(ctx, cut context.Context, d time.Duration) ([]window.Window, error) {
	var out []window.Window
	var errs []error
	if p.wants(window.KindCPU) {
		w, err := p.pullCPU(ctx, d)
		switch {
		case err == nil:
			out = append(out, w)
		case ctx.Err() != nil:
		default:
			errs = append(errs, err)
		}
	} else {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	ws, err := p.Cut(cut)
	out = append(out, ws...)
	if err != nil {
		errs = append(errs, err)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("pull: %s: %w", p.base.Redacted(), errors.Join(errs...))
	}
	for _, err := range errs {
		p.logf(logging.Warn, "pull %s: %v", p.base.Redacted(), err)
	}
	return out, nil
}

func (p *Puller) wants(kind string) bool {
	for _, k := range p.kinds {
		if k == kind {
			return true
		}
	}
	return false
}

func (p *Puller) pullCPU(ctx context.Context, d time.Duration) (window.Window, error) {
	secs := int(math.Round(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	from := time.Now()
	body, err := p.fetch(ctx, "profile", url.Values{"seconds": {fmt.Sprint(secs)}})
	until := time.Now()
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusInternalServerError && !p.warnedCPU {
			// Typically "cpu profiling already in use": another profiler
			// (the program's own SDK, another puller) holds the one CPU
			// profiler a Go process has.
			p.warnedCPU = true
			p.logf(logging.Warn, "pull %s: no CPU profile: %v (only one CPU profile can run in a Go process at a time)", p.base.Redacted(), err)
		}
		return window.Window{}, fmt.Errorf("cpu: %w", err)
	}
	// The body is net/http/pprof's gzipped profile; check that it parses
	// before it is queued.
	prof, err := parse(p.endpoint("profile", url.Values{"seconds": {fmt.Sprint(secs)}}), body)
	if err != nil {
		return window.Window{}, fmt.Errorf("cpu profile: %w", err)
	}
	return window.Window{Name: window.KindCPU, From: from, Until: until, Data: body,
		SampleTypes: sampleTypes(prof, func(string) bool { return false })}, nil
}

// Cut reads the goroutine snapshot and the cumulative profiles now and
// returns their windows since the previous Cut (or Probe).
func (p *Puller) Cut(ctx context.Context) ([]window.Window, error) {
	var out []window.Window
	var errs []error
	from := p.last
	until := time.Now()
	if p.wants(window.KindGoroutines) {
		body, err := p.fetch(ctx, "goroutine", nil)
		var prof *profile.Profile
		if err == nil {
			prof, err = parse(p.endpoint("goroutine", nil), body)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("goroutine: %w", err))
		} else {
			// The goroutine count is a snapshot at the window's end.
			out = append(out, window.Window{Name: window.KindGoroutines, From: from, Until: until, Data: body,
				SampleTypes: sampleTypes(prof, func(string) bool { return true })})
		}
	}
	for _, kind := range p.kinds {
		c := p.cumulative[kind]
		if c == nil {
			continue
		}
		prof, err := p.fetchProfile(ctx, kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", kind, err))
			continue
		}
		if len(prof.Sample) == 0 {
			if !c.warnedEmpty {
				c.warnedEmpty = true
				p.logf(logging.Info, "pull %s: the %s profile is empty%s", p.base.Redacted(), kind, emptyHint(kind))
			}
			continue
		}
		ws, err := c.windows(prof, from, until)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", kind, err))
			continue
		}
		out = append(out, ws...)
	}
	p.last = until
	return out, errors.Join(errs...)
}

func emptyHint(kind string) string {
	switch kind {
	case window.KindMutex:
		return ": the program records mutex contention only after it calls runtime.SetMutexProfileFraction with a value above 0"
	case window.KindBlock:
		return ": the program records blocking only after it calls runtime.SetBlockProfileRate with a value above 0"
	}
	return ""
}
