// Package proftest decodes and measures profiles the way tests of several
// packages check them: it parses an upload to Pyroscope's /ingest as the
// server does and sums a profile's samples by function. Only tests import
// it.
package proftest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/pprof/profile"
)

// An Ingest is one upload to Pyroscope's /ingest endpoint.
type Ingest struct {
	Query   url.Values
	Profile *profile.Profile
	// SampleTypeConfig is the sample_type_config part, keyed by sample
	// type; nil when the request has no such part.
	SampleTypeConfig map[string]map[string]any
}

// ParseIngest reads r's multipart body as Pyroscope does: exactly one
// "profile" part, which must parse as pprof, and at most one
// "sample_type_config" part, which must be JSON.
func ParseIngest(r *http.Request) (*Ingest, error) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		return nil, err
	}
	parts := func(name string) ([][]byte, error) {
		var out [][]byte
		for _, fh := range r.MultipartForm.File[name] {
			f, err := fh.Open()
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("reading %q part: %w", name, err)
			}
			out = append(out, b)
		}
		return out, nil
	}
	ing := &Ingest{Query: r.URL.Query()}
	prof, err := parts("profile")
	if err != nil {
		return nil, err
	}
	if len(prof) != 1 {
		return nil, fmt.Errorf("want one %q part, got %d", "profile", len(prof))
	}
	if ing.Profile, err = profile.ParseData(prof[0]); err != nil {
		return nil, fmt.Errorf("profile part does not parse as pprof: %w", err)
	}
	cfg, err := parts("sample_type_config")
	if err != nil {
		return nil, err
	}
	switch len(cfg) {
	case 0:
	case 1:
		if err := json.Unmarshal(cfg[0], &ing.SampleTypeConfig); err != nil {
			return nil, fmt.Errorf("sample_type_config part is not JSON: %w", err)
		}
	default:
		return nil, fmt.Errorf("want at most one %q part, got %d", "sample_type_config", len(cfg))
	}
	return ing, nil
}

// Sum adds up sample type typ over the samples whose stack holds a function
// whose name contains fn. ok is false when p has no sample type typ.
func Sum(p *profile.Profile, typ, fn string) (sum int64, ok bool) {
	i := -1
	for j, st := range p.SampleType {
		if st.Type == typ {
			i = j
			break
		}
	}
	if i < 0 {
		return 0, false
	}
	for _, s := range p.Sample {
		if stackHas(s, fn) {
			sum += s.Value[i]
		}
	}
	return sum, true
}

// stackHas reports whether a frame of s is in a function whose name
// contains fn.
func stackHas(s *profile.Sample, fn string) bool {
	return stackMatches(s, func(name string) bool { return strings.Contains(name, fn) })
}

// stackMatches reports whether a frame of s is in a function whose name
// match accepts.
func stackMatches(s *profile.Sample, match func(name string) bool) bool {
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil && match(l.Function.Name) {
				return true
			}
		}
	}
	return false
}
