package proftest

import (
	"bytes"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// pprofBytes is a small gzipped pprof with one goroutine sample type.
func pprofBytes(t *testing.T) []byte {
	t.Helper()
	fn := &profile.Function{ID: 1, Name: "main.main"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}},
		Sample:     []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{1}}},
		Location:   []*profile.Location{loc},
		Function:   []*profile.Function{fn},
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseIngest(t *testing.T) {
	prof := pprofBytes(t)
	type part struct{ name, body string }
	tests := []struct {
		name    string
		parts   []part
		wantErr string // empty: parses
		wantCfg bool
	}{
		{"profile and config", []part{{"profile", string(prof)}, {"sample_type_config", `{"goroutine":{"units":"goroutines"}}`}}, "", true},
		{"profile alone", []part{{"profile", string(prof)}}, "", false},
		{"no profile", []part{{"sample_type_config", `{}`}}, `want one "profile" part, got 0`, false},
		{"two profiles", []part{{"profile", string(prof)}, {"profile", string(prof)}}, `want one "profile" part, got 2`, false},
		{"not pprof", []part{{"profile", "junk"}}, "does not parse as pprof", false},
		{"config not JSON", []part{{"profile", string(prof)}, {"sample_type_config", "{"}}, "not JSON", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for _, p := range tt.parts {
				w, err := mw.CreateFormFile(p.name, p.name)
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte(p.body))
			}
			mw.Close()
			r := httptest.NewRequest("POST", "/ingest?name=app&from=1", &body)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			ing, err := ParseIngest(r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ing.Query.Get("name") != "app" || ing.Profile.SampleType[0].Type != "goroutine" {
				t.Errorf("query %v, sample types %v", ing.Query, ing.Profile.SampleType)
			}
			if got := ing.SampleTypeConfig["goroutine"]["units"]; (got == "goroutines") != tt.wantCfg {
				t.Errorf("sample_type_config %v, want it present: %v", ing.SampleTypeConfig, tt.wantCfg)
			}
		})
	}
}

func TestSum(t *testing.T) {
	fn := func(name string) *profile.Location {
		return &profile.Location{Line: []profile.Line{{Function: &profile.Function{Name: name}}}}
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "contentions"}, {Type: "delay"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{fn("main.work.func1"), fn("main.main")}, Value: []int64{1, 10}},
			{Location: []*profile.Location{fn("main.work")}, Value: []int64{2, 20}},
			{Location: []*profile.Location{fn("main.idle")}, Value: []int64{4, 40}},
		},
	}
	tests := []struct {
		typ, fn string
		want    int64
		wantOK  bool
	}{
		{"delay", "main.work", 30, true},
		{"contentions", "work.func1", 1, true},
		{"delay", "main.main", 10, true},
		{"delay", "absent", 0, true},
		{"alloc_space", "main.work", 0, false},
	}
	for _, tt := range tests {
		if got, ok := Sum(p, tt.typ, tt.fn); got != tt.want || ok != tt.wantOK {
			t.Errorf("Sum(%s, %s) = %d, %v; want %d, %v", tt.typ, tt.fn, got, ok, tt.want, tt.wantOK)
		}
	}
}
