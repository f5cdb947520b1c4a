//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

// parcaTypes gives, per SDK profile type, the __name__ and sample type a
// Parca server files it under.
var parcaTypes = map[pyroscope.ProfileType]struct{ name, sampleType string }{
	pyroscope.ProfileCPU:           {"process_cpu", "cpu"},
	pyroscope.ProfileAllocSpace:    {"memory", "alloc_space"},
	pyroscope.ProfileAllocObjects:  {"memory", "alloc_objects"},
	pyroscope.ProfileInuseSpace:    {"memory", "inuse_space"},
	pyroscope.ProfileInuseObjects:  {"memory", "inuse_objects"},
	pyroscope.ProfileGoroutines:    {"goroutine", "goroutine"},
	pyroscope.ProfileMutexCount:    {"mutex", "contentions"},
	pyroscope.ProfileMutexDuration: {"mutex", "delay"},
	pyroscope.ProfileBlockCount:    {"block", "contentions"},
	pyroscope.ProfileBlockDuration: {"block", "delay"},
}

// parcaType is one entry of Parca's /profiles/types answer.
type parcaType struct {
	Name       string `json:"name"`
	SampleType string `json:"sampleType"`
	SampleUnit string `json:"sampleUnit"`
	PeriodType string `json:"periodType"`
	PeriodUnit string `json:"periodUnit"`
	Delta      bool   `json:"delta"`
}

// query renders the type the way Parca's query language names it.
func (p parcaType) query() string {
	q := strings.Join([]string{p.Name, p.SampleType, p.SampleUnit, p.PeriodType, p.PeriodUnit}, ":")
	if p.Delta {
		q += ":delta"
	}
	return q
}

// TestParca sends every profile type with WriteRaw to the Parca server whose
// gRPC and HTTP API listen at PYROSCOPE_E2E_PARCA_ADDR (http://host:port,
// plaintext), then reads each type back as pprof through Parca's query API.
func TestParca(t *testing.T) {
	addr := os.Getenv("PYROSCOPE_E2E_PARCA_ADDR")
	if addr == "" {
		t.Skip("PYROSCOPE_E2E_PARCA_ADDR is not set")
	}
	base := strings.TrimSuffix(addr, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "https://" + base
	}
	r := profileWorkload(t, pyroscope.Config{
		ApplicationName: appName(t, "parca"),
		Tags:            map[string]string{"e2e_run": "parca"},
		ServerAddress:   addr,
		Protocol:        "parca",
		AuthToken:       os.Getenv("PYROSCOPE_E2E_PARCA_TOKEN"),
	})
	checkDelivered(t, r)

	ts := func(tm time.Time) string { return tm.UTC().Format(time.RFC3339Nano) }
	from, until := ts(r.start.Add(-time.Minute)), ts(r.end.Add(time.Minute))
	selector := fmt.Sprintf("{service_name=%q}", r.app)

	found := map[pyroscope.ProfileType]parcaType{}
	eventually(t, "profile types", func() error {
		var resp struct {
			Types []parcaType `json:"types"`
		}
		if err := getJSON(base+"/api/profiles/types", url.Values{"start": {from}, "end": {until}}, &resp); err != nil {
			return err
		}
		for typ, want := range parcaTypes {
			// Live heap and goroutine counts are snapshots; the rest
			// are changes over a window, which Parca calls delta.
			delta := typ != pyroscope.ProfileInuseSpace && typ != pyroscope.ProfileInuseObjects &&
				typ != pyroscope.ProfileGoroutines && typ != pyroscope.ProfileGoroutineLeak
			for _, pt := range resp.Types {
				if pt.Name == want.name && pt.SampleType == want.sampleType {
					if pt.Delta != delta {
						return fmt.Errorf("%s: stored as %s, want delta=%v", typ, pt.query(), delta)
					}
					found[typ] = pt
				}
			}
			if _, ok := found[typ]; !ok {
				return fmt.Errorf("%s: no type %s:%s among %+v", typ, want.name, want.sampleType, resp.Types)
			}
		}
		return nil
	})

	for _, typ := range allTypes {
		query := found[typ].query() + selector
		var p *profile.Profile
		eventually(t, query, func() error {
			var resp struct {
				Pprof []byte `json:"pprof"` // base64 in JSON, decoded by encoding/json
			}
			err := getJSON(base+"/api/profiles/query", url.Values{
				"mode":        {"MODE_MERGE"},
				"reportType":  {"REPORT_TYPE_PPROF"},
				"merge.query": {query},
				"merge.start": {from},
				"merge.end":   {until},
			}, &resp)
			if err != nil {
				return err
			}
			if p, err = profile.ParseData(resp.Pprof); err != nil {
				return fmt.Errorf("parsing the pprof Parca returned: %w", err)
			}
			if len(p.Sample) == 0 {
				return fmt.Errorf("no samples")
			}
			return nil
		})
		checkParcaProfile(t, typ, query, p, r)
	}
}

// checkParcaProfile checks one type's merged profile against what the
// workload did.
func checkParcaProfile(t *testing.T, typ pyroscope.ProfileType, query string, p *profile.Profile, r run) {
	t.Helper()
	fn := workloadFunc[typ]
	var sum, flat, cum int64
	for _, s := range p.Sample {
		v := s.Value[0]
		sum += v
		inFn := false
		for i, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && strings.Contains(line.Function.Name, fn) {
					inFn = true
					if i == 0 {
						flat += v
					}
				}
			}
		}
		if inFn {
			cum += v
		}
	}
	t.Logf("%-16s %-80s total %-12d %s: flat %d, cum %d", typ, query, sum, fn, flat, cum)
	if cum <= 0 {
		t.Errorf("%s: %s does not appear in %s (%d samples)", typ, fn, query, len(p.Sample))
		return
	}
	elapsed := r.end.Sub(r.start)
	switch typ {
	case pyroscope.ProfileCPU:
		if limit := int64(float64(elapsed) * float64(runtime.NumCPU()) * 1.1); sum > limit {
			t.Errorf("cpu: %v of CPU in %v on %d CPUs", time.Duration(sum), elapsed, runtime.NumCPU())
		}
	case pyroscope.ProfileAllocSpace:
		if lo, hi := r.allocated/2, r.allocated*11/10; flat < lo || flat > hi {
			t.Errorf("alloc_space: %s flat %d bytes, want within [%d, %d] (allocated %d)", fn, flat, lo, hi, r.allocated)
		}
	case pyroscope.ProfileGoroutines:
		if cum%parkedGoroutines != 0 {
			t.Errorf("goroutines: %d in %s, want a multiple of %d", cum, fn, parkedGoroutines)
		}
	}
}

func getJSON(u string, params url.Values, out any) error {
	resp, err := http.Get(u + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b.String())
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
