package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// gzProfile is a small real pprof with one sample of each named type.
func gzProfile(t *testing.T, types ...string) []byte {
	t.Helper()
	fn := &profile.Function{ID: 1, Name: "main.work"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	p := &profile.Profile{Function: []*profile.Function{fn}, Location: []*profile.Location{loc}}
	s := &profile.Sample{Location: []*profile.Location{loc}}
	for _, ty := range types {
		p.SampleType = append(p.SampleType, &profile.ValueType{Type: ty, Unit: "count"})
		s.Value = append(s.Value, 7)
	}
	p.Sample = []*profile.Sample{s}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil { // Write gzips
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIngestRequestShape(t *testing.T) {
	type got struct {
		r      *http.Request
		config map[string]sampleType
		prof   *profile.Profile
	}
	ch := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f, _, _ := r.FormFile("profile")
		raw, _ := io.ReadAll(f)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			http.Error(w, "profile part is not gzipped", 400)
			return
		}
		p, err := profile.Parse(zr)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var cfg map[string]sampleType
		c, _, _ := r.FormFile("sample_type_config")
		json.NewDecoder(c).Decode(&cfg)
		ch <- got{r, cfg, p}
	}))
	defer srv.Close()

	creds := &Credentials{BasicUser: "u", BasicPassword: config.NewSecret("pw"), TenantID: "t1",
		Headers: map[string]string{"X-Extra": "1"}, UserAgent: "test/1"}
	in, err := NewIngest(srv.URL+"/base/", creds, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Unix(100, 0)
	w := window.Window{App: "app", Tags: map[string]string{"z": "1", "a": "2"}, Name: window.KindMutex,
		From: from, Until: from.Add(10 * time.Second), Data: gzProfile(t, "contentions", "delay")}
	if n, err := in.Send(context.Background(), []window.Window{w}); n != 1 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	g := <-ch
	q := g.r.URL.Query()
	if g.r.URL.Path != "/base/ingest" {
		t.Errorf("path %q", g.r.URL.Path)
	}
	if q.Get("name") != "app{a=2,z=1}" || q.Get("from") != "100000000000" || q.Get("until") != "110000000000" {
		t.Errorf("query %v", q)
	}
	if q.Has("format") {
		t.Errorf("format sent with a multipart body: Pyroscope 0.37 answers 422 to it")
	}
	if u, p, ok := g.r.BasicAuth(); !ok || u != "u" || p != "pw" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
	if g.r.Header.Get("X-Scope-OrgID") != "t1" || g.r.Header.Get("X-Extra") != "1" || g.r.Header.Get("User-Agent") != "test/1" {
		t.Errorf("headers %v", g.r.Header)
	}
	if g.config["contentions"].DisplayName != "mutex_count" || g.config["delay"].DisplayName != "mutex_duration" {
		t.Errorf("sample_type_config %+v does not tell mutex from block", g.config)
	}
	if len(g.prof.Sample) != 1 || g.prof.Sample[0].Value[1] != 7 {
		t.Errorf("profile arrived changed: %v", g.prof)
	}
}

func TestIngestClassifiesFailures(t *testing.T) {
	tests := []struct {
		status    int
		header    string
		retryable bool
		auth      bool
		after     time.Duration
	}{
		{400, "", false, false, 0},
		{401, "", false, true, 0},
		{403, "", false, true, 0},
		{408, "", true, false, 0},
		{429, "2", true, false, 2 * time.Second},
		{503, "", true, false, 0},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.header != "" {
				w.Header().Set("Retry-After", tt.header)
			}
			http.Error(w, "nope", tt.status)
		}))
		in, _ := NewIngest(srv.URL, &Credentials{Token: config.NewSecret("tok")}, http.DefaultClient)
		n, err := in.Send(context.Background(), []window.Window{{App: "a", Name: window.KindCPU, Data: gzProfile(t, "samples")}})
		srv.Close()
		e, ok := err.(*Error)
		if n != 0 || !ok {
			t.Fatalf("%d: Send = %d, %v", tt.status, n, err)
		}
		if e.Status != tt.status || e.Retryable != tt.retryable || e.Auth != tt.auth || e.RetryAfter != tt.after {
			t.Errorf("%d: classified as %+v", tt.status, e)
		}
	}
}

// The server is told to average what the window marks as snapshots and to
// sum the changes, per sample type and, when the window is all one or the
// other, for the whole series.
func TestIngestAggregationFollowsTheWindow(t *testing.T) {
	type got struct {
		aggregation string
		config      map[string]sampleType
	}
	ch := make(chan got, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var cfg map[string]sampleType
		c, _, _ := r.FormFile("sample_type_config")
		json.NewDecoder(c).Decode(&cfg)
		ch <- got{r.URL.Query().Get("aggregationType"), cfg}
	}))
	defer srv.Close()
	in, err := NewIngest(srv.URL, &Credentials{}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	windows := []window.Window{
		{App: "a", Name: window.KindGoroutines, Data: gzProfile(t, "goroutine"),
			SampleTypes: []window.SampleType{{Name: "goroutine", Snapshot: true}}},
		{App: "a", Name: window.KindHeap, Data: gzProfile(t, "alloc_space", "inuse_space"),
			SampleTypes: []window.SampleType{{Name: "alloc_space"}, {Name: "inuse_space", Snapshot: true}}},
		{App: "a", Name: window.KindBlock, Data: gzProfile(t, "contentions", "delay"),
			SampleTypes: []window.SampleType{{Name: "contentions"}, {Name: "delay"}}},
	}
	if n, err := in.Send(context.Background(), windows); n != 3 || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	want := []struct{ series, types string }{
		{"average", "goroutine=average"},
		{"", "alloc_space= inuse_space=average"},
		{"sum", "contentions= delay="},
	}
	for i, w := range want {
		g := <-ch
		var types []string
		for _, st := range windows[i].SampleTypes {
			types = append(types, st.Name+"="+g.config[st.Name].Aggregation)
		}
		if g.aggregation != w.series || strings.Join(types, " ") != w.types {
			t.Errorf("%s: aggregationType %q, per type %q; want %q, %q", windows[i].Name, g.aggregation, strings.Join(types, " "), w.series, w.types)
		}
	}
}
