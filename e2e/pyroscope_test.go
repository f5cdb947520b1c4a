//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

// currentTypeIDs gives, per SDK profile type, the start of the profile type
// ID ("__name__:sample_type:sample_unit:") a current Grafana Pyroscope server
// files it under. The goroutine family's __name__ depends on the protocol,
// so it is filled in by the caller.
var currentTypeIDs = map[pyroscope.ProfileType]string{
	pyroscope.ProfileCPU:           "process_cpu:cpu:nanoseconds:",
	pyroscope.ProfileAllocSpace:    "memory:alloc_space:bytes:",
	pyroscope.ProfileAllocObjects:  "memory:alloc_objects:count:",
	pyroscope.ProfileInuseSpace:    "memory:inuse_space:bytes:",
	pyroscope.ProfileInuseObjects:  "memory:inuse_objects:count:",
	pyroscope.ProfileMutexCount:    "mutex:contentions:count:",
	pyroscope.ProfileMutexDuration: "mutex:delay:nanoseconds:",
	pyroscope.ProfileBlockCount:    "block:contentions:count:",
	pyroscope.ProfileBlockDuration: "block:delay:nanoseconds:",
}

// TestIngest sends every profile type through /ingest to the server at
// PYROSCOPE_E2E_INGEST_URL, a Pyroscope 0.37 server or a current Grafana
// Pyroscope one (told apart by its API), and checks that each type landed
// under its series name with the workload's functions in it.
// PYROSCOPE_E2E_INGEST_TOKEN is sent as the API key when set, and
// PYROSCOPE_E2E_QUERY_TOKEN (default: the same) authorizes the queries.
func TestIngest(t *testing.T) {
	base := os.Getenv("PYROSCOPE_E2E_INGEST_URL")
	if base == "" {
		t.Skip("PYROSCOPE_E2E_INGEST_URL is not set")
	}
	q := newPyroscopeQuerier(t, base, queryToken())
	r := profileWorkload(t, pyroscope.Config{
		ApplicationName: appName(t, "ingest"),
		Tags:            map[string]string{"e2e_run": "ingest"},
		ServerAddress:   base,
		Protocol:        "ingest",
		AuthToken:       os.Getenv("PYROSCOPE_E2E_INGEST_TOKEN"),
	})
	checkDelivered(t, r)
	if q.legacy {
		checkLegacySeries(t, q, r)
		return
	}
	checkCurrentSeries(t, q, r, "goroutines:goroutine:count:")
}

// TestIngestWrongToken checks that a Pyroscope server with ingestion auth
// turned on rejects a wrong API key and that the SDK reports it from Stop.
// It runs only when PYROSCOPE_E2E_INGEST_TOKEN is set, i.e. against a server
// that checks keys.
func TestIngestWrongToken(t *testing.T) {
	base := os.Getenv("PYROSCOPE_E2E_INGEST_URL")
	if base == "" || os.Getenv("PYROSCOPE_E2E_INGEST_TOKEN") == "" {
		t.Skip("PYROSCOPE_E2E_INGEST_URL or PYROSCOPE_E2E_INGEST_TOKEN is not set")
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: appName(t, "badtoken"),
		ServerAddress:   base,
		AuthToken:       "psx-not-a-key-of-this-server",
		ProfileTypes:    []pyroscope.ProfileType{pyroscope.ProfileCPU},
		UploadRate:      time.Hour,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	err = p.Stop()
	if err == nil {
		t.Fatal("Stop returned nil: the server accepted a wrong API key, or nothing was sent")
	}
	if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Errorf("Stop error does not say the key was refused (401): %v", err)
	}
	if strings.Contains(err.Error(), "psx-not-a-key") {
		t.Errorf("Stop error leaks the token: %v", err)
	}
	t.Logf("wrong key refused: %v", err)
}

