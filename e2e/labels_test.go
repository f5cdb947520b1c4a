//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

// TestForeignLabels profiles CPU under the pprof labels other libraries
// set: dd-trace-go's code-hotspots labels ("span id", "local root span
// id", "trace endpoint"), which Pyroscope refuses as label names, and
// otel-profiling-go's "span_id". Against a current Grafana Pyroscope at
// PYROSCOPE_E2E_INGEST_URL, every upload must be accepted, the CPU profile
// queryable with the workload's function under the translated labels
// (service_version from a tag, trace_endpoint from a sample label), and
// the span's own profile (SelectMergeSpanProfile) must hold the work done
// under span_id. PYROSCOPE_E2E_LABELS_PROTOCOL
// picks the protocol (default ingest; push works too).
func TestForeignLabels(t *testing.T) {
	base := os.Getenv("PYROSCOPE_E2E_INGEST_URL")
	if base == "" {
		t.Skip("PYROSCOPE_E2E_INGEST_URL is not set")
	}
	q := newPyroscopeQuerier(t, base, queryToken())
	if q.legacy {
		t.Skip("needs a current Grafana Pyroscope: 0.37 keeps no sample labels")
	}
	app := appName(t, "labels")
	start := time.Now()
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: app,
		ServerAddress:   base,
		Protocol:        os.Getenv("PYROSCOPE_E2E_LABELS_PROTOCOL"),
		Tags:            map[string]string{"service.version": "1.2.3"},
		ProfileTypes:    []pyroscope.ProfileType{pyroscope.ProfileCPU},
		UploadRate:      time.Second,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pprof.Do(context.Background(), pprof.Labels("span id", "1234", "local root span id", "99", "trace endpoint", "GET /cart"),
			func(context.Context) { e2eBurnCPU(stop) })
	}()
	go func() {
		defer wg.Done()
		pprof.Do(context.Background(), pprof.Labels("span_id", "00f067aa0ba902b7"),
			func(context.Context) { e2eBurnCPU(stop) })
	}()
	const windows = 3
	deadline := time.Now().Add(windows*time.Second + time.Minute)
	for time.Now().Before(deadline) {
		if s := p.Stats(); s.Uploaded+s.Dropped >= windows {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopErr := p.Stop()
	close(stop)
	wg.Wait()
	end := time.Now()
	s := p.Stats()
	t.Logf("stats %+v", s)
	if stopErr != nil || s.Dropped != 0 || s.Uploaded < windows {
		t.Fatalf("Stop = %v, stats %+v: want every window accepted", stopErr, s)
	}
	r := run{app: app, start: start, end: end}
	cpu := "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
	for _, sel := range []string{
		fmt.Sprintf(`{service_name=%q,service_version="1.2.3"}`, app),
		fmt.Sprintf(`{service_name=%q,trace_endpoint="GET /cart"}`, app),
	} {
		eventually(t, "CPU of "+sel, func() error {
			f, err := q.render("/pyroscope/render", cpu+sel, r)
			if err != nil {
				return err
			}
			if _, total := f.funcTotals("e2eBurnCPU"); total == 0 {
				return fmt.Errorf("no e2eBurnCPU in %d ticks", f.Flamebearer.NumTicks)
			}
			return nil
		})
	}
	// span_id arrives as otel-profiling-go set it: the server lists it
	// among the application's label values.
	// span_id arrives as otel-profiling-go set it: Pyroscope keeps it on
	// the samples (not as a series label) and serves the span's own
	// profile. Before the label rewrite reused the table's "span_id" string,
	// a profile with both dd-trace-go's and otel's labels had two
	// "span_id" strings and the span's profile came back empty.
	for _, tc := range []struct {
		span string
		want bool
	}{{"00f067aa0ba902b7", true}, {"0123456789abcdef", false}} {
		eventually(t, "span profile of "+tc.span, func() error {
			var out struct {
				Flamegraph struct {
					Names []string `json:"names"`
					Total string   `json:"total"`
				} `json:"flamegraph"`
			}
			err := q.connect("/querier.v1.QuerierService/SelectMergeSpanProfile", map[string]any{
				"profileTypeID": cpu,
				"labelSelector": fmt.Sprintf(`{service_name=%q}`, app),
				"spanSelector":  []string{tc.span},
				"start":         start.Add(-time.Minute).UnixMilli(),
				"end":           end.Add(time.Minute).UnixMilli(),
			}, &out)
			if err != nil {
				return err
			}
			has := slices.ContainsFunc(out.Flamegraph.Names, func(n string) bool { return strings.HasSuffix(n, ".e2eBurnCPU") })
			if has != tc.want || (out.Flamegraph.Total != "0" && out.Flamegraph.Total != "") != tc.want {
				return fmt.Errorf("span profile has e2eBurnCPU %v, total %q; want e2eBurnCPU %v", has, out.Flamegraph.Total, tc.want)
			}
			return nil
		})
	}
}
