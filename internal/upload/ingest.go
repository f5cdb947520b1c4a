package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Ingest sends windows to Pyroscope's HTTP ingest API, POST {address}/ingest,
// one multipart request per window. It is accepted by Pyroscope 0.37 and by
// current Grafana Pyroscope servers.
type Ingest struct {
	endpoint *url.URL
	creds    *Credentials
	client   Doer
}

// NewIngest returns a backend for address ("https://host[:port][/prefix]";
// a path prefix is kept).
func NewIngest(address string, creds *Credentials, client Doer) (*Ingest, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ingest address %q is not an http(s) URL with a host", address)
	}
	u = u.JoinPath("ingest")
	return &Ingest{endpoint: u, creds: creds, client: client}, nil
}

// sampleType is one entry of the sample_type_config part, which tells the
// server the display name, units and aggregation of each pprof sample type.
type sampleType struct {
	Units       string `json:"units,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	DisplayName string `json:"display-name,omitempty"`
	Sampled     bool   `json:"sampled,omitempty"`
	Cumulative  bool   `json:"cumulative,omitempty"`
}

// ingestTypes gives, per profile family, the query's units and the
// sample_type_config's units and display names. Mutex and block both name
// their types contentions and delay, so only the config tells the server
// which is which. Whether a type is averaged over time (a snapshot) or
// summed (a change) is not here: the window says (Window.SampleTypes).
var ingestTypes = map[string]struct {
	units  string
	config map[string]sampleType
}{
	window.KindCPU: {"samples", map[string]sampleType{
		"samples": {Units: "samples", DisplayName: "cpu", Sampled: true},
	}},
	window.KindHeap: {"", map[string]sampleType{
		"alloc_objects": {Units: "objects"},
		"alloc_space":   {Units: "bytes"},
		"inuse_objects": {Units: "objects"},
		"inuse_space":   {Units: "bytes"},
	}},
	window.KindGoroutines: {"goroutines", map[string]sampleType{
		"goroutine": {Units: "goroutines", DisplayName: "goroutines"},
	}},
	window.KindGoroutineLeak: {"goroutines", map[string]sampleType{
		"goroutineleak": {Units: "goroutines", DisplayName: "goroutine_leak"},
	}},
	window.KindMutex: {"", map[string]sampleType{
		"contentions": {Units: "lock_samples", DisplayName: "mutex_count"},
		"delay":       {Units: "lock_nanoseconds", DisplayName: "mutex_duration"},
	}},
	window.KindBlock: {"", map[string]sampleType{
		"contentions": {Units: "lock_samples", DisplayName: "block_count"},
		"delay":       {Units: "lock_nanoseconds", DisplayName: "block_duration"},
	}},
}

// ingestConfig is the sample_type_config of w and the query's aggregation:
// the server averages a snapshot's values over time and sums a change's.
// A window of snapshots only is averaged as a whole and one of changes only
// summed; a mixed one (the heap) says it per type.
func ingestConfig(w *window.Window, config map[string]sampleType) (map[string]sampleType, string) {
	out := make(map[string]sampleType, len(config))
	for name, st := range config {
		out[name] = st
	}
	snapshots := 0
	for _, st := range w.SampleTypes {
		if c, ok := out[st.Name]; ok && st.Snapshot {
			c.Aggregation = "average"
			out[st.Name] = c
			snapshots++
		}
	}
	switch {
	case snapshots > 0 && snapshots == len(w.SampleTypes):
		return out, "average"
	case snapshots == 0 && len(w.SampleTypes) > 0:
		return out, "sum"
	}
	return out, ""
}

// SeriesName renders "app{k=v,...}" with keys sorted, the form Pyroscope's
// ingest API takes in its name parameter. Tag values were validated when the
// SDK started, so no escaping is needed.
func SeriesName(app string, tags map[string]string) string {
	if len(tags) == 0 {
		return app + "{}"
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(app)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(tags[k])
	}
	b.WriteByte('}')
	return b.String()
}

// Send posts each window in order and stops at the first failure.
func (in *Ingest) Send(ctx context.Context, batch []window.Window) (int, error) {
	for i := range batch {
		if err := in.send(ctx, &batch[i]); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

func (in *Ingest) send(ctx context.Context, w *window.Window) error {
	kind, ok := ingestTypes[w.Name]
	if !ok {
		return &Error{Op: "POST /ingest", Err: fmt.Errorf("unknown profile family %q", w.Name)}
	}
	config, aggregation := ingestConfig(w, kind.config)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("profile", "profile.pprof")
	if err == nil {
		_, err = part.Write(w.Data)
	}
	if err == nil {
		part, err = mw.CreateFormFile("sample_type_config", "sample_type_config.json")
	}
	if err == nil {
		err = json.NewEncoder(part).Encode(config)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return &Error{Op: "POST /ingest", Err: fmt.Errorf("encoding multipart body: %w", err)}
	}

	u := *in.endpoint
	q := u.Query()
	q.Set("name", SeriesName(w.App, w.Tags))
	q.Set("from", strconv.FormatInt(w.From.UnixNano(), 10))
	q.Set("until", strconv.FormatInt(w.Until.UnixNano(), 10))
	q.Set("spyName", "gospy")
	rate := w.SampleRate
	if rate == 0 {
		rate = 100
	}
	q.Set("sampleRate", strconv.Itoa(rate))
	if kind.units != "" {
		q.Set("units", kind.units)
	}
	if aggregation != "" {
		q.Set("aggregationType", aggregation)
	}
	// No format parameter: Pyroscope 0.37 answers 422 to format=pprof with a
	// multipart body, and detects pprof from the part by itself.
	u.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), &body)
	if err != nil {
		return &Error{Op: "POST /ingest", Err: err}
	}
	in.creds.Apply(req.Header)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := in.client.Do(req)
	err = Classify("POST /ingest", resp, err)
	if e, ok := err.(*Error); ok && e.Auth {
		in.creds.scrub(e)
	}
	return err
}

// Close closes the idle connections of the client the SDK made; a client
// passed in Config.HTTPClient is left as it is.
func (in *Ingest) Close() error {
	closeIdle(in.client)
	return nil
}