// TestPush sends every profile type through push.v1.PusherService/Push to
// the current Grafana Pyroscope server at PYROSCOPE_E2E_PUSH_URL.
func TestPush(t *testing.T) {
	base := os.Getenv("PYROSCOPE_E2E_PUSH_URL")
	if base == "" {
		t.Skip("PYROSCOPE_E2E_PUSH_URL is not set")
	}
	q := newPyroscopeQuerier(t, base, queryToken())
	if q.legacy {
		t.Fatalf("%s does not serve querier.v1 (a Pyroscope 0.x server?): the push API needs a current Grafana Pyroscope", base)
	}
	r := profileWorkload(t, pyroscope.Config{
		ApplicationName: appName(t, "push"),
		Tags:            map[string]string{"e2e_run": "push"},
		ServerAddress:   base,
		Protocol:        "push",
		AuthToken:       os.Getenv("PYROSCOPE_E2E_PUSH_TOKEN"),
	})
	checkDelivered(t, r)
	// The push backend names the goroutine family "goroutine", as Grafana
	// Alloy's scraper does; /ingest gets "goroutines" from the server.
	checkCurrentSeries(t, q, r, "goroutine:goroutine:count:")
}

func queryToken() string {
	if tok := os.Getenv("PYROSCOPE_E2E_QUERY_TOKEN"); tok != "" {
		return tok
	}
	return os.Getenv("PYROSCOPE_E2E_INGEST_TOKEN")
}

// checkDelivered fails the test when the SDK itself saw a failure: the
// server rejecting an upload is the first thing to report.
func checkDelivered(t *testing.T, r run) {
	t.Helper()
	if r.stopErr != nil {
		t.Errorf("Stop: %v", r.stopErr)
	}
	if r.stats.Dropped > 0 {
		// Go on: what did land still shows under which names.
		t.Errorf("uploads: %d delivered, %d dropped (by type %v): the server refused what the SDK sent: %s", r.stats.Uploaded, r.stats.Dropped, r.stats.DroppedByType, r.stats.LastError)
	}
	if r.stats.Uploaded == 0 {
		t.FailNow()
	}
}

// pyroscopeQuerier reads back what a Pyroscope server stored, through its
// own HTTP API.
type pyroscopeQuerier struct {
	base   string
	token  string
	legacy bool // Pyroscope 0.x: /label-values and /render, no querier.v1
}

func newPyroscopeQuerier(t *testing.T, base, token string) *pyroscopeQuerier {
	t.Helper()
	q := &pyroscopeQuerier{base: strings.TrimSuffix(base, "/"), token: token}
	// Only current servers answer querier.v1 over connect.
	var out json.RawMessage
	err := q.connect("/querier.v1.QuerierService/ProfileTypes", map[string]any{}, &out)
	q.legacy = err != nil
	t.Logf("%s: legacy Pyroscope 0.x API: %v (querier.v1 probe: %v)", base, q.legacy, err)
	return q
}

func (q *pyroscopeQuerier) do(req *http.Request, out any) error {
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %.300s", req.Method, req.URL.Path, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decoding %.300s: %w", req.Method, req.URL.Path, body, err)
	}
	return nil
}

// connect calls a connect procedure with a JSON body.
func (q *pyroscopeQuerier) connect(procedure string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, q.base+procedure, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return q.do(req, out)
}

