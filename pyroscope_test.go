package pyroscope

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/clock/clocktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/collect"
	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
)

func TestMain(m *testing.M) {
	// TestGoroutineLeakWindows leaks a goroutine on purpose: no one can
	// ever wake it.
	leaktest.VerifyTestMain(m, "github.com/pyroscope-sdk/pyroscope-go.blockedForever")
}

// env is a fixed environment for start.
func env(kv ...string) config.LookupEnv {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

var keepAlive [][]byte

//go:noinline
func allocBeforeStart(n, size int) {
	for range n {
		keepAlive = append(keepAlive, make([]byte, size))
	}
	keepAlive = nil
}

func TestCPUAndHeapWindowsArriveAtIngest(t *testing.T) {
	proftest.SampleEveryAllocation(t)
	allocBeforeStart(500, 64<<10)
	srv := proftest.NewIngestServer(t)
	clk := clocktest.NewFake()
	p, err := start(Config{
		ApplicationName: "checkout.api{env=test}",
		ServerAddress:   srv.URL + "/prefix",
		AuthToken:       "config-token",
		Tags:            map[string]string{"region": "eu_1"},
	}, env(), clk)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	from := clk.Now()

	proftest.BurnCPU(400 * time.Millisecond)
	const n, size = 1000, 64 << 10
	proftest.AllocKnown(n, size)
	clk.Tick(15 * time.Second)

	cpu := srv.WaitFor(t, "cpu")
	if got := proftest.ValueOf(cpu.Profile, "samples", "BurnCPU"); got == 0 {
		t.Errorf("CPU window has no samples in BurnCPU; functions: %v", functions(cpu.Profile))
	}
	if cpu.Path != "/prefix/ingest" {
		t.Errorf("path %q, want the prefix kept: /prefix/ingest", cpu.Path)
	}
	want := map[string]string{
		"name":       "checkout.api{env=test,region=eu_1}",
		"from":       itoa(from.UnixNano()),
		"until":      itoa(from.Add(15 * time.Second).UnixNano()),
		"spyName":    "gospy",
		"sampleRate": "100",
	}
	for k, v := range want {
		if cpu.Query[k] != v {
			t.Errorf("query %s = %q, want %q", k, cpu.Query[k], v)
		}
	}
	if got := cpu.Header.Get("Authorization"); got != "Bearer config-token" {
		t.Errorf("Authorization = %q, want the token as Bearer", got)
	}
	if ua := cpu.Header.Get("User-Agent"); !strings.HasPrefix(ua, "pyroscope-sdk-go/") {
		t.Errorf("User-Agent = %q", ua)
	}

	heap := srv.WaitFor(t, "heap")
	if before := proftest.ValueOf(heap.Profile, "alloc_space", "allocBeforeStart"); before != 0 {
		t.Errorf("the first heap window holds %d bytes allocated before Start", before)
	}
	// The runtime publishes allocations at the end of a GC cycle; the SDK
	// forces one only when none ran in the window, so the tail of the
	// allocations may land in the next window. The sum over windows is exact.
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	var got int64
	for _, r := range srv.All() {
		if r.Family() == "heap" {
			got += proftest.AllocatedOfSize(r.Profile, "AllocKnown", size)
		}
	}
	if got != n*size {
		t.Errorf("alloc_space in AllocKnown summed over the windows = %d, want %d", got, n*size)
	}
	if cfg := heap.Config["inuse_space"]; cfg["aggregation"] != "average" {
		t.Errorf("sample_type_config for inuse_space = %v, want aggregation average", cfg)
	}
}

func functions(p *profile.Profile) []string {
	var out []string
	for _, f := range p.Function {
		out = append(out, f.Name)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTokenSources(t *testing.T) {
	tests := []struct {
		name   string
		config string
		env    []string
		want   string
	}{
		{"from Config", "cfg-token", nil, "Bearer cfg-token"},
		{"from PYROSCOPE_AUTH_TOKEN", "", []string{"PYROSCOPE_AUTH_TOKEN", "env-token"}, "Bearer env-token"},
		{"Config wins over the environment", "cfg-token", []string{"PYROSCOPE_AUTH_TOKEN", "env-token"}, "Bearer cfg-token"},
		{"none", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := proftest.NewIngestServer(t)
			p, err := start(Config{
				ApplicationName: "app",
				ServerAddress:   srv.URL,
				AuthToken:       tt.config,
				ProfileTypes:    []ProfileType{ProfileGoroutines},
			}, env(tt.env...), clocktest.NewFake())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Stop(); err != nil {
				t.Fatal(err)
			}
			r := srv.WaitFor(t, "goroutines")
			if got := r.Header.Get("Authorization"); got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	ok := Config{ApplicationName: "app", ServerAddress: "http://127.0.0.1:1"}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		env  []string
		want string
	}{
		{"empty application name", with(func(c *Config) { c.ApplicationName = "" }), nil, "PYROSCOPE_APPLICATION_NAME"},
		{"tag keys that become one", with(func(c *Config) { c.Tags = map[string]string{"a.b": "x", "a_b": "y"} }), nil, `tag keys "a.b" and "a_b" both become "a_b"`},
		{"tag key reserved", with(func(c *Config) { c.Tags = map[string]string{"__name__": "x"} }), nil, "reserved"},
		{"tag value with a brace", with(func(c *Config) { c.Tags = map[string]string{"env": "a}b"} }), nil, "breaks the app{k=v}"},
		{"tag value with a comma", with(func(c *Config) { c.Tags = map[string]string{"env": "a,b"} }), nil, "breaks the app{k=v}"},
		{"tag value with a newline", with(func(c *Config) { c.Tags = map[string]string{"env": "a\nb"} }), nil, "breaks the app{k=v}"},
		{"tag value with =", with(func(c *Config) { c.Tags = map[string]string{"env": "a=b"} }), nil, "breaks the app{k=v}"},
		{"bad tags in the name", with(func(c *Config) { c.ApplicationName = "app{env}" }), nil, "has no '='"},
		{"unclosed brace in the name", with(func(c *Config) { c.ApplicationName = "app{env=x" }), nil, "without a closing"},
		{"bad PYROSCOPE_TAGS", ok, []string{"PYROSCOPE_TAGS", "a=b}"}, "PYROSCOPE_TAGS"},
		{"address not http", with(func(c *Config) { c.ServerAddress = "ftp://x" }), nil, "not an http(s) URL"},
		{"address without host", with(func(c *Config) { c.ServerAddress = "http://" }), nil, "not an http(s) URL"},
		{"address empty", with(func(c *Config) { c.ServerAddress = "" }), nil, "PYROSCOPE_SERVER_ADDRESS"},
		{"token and basic auth", with(func(c *Config) { c.AuthToken = "t"; c.BasicAuthUser = "u"; c.BasicAuthPassword = "p" }), nil, "ambiguous"},
		{"env token and basic auth", with(func(c *Config) { c.BasicAuthUser = "u" }), []string{"PYROSCOPE_AUTH_TOKEN", "t"}, "PYROSCOPE_AUTH_TOKEN"},
		{"bad upload rate", ok, []string{"PYROSCOPE_UPLOAD_RATE", "soon"}, "PYROSCOPE_UPLOAD_RATE"},
		{"bad log level", ok, []string{"PYROSCOPE_LOG_LEVEL", "loud"}, "PYROSCOPE_LOG_LEVEL"},
		{"bad profile type", ok, []string{"PYROSCOPE_PROFILE_TYPES", "cpu,heap"}, `unknown profile type "heap"`},
		{"unknown protocol", with(func(c *Config) { c.Protocol = "otlp" }), nil, `Protocol "otlp"`},
		{"bad sample rate", ok, []string{"PYROSCOPE_SAMPLE_RATE", "-1"}, "PYROSCOPE_SAMPLE_RATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := start(tt.cfg, env(tt.env...), clocktest.NewFake())
			if err == nil {
				p.Stop()
				t.Fatalf("Start succeeded, want an error mentioning %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestStartFailsWhileAnotherCPUProfileRuns(t *testing.T) {
	if err := pprof.StartCPUProfile(new(strings.Builder)); err != nil {
		t.Fatal(err)
	}
	defer pprof.StopCPUProfile()
	_, err := start(Config{ApplicationName: "app", ServerAddress: "file://" + t.TempDir()}, env(), clocktest.NewFake())
	if err == nil || !strings.Contains(err.Error(), "another CPU profile is already running") {
		t.Fatalf("err = %v, want it to name the running CPU profile", err)
	}
}

func TestEnvironmentFillsUnsetFields(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	p, err := start(Config{}, env(
		"PYROSCOPE_APPLICATION_NAME", "envapp",
		"PYROSCOPE_SERVER_ADDRESS", "http://wrong.invalid",
		"PYROSCOPE_ADHOC_SERVER_ADDRESS", srv.URL,
		"PYROSCOPE_TAGS", "team=core, zone=a",
		"PYROSCOPE_PROFILE_TYPES", "goroutines",
		"PYROSCOPE_TENANT_ID", "tenant-7",
		"PYROSCOPE_UPLOAD_RATE", "1m",
		"PYROSCOPE_LOG_LEVEL", "off",
	), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	if p.s.UploadRate != time.Minute {
		t.Errorf("UploadRate = %v, want 1m from the environment", p.s.UploadRate)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	r := srv.WaitFor(t, "goroutines")
	if r.Query["name"] != "envapp{team=core,zone=a}" {
		t.Errorf("name = %q", r.Query["name"])
	}
	if r.Header.Get("X-Scope-OrgID") != "tenant-7" {
		t.Errorf("X-Scope-OrgID = %q", r.Header.Get("X-Scope-OrgID"))
	}
	if len(srv.All()) != 1 {
		t.Errorf("got %d uploads, want only the goroutines type asked for", len(srv.All()))
	}
}

func TestStopDeliversLastWindowOfEveryType(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	before := leaktest.Current()
	p, err := start(Config{
		ApplicationName: "app",
		ServerAddress:   srv.URL,
		ProfileTypes: []ProfileType{ProfileCPU, ProfileAllocSpace, ProfileInuseSpace, ProfileGoroutines,
			ProfileMutexCount, ProfileMutexDuration, ProfileBlockCount, ProfileBlockDuration},
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// No goroutine of the SDK outlives Stop, keep-alive connections
	// included; the test server's own connection goroutines are not ours.
	if err := before.Since("net/http.(*conn).serve"); err != nil {
		t.Error(err)
	}
	got := map[string]int{}
	for _, r := range srv.All() {
		got[r.Family()]++
	}
	for _, f := range []string{"cpu", "heap", "goroutines", "mutex", "block"} {
		if got[f] != 1 {
			t.Errorf("%s windows delivered by Stop = %d, want 1 (all: %v)", f, got[f], got)
		}
	}
	// Flush and Stop after Stop return at once.
	done := make(chan struct{})
	go func() { p.Flush(true); p.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Flush or Stop after Stop did not return")
	}
}

func TestDirectorySinkWritesProfilesPprofOpens(t *testing.T) {
	dir := t.TempDir()
	p, err := start(Config{
		ApplicationName: "dirapp",
		ServerAddress:   "file://" + dir,
		ProfileTypes:    []ProfileType{ProfileCPU, ProfileAllocSpace},
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	proftest.BurnCPU(300 * time.Millisecond)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "dirapp", "cpu_*.pb.gz"))
	if len(files) != 1 {
		t.Fatalf("cpu files: %v", files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prof, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("%s does not parse as pprof: %v", files[0], err)
	}
	if proftest.ValueOf(prof, "samples", "BurnCPU") == 0 {
		t.Errorf("no BurnCPU samples in %s", files[0])
	}
	if _, err := os.Stat(strings.TrimSuffix(files[0], ".pb.gz") + ".json"); err != nil {
		t.Errorf("labels file missing: %v", err)
	}
}

func TestContentionRatesSetAndRestored(t *testing.T) {
	defer runtime.SetMutexProfileFraction(runtime.SetMutexProfileFraction(0))
	tests := []struct {
		name     string
		fraction int
		env      []string
		during   int
	}{
		{"default when the runtime's is 0", 0, nil, 10},
		{"Config chooses", 3, nil, 3},
		{"environment chooses", 0, []string{"PYROSCOPE_MUTEX_PROFILE_FRACTION", "7"}, 7},
		{"-1 leaves it alone", -1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := start(Config{
				ApplicationName: "app", ServerAddress: "file://" + t.TempDir(),
				ProfileTypes:         []ProfileType{ProfileMutexCount},
				MutexProfileFraction: tt.fraction,
			}, env(tt.env...), clocktest.NewFake())
			if err != nil {
				t.Fatal(err)
			}
			during := runtime.SetMutexProfileFraction(-1)
			if err := p.Stop(); err != nil {
				t.Fatal(err)
			}
			if during != tt.during {
				t.Errorf("fraction while running = %d, want %d", during, tt.during)
			}
			if after := runtime.SetMutexProfileFraction(-1); after != 0 {
				t.Errorf("fraction after Stop = %d, want the previous 0", after)
			}
		})
	}
}

//go:noinline
func blockOnChannel(d time.Duration) {
	ch := make(chan struct{})
	go func() { time.Sleep(d); close(ch) }()
	<-ch
}

// startBlockOnly starts a profiler of the block profile alone on a fake
// clock, so that only Flush and Stop cut windows.
func startBlockOnly(t *testing.T, server string) *Profiler {
	t.Helper()
	p, err := start(Config{
		ApplicationName: "app", ServerAddress: server,
		ProfileTypes: []ProfileType{ProfileBlockCount, ProfileBlockDuration},
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The block rate is process-wide and unreadable: after a first Start and
// Stop set it and restored 0, a second Start in the same process must set it
// again, or every block window it sends is empty.
func TestBlockProfileAfterRestart(t *testing.T) {
	for run := range 2 {
		srv := proftest.NewIngestServer(t)
		p := startBlockOnly(t, srv.URL)
		blockOnChannel(20 * time.Millisecond)
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		r := srv.WaitFor(t, "block")
		if got := proftest.ValueOf(r.Profile, "delay", "blockOnChannel"); got <= 0 {
			t.Errorf("run %d: block delay in blockOnChannel = %d, want > 0", run+1, got)
		}
	}
}

// The profiler's own goroutines wait for the next window and for uploads by
// design, seconds per window: the block profile must show the program's
// blocking, not theirs.
func TestBlockProfileLeavesOutOwnWaits(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	p := startBlockOnly(t, srv.URL)
	blockOnChannel(20 * time.Millisecond)
	// Delivering the first window ends the upload workers' and the
	// scheduler's first waits; the runtime records them then, so the
	// window Stop cuts would hold them.
	p.Flush(true)
	blockOnChannel(20 * time.Millisecond)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	var windows int
	var user int64
	for _, r := range srv.All() {
		if r.Family() != "block" {
			continue
		}
		windows++
		user += proftest.ValueOf(r.Profile, "delay", "blockOnChannel")
		for _, s := range r.Profile.Sample {
			for _, own := range []string{".(*Profiler).loop", ".(*Queue).work"} {
				if proftest.StackEndsIn(s, own) {
					t.Errorf("block window %d holds the profiler's own wait in %s: %v", windows, own, s.Value)
				}
			}
		}
	}
	if windows != 2 || user < (40*time.Millisecond).Nanoseconds() {
		t.Errorf("%d block windows with %v of blockOnChannel delay, want 2 and at least 40ms", windows, time.Duration(user))
	}
}

// Stop reports a final window that the server refused, not only one it never
// reached.
func TestStopReportsRejectedFinalWindow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid API key", http.StatusUnauthorized)
	}))
	defer srv.Close()
	var logs strings.Builder
	var mu sync.Mutex
	p, err := start(Config{
		ApplicationName: "app", ServerAddress: srv.URL, AuthToken: "canary-secret-7f3a",
		ProfileTypes: []ProfileType{ProfileGoroutines},
		Logger:       recordingLogger{&mu, &logs},
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	err = p.Stop()
	if err == nil || !strings.Contains(err.Error(), "1 profile window not delivered") {
		t.Fatalf("Stop = %v, want it to report the refused window", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range []string{err.Error(), logs.String()} {
		if strings.Contains(s, "canary-secret-7f3a") {
			t.Fatalf("the token leaked: %q", s)
		}
	}
	if !strings.Contains(logs.String(), "Config.AuthToken") {
		t.Errorf("log does not say where the rejected token came from: %q", logs.String())
	}
}

type recordingLogger struct {
	mu  *sync.Mutex
	out *strings.Builder
}

func (l recordingLogger) Infof(f string, a ...any)  { l.write(f, a) }
func (l recordingLogger) Debugf(f string, a ...any) { l.write(f, a) }
func (l recordingLogger) Errorf(f string, a ...any) { l.write(f, a) }
func (l recordingLogger) write(f string, a []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, f+"\n", a...)
}

// Start says once, at info, how the runtime's profiles are read: through
// the runtime's records on a release the SDK was checked against, through
// runtime/pprof's public API otherwise.
func TestStartLogsHowProfilesAreRead(t *testing.T) {
	for _, tc := range []struct {
		types []ProfileType
		want  int
	}{
		{[]ProfileType{ProfileGoroutines, ProfileInuseSpace, ProfileMutexCount}, 1},
		{[]ProfileType{ProfileCPU}, 0},
	} {
		var logs strings.Builder
		var mu sync.Mutex
		p, err := start(Config{
			ApplicationName: "app", ServerAddress: "file://" + t.TempDir(),
			ProfileTypes: tc.types,
			Logger:       recordingLogger{&mu, &logs},
		}, env("PYROSCOPE_LOG_LEVEL", "info"), clocktest.NewFake())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if got := strings.Count(logs.String(), collect.Path()); got != tc.want {
			t.Errorf("types %v: the line %q is logged %d times, want %d; log:\n%s", tc.types, collect.Path(), got, tc.want, logs.String())
		}
		mu.Unlock()
	}
}

// blockedForever receives from a channel that only it still references.
//
//go:noinline
func blockedForever(ch chan int) { <-ch }

//go:noinline
func leakOne() {
	ch := make(chan int)
	go blockedForever(ch)
}

// goroutine_leak arrives under its own series, as a snapshot holding the
// leaked goroutine and not the healthy parked ones, where the runtime has
// the profile; elsewhere Start says so at info and carries on.
func TestGoroutineLeakWindows(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	var logs strings.Builder
	var mu sync.Mutex
	clk := clocktest.NewFake()
	p, err := start(Config{
		ApplicationName: "app", ServerAddress: srv.URL,
		ProfileTypes: []ProfileType{ProfileGoroutineLeak},
		Logger:       recordingLogger{&mu, &logs},
	}, env("PYROSCOPE_LOG_LEVEL", "info"), clk)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if pprof.Lookup("goroutineleak") == nil {
		p.Stop()
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "goroutine_leak is not collected") {
			t.Errorf("no info line says goroutine_leak is not collected; log:\n%s", logs.String())
		}
		t.Skipf("no goroutine leak profile on %s: checked that Start says so", runtime.Version())
	}
	release := make(chan struct{})
	defer close(release)
	go func() { <-release }() // parked, its channel reachable: not a leak

	leakOne()
	for {
		clk.Tick(15 * time.Second)
		w := srv.WaitFor(t, "goroutine_leak")
		if got := w.Query["name"]; got != "app{}" {
			t.Errorf("name = %q, want app{}", got)
		}
		if proftest.ValueOf(w.Profile, "goroutineleak", "TestGoroutineLeakWindows.func") != 0 {
			t.Fatalf("the leak window holds the healthy parked goroutine; functions %v", functions(w.Profile))
		}
		if proftest.ValueOf(w.Profile, "goroutineleak", "blockedForever") > 0 {
			return
		}
		// The leaked goroutine had not reached its receive yet: next window.
	}
}

// Against a server that accepts connections and never answers, Stop as a
// whole returns within StopTimeout, and its error says the loss once: one
// count, the address, the cause.
func TestStopWithinStopTimeoutAgainstBlackHole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	const stopTimeout = time.Second
	p, err := start(Config{
		ApplicationName: "app", ServerAddress: "http://" + ln.Addr().String(),
		ProfileTypes: []ProfileType{ProfileGoroutines}, StopTimeout: stopTimeout,
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	// Stop must return before a timer set for StopTimeout when it began
	// fires: on a loaded machine both are late alike, and a Stop that
	// waits out its whole budget and then more loses the race.
	begin := time.Now()
	fired := make(chan time.Time, 1)
	time.AfterFunc(stopTimeout, func() { fired <- time.Now() })
	err = p.Stop()
	returned := time.Now()
	if deadline := <-fired; returned.After(deadline) {
		t.Errorf("Stop took %s, past its StopTimeout of %s (the timer for it fired after %s)", returned.Sub(begin), stopTimeout, deadline.Sub(begin))
	}
	want := "pyroscope: 1 profile window not delivered to http://" + ln.Addr().String() + ": the deadline passed: context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Errorf("Stop = %v, want %q", err, want)
	}
}

// Tag keys grafana's SDK accepted do not make Start fail: they are sent as
// servers store them, and the renaming is said once, at info.
func TestStartRenamesTagKeysServersCannotStore(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	var logs strings.Builder
	var mu sync.Mutex
	p, err := start(Config{
		ApplicationName: "app{k8s-pod=web-1}", ServerAddress: srv.URL,
		Tags:         map[string]string{"service.version": "1.2.3"},
		ProfileTypes: []ProfileType{ProfileGoroutines},
		Logger:       recordingLogger{&mu, &logs},
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	r := srv.WaitFor(t, "goroutines")
	if got, want := r.Query["name"], "app{k8s_pod=web-1,service_version=1.2.3}"; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	want := `tag keys sent as the servers store them: "k8s-pod" as "k8s_pod", "service.version" as "service_version"`
	if n := strings.Count(logs.String(), want); n != 1 {
		t.Errorf("renaming said %d times, want once:\n%s", n, logs.String())
	}
}
