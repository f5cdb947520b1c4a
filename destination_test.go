package pyroscope

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/pyroscope-sdk/pyroscope-go/internal/clock/clocktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// openDestination opens the destination that Start would open for cfg, as
// cmd/pyroscope opens one for the profiles it collects by other means.
func openDestination(t *testing.T, cfg Config, env config.LookupEnv) *upload.Destination {
	t.Helper()
	s, err := cfg.resolve(env)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := upload.Open(s, userAgent)
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// A child process given Env() sends to the same series, server and token as
// the destination, even with a different environment of its own.
func TestDestinationEnvReachesAChild(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	dst := openDestination(t, Config{
		ApplicationName: "shop.api{team=a}",
		ServerAddress:   srv.URL,
		Tags:            map[string]string{"env": "prod"},
		UploadRate:      time.Minute,
	}, env("PYROSCOPE_AUTH_TOKEN", "parent-token"))
	defer dst.Close(context.Background(), nil)

	var childEnv []string
	for k, v := range dst.Settings().Env() {
		if v != "" {
			childEnv = append(childEnv, k, v)
		}
	}
	childEnv = append(childEnv, "PYROSCOPE_PROFILE_TYPES", "goroutines")
	p, err := start(Config{}, env(childEnv...), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	r := srv.WaitFor(t, "goroutines")
	if got, want := r.Query["name"], dst.Series(nil); got != want || want != "shop.api{env=prod,team=a}" {
		t.Errorf("child sent to %q, destination is %q", got, want)
	}
	if r.Header.Get("Authorization") != "Bearer parent-token" {
		t.Errorf("child's Authorization = %q", r.Header.Get("Authorization"))
	}
	if p.s.UploadRate != time.Minute {
		t.Errorf("child's UploadRate = %v", p.s.UploadRate)
	}
}

func TestDestinationPushAddsExtraTags(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	dst := openDestination(t, Config{ApplicationName: "app", ServerAddress: srv.URL, Tags: map[string]string{"env": "x"}}, env())
	if err := config.ValidateTags(map[string]string{"__name__": "v"}); err == nil {
		t.Error("ValidateTags accepted a reserved key")
	}
	var buf = goroutineProfile(t)
	dst.Push(map[string]string{"instance": "10.0.0.7:6060", "pod.ip": "10.0.0.7"}, window.Window{Name: window.KindGoroutines, From: time.Unix(1, 0), Until: time.Unix(2, 0), Data: buf})
	if err := dst.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	r := srv.WaitFor(t, "goroutines")
	if r.Query["name"] != "app{env=x,instance=10.0.0.7:6060,pod_ip=10.0.0.7}" {
		t.Errorf("name = %q", r.Query["name"])
	}
}

// PushAs sends under another application name, with the destination's
// tags and the extra ones, as the node agent sends each target's series.
func TestDestinationPushAsNamesTheService(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	dst := openDestination(t, Config{ApplicationName: "agent", ServerAddress: srv.URL, Tags: map[string]string{"env": "x"}}, env())
	dst.PushAs("nginx", map[string]string{"systemd_unit": "nginx.service"}, window.Window{Name: window.KindGoroutines, From: time.Unix(1, 0), Until: time.Unix(2, 0), Data: goroutineProfile(t)})
	if err := dst.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if r := srv.WaitFor(t, "goroutines"); r.Query["name"] != "nginx{env=x,systemd_unit=nginx.service}" {
		t.Errorf("name = %q, want nginx{env=x,systemd_unit=nginx.service}", r.Query["name"])
	}
}

// Sample label keys that other libraries set and servers refuse reach
// every backend translated, whoever produced the window (here the CLI's
// path: a window pushed to a Destination).
func TestDestinationPushTranslatesSampleLabelKeys(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	dst := openDestination(t, Config{ApplicationName: "app", ServerAddress: srv.URL}, env())
	fn := &profile.Function{ID: 1, Name: "main.work"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}},
		Function:   []*profile.Function{fn}, Location: []*profile.Location{loc},
		Sample: []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{1},
			Label: map[string][]string{"span id": {"1"}, "trace endpoint": {"GET /cart"}}}},
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	dst.Push(nil, window.Window{Name: window.KindGoroutines, From: time.Unix(1, 0), Until: time.Unix(2, 0), Data: buf.Bytes()})
	if err := dst.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	r := srv.WaitFor(t, "goroutines")
	got := r.Profile.Sample[0].Label
	want := map[string][]string{"span_id": {"1"}, "trace_endpoint": {"GET /cart"}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("labels %v, want %v", got, want)
	}
}