func (q *pyroscopeQuerier) get(path string, params url.Values, out any) error {
	req, err := http.NewRequest(http.MethodGet, q.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	return q.do(req, out)
}

// flamegraph is the part of the render API's answer (the same on Pyroscope
// 0.37 and on current servers' /pyroscope/render) that the checks read.
type flamegraph struct {
	Flamebearer struct {
		Names    []string  `json:"names"`
		Levels   [][]int64 `json:"levels"`
		NumTicks int64     `json:"numTicks"`
	} `json:"flamebearer"`
	Metadata struct {
		Format     string `json:"format"`
		Units      string `json:"units"`
		SampleRate int64  `json:"sampleRate"`
	} `json:"metadata"`
}

// funcTotals returns the self and total values of the nodes whose name
// contains fn. Levels are in the "single" layout: four numbers per node,
// x-offset delta, total, self, name index.
func (f *flamegraph) funcTotals(fn string) (self, total int64) {
	for _, level := range f.Flamebearer.Levels {
		for j := 0; j+3 < len(level); j += 4 {
			i := level[j+3]
			if i >= 0 && int(i) < len(f.Flamebearer.Names) && strings.Contains(f.Flamebearer.Names[i], fn) {
				total += level[j+1]
				self += level[j+2]
			}
		}
	}
	return self, total
}

func (q *pyroscopeQuerier) render(path, query string, r run) (*flamegraph, error) {
	var f flamegraph
	err := q.get(path, url.Values{
		"query":    {query},
		"from":     {strconv.FormatInt(r.start.Add(-time.Minute).Unix(), 10)},
		"until":    {strconv.FormatInt(r.end.Add(time.Minute).Unix(), 10)},
		"format":   {"json"},
		"maxNodes": {"65536"},
	}, &f)
	return &f, err
}

// eventually retries check until it returns nil or a minute has passed:
// servers ingest asynchronously, so a series may show up a moment after the
// upload was acknowledged.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		<-tick.C
	}
}

// checkLegacySeries checks a Pyroscope 0.x server: every type is a series
// app.<type> among the __name__ values, and its flamegraph holds the
// workload's function.
func checkLegacySeries(t *testing.T, q *pyroscopeQuerier, r run) {
	var names []string
	eventually(t, "series names", func() error {
		if err := q.get("/label-values", url.Values{"label": {"__name__"}}, &names); err != nil {
			return err
		}
		for _, typ := range allTypes {
			if !slices.Contains(names, r.app+"."+string(typ)) {
				return fmt.Errorf("%s.%s is not among the server's series names %v", r.app, typ, ours(names, r.app))
			}
		}
		return nil
	})
	t.Logf("series names on the server: %v", ours(names, r.app))
	for _, typ := range allTypes {
		query := fmt.Sprintf("%s.%s{e2e_run=\"ingest\"}", r.app, typ)
		var f *flamegraph
		eventually(t, query, func() error {
			var err error
			f, err = q.render("/render", query, r)
			if err == nil && f.Flamebearer.NumTicks == 0 {
				err = fmt.Errorf("empty flamegraph")
			}
			return err
		})
		checkTotals(t, typ, query, f, r, true)
	}
}

// checkCurrentSeries checks a current Grafana Pyroscope server: the
// service's profile types include every expected ID and each one's
// flamegraph holds the workload's function.
func checkCurrentSeries(t *testing.T, q *pyroscopeQuerier, r run, goroutineID string) {
	want := map[pyroscope.ProfileType]string{pyroscope.ProfileGoroutines: goroutineID}
	for typ, id := range currentTypeIDs {
		want[typ] = id
	}
	selector := fmt.Sprintf("{service_name=%q}", r.app)
	window := map[string]any{"start": r.start.Add(-time.Minute).UnixMilli(), "end": r.end.Add(time.Minute).UnixMilli()}
	var ids, metricNames []string
	eventually(t, "profile types of "+r.app, func() error {
		var resp struct {
			Names []string `json:"names"`
		}
		in := map[string]any{"name": "__profile_type__", "matchers": []string{selector}}
		for k, v := range window {
			in[k] = v
		}
		if err := q.connect("/querier.v1.QuerierService/LabelValues", in, &resp); err != nil {
			return err
		}
		ids = resp.Names
		for typ, prefix := range want {
			if !slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, prefix) }) {
				return fmt.Errorf("%s: no profile type %s* among %v", typ, prefix, ids)
			}
		}
		return nil
	})
	var resp struct {
		Names []string `json:"names"`
	}
	in := map[string]any{"name": "__name__", "matchers": []string{selector}}
	for k, v := range window {
		in[k] = v
	}
	if err := q.connect("/querier.v1.QuerierService/LabelValues", in, &resp); err != nil {
		t.Errorf("__name__ values: %v", err)
	}
	metricNames = resp.Names
	t.Logf("%s landed as __name__ %v, profile types %v", r.app, metricNames, ids)

	for _, typ := range allTypes {
		i := slices.IndexFunc(ids, func(id string) bool { return strings.HasPrefix(id, want[typ]) })
		query := ids[i] + selector
		var f *flamegraph
		eventually(t, query, func() error {
			var err error
			f, err = q.render("/pyroscope/render", query, r)
			if err == nil && f.Flamebearer.NumTicks == 0 {
				err = fmt.Errorf("empty flamegraph")
			}
			return err
		})
		checkTotals(t, typ, query, f, r, false)
	}
}

// checkTotals checks one type's flamegraph against what the workload did.
// legacy says the server is Pyroscope 0.x, whose cpu unit is samples and
// whose goroutine series averages its windows instead of summing them.
func checkTotals(t *testing.T, typ pyroscope.ProfileType, query string, f *flamegraph, r run, legacy bool) {
	t.Helper()
	fn := workloadFunc[typ]
	self, total := f.funcTotals(fn)
	t.Logf("%-16s %-70s total %-12d %s: self %d, total %d", typ, query, f.Flamebearer.NumTicks, fn, self, total)
	if total <= 0 {
		t.Errorf("%s: %s does not appear in %s (%d nodes)", typ, fn, query, len(f.Flamebearer.Names))
		return
	}
	elapsed := r.end.Sub(r.start)
	switch typ {
	case pyroscope.ProfileCPU:
		// Nothing can use more CPU than the machine has.
		limit := int64(float64(elapsed) * float64(runtime.NumCPU()) * 1.1)
		got := f.Flamebearer.NumTicks
		if legacy {
			got *= int64(time.Second) / int64(pyroscope.DefaultSampleRate) // samples to ns
		}
		if got > limit {
			t.Errorf("cpu: %v of CPU in %v on %d CPUs", time.Duration(got), elapsed, runtime.NumCPU())
		}
	case pyroscope.ProfileAllocSpace:
		// The runtime samples allocations and scales them back up: what
		// e2eAllocate allocated while profiled, within sampling error and
		// less the allocations after the last GC before Stop.
		if lo, hi := r.allocated/2, r.allocated*11/10; self < lo || self > hi {
			t.Errorf("alloc_space: %s self %d bytes, want within [%d, %d] (allocated %d)", fn, self, lo, hi, r.allocated)
		}
	case pyroscope.ProfileAllocObjects:
		n := r.allocated / allocChunk
		if lo, hi := n/2, n*11/10; self < lo || self > hi {
			t.Errorf("alloc_objects: %s self %d objects, want within [%d, %d]", fn, self, lo, hi)
		}
	case pyroscope.ProfileInuseSpace:
		// e2eAllocate keeps liveChunks chunks alive; a window's in-use heap
		// can only hold what it keeps plus the garbage of one GC cycle.
		if self > 1<<30 {
			t.Errorf("inuse_space: %s self %d bytes", fn, self)
		}
	case pyroscope.ProfileGoroutines:
		// Every window counted exactly parkedGoroutines goroutines in
		// e2eParked. Current servers sum the windows: a multiple of it.
		// Pyroscope 0.x averages the series over its time slots (slots with
		// no upload count as 0): at most it.
		if legacy && total > parkedGoroutines || !legacy && total%parkedGoroutines != 0 {
			t.Errorf("goroutines: %d in %s, want %d per window", total, fn, parkedGoroutines)
		}
	}
}

// ours keeps the names that belong to the run's app.
func ours(names []string, app string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, app) {
			out = append(out, n)
		}
	}
	return out
}
