package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
)

// bin holds the binaries TestMain builds: the CLI and the test programs.
var bin struct {
	dir                                   string
	cli, hot, withsdk, pprofserver, cspin string
	cspinErr                              string // why cspin could not be built
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pyroscope-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	build := func(out *string, name, pkg string) {
		*out = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", *out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, b)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	build(&bin.cli, "pyroscope", ".")
	build(&bin.hot, "hot", "./testdata/hot")
	build(&bin.withsdk, "withsdk", "./testdata/withsdk")
	build(&bin.pprofserver, "pprofserver", "./testdata/pprofserver")
	if gcc, err := exec.LookPath("gcc"); err != nil {
		bin.cspinErr = "gcc not found"
	} else {
		bin.cspin = filepath.Join(dir, "cspin")
		if b, err := exec.Command(gcc, "-O1", "-fno-omit-frame-pointer", "-o", bin.cspin, "testdata/cspin/main.c").CombinedOutput(); err != nil {
			bin.cspinErr = fmt.Sprintf("gcc: %v: %s", err, b)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := leaktest.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaktest:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needPerf skips the test when this machine does not permit perf events.
func needPerf(t *testing.T) {
	t.Helper()
	s, err := perf.Attach(perf.Options{PID: os.Getpid(), Frequency: 1})
	if err != nil {
		t.Skipf("perf events are not permitted here: %v", err)
	}
	s.Close()
}

// A received is one profile the test ingest server got.
type received struct {
	name  string // the name query: app{k=v}
	kind  string // cpu, heap, goroutines, mutex or block
	auth  string
	from  time.Time
	until time.Time
	prof  *profile.Profile
}

// ingestServer is Pyroscope's /ingest on 127.0.0.1: it parses every
// multipart body and its profile, and keeps what arrived.
type ingestServer struct {
	*httptest.Server
	t       *testing.T
	mu      sync.Mutex
	got     []received
	changed chan struct{}
}

func newIngestServer(t *testing.T) *ingestServer {
	s := &ingestServer{t: t, changed: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ingest" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	rec, err := parseIngest(r)
	if err != nil {
		s.t.Errorf("ingest request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, rec)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func parseIngest(r *http.Request) (received, error) {
	q := r.URL.Query()
	rec := received{name: q.Get("name"), auth: r.Header.Get("Authorization")}
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	until, err2 := strconv.ParseInt(q.Get("until"), 10, 64)
	if err1 != nil || err2 != nil {
		return rec, fmt.Errorf("bad from/until %q %q", q.Get("from"), q.Get("until"))
	}
	rec.from, rec.until = time.Unix(0, from), time.Unix(0, until)
	ing, err := proftest.ParseIngest(r)
	if err != nil {
		return rec, err
	}
	rec.prof = ing.Profile
	if ing.SampleTypeConfig == nil {
		return rec, fmt.Errorf("want one %q part, got 0", "sample_type_config")
	}
	contentions, _ := ing.SampleTypeConfig["contentions"]["display-name"].(string)
	switch {
	case hasType(rec.prof, "alloc_space"), hasType(rec.prof, "inuse_space"):
		rec.kind = "heap"
	case hasType(rec.prof, "goroutine"):
		rec.kind = "goroutines"
	case contentions == "mutex_count":
		rec.kind = "mutex"
	case contentions == "block_count":
		rec.kind = "block"
	case hasType(rec.prof, "samples"):
		rec.kind = "cpu"
	}
	return rec, nil
}

func hasType(p *profile.Profile, typ string) bool {
	return sampleIndex(p, typ) >= 0
}

func sampleIndex(p *profile.Profile, typ string) int {
	for i, st := range p.SampleType {
		if st.Type == typ {
			return i
		}
	}
	return -1
}

// received returns a copy of what arrived so far.
func (s *ingestServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// waitFor waits until ok holds for what arrived, failing the test after a
// generous deadline.
func (s *ingestServer) waitFor(t *testing.T, what string, ok func([]received) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		s.mu.Lock()
		got, changed := append([]received(nil), s.got...), s.changed
		s.mu.Unlock()
		if ok(got) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("gave up waiting for %s; %d profiles arrived", what, len(got))
		}
	}
}

// byKind keeps the profiles of one kind.
func byKind(rs []received, kind string) []received {
	var out []received
	for _, r := range rs {
		if r.kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// sumFor adds up sample type typ over the samples whose stack holds a
// function whose name contains fn; 0 when p has no such sample type.
func sumFor(p *profile.Profile, typ, fn string) int64 {
	sum, _ := proftest.Sum(p, typ, fn)
	return sum
}

// topFunction returns the function with the most flat samples over ps.
func topFunction(ps []received) (string, int64) {
	flat := map[string]int64{}
	for _, r := range ps {
		for _, s := range r.prof.Sample {
			if len(s.Location) == 0 || len(s.Location[0].Line) == 0 || s.Location[0].Line[0].Function == nil {
				continue
			}
			flat[s.Location[0].Line[0].Function.Name] += s.Value[0]
		}
	}
	best, n := "", int64(0)
	for f, v := range flat {
		if v > n {
			best, n = f, v
		}
	}
	return best, n
}

// cli is one run of the built CLI with a clean PYROSCOPE_* environment.
type cli struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
}

// lockedBuffer collects a process's output and tells waiters of each write.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{changed: make(chan struct{})} }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYROSCOPE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startCLI starts the CLI with args and extra environment.
func startCLI(t *testing.T, env []string, args ...string) *cli {
	t.Helper()
	c := &cli{cmd: exec.Command(bin.cli, args...), stdout: newLockedBuffer(), stderr: newLockedBuffer()}
	c.cmd.Env = cleanEnv(env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// wait returns the CLI's exit code.
func (c *cli) wait(t *testing.T) int {
	t.Helper()
	err := c.cmd.Wait()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return c.cmd.ProcessState.ExitCode()
}

// waitLine waits until out holds line.
func waitLine(t *testing.T, out *lockedBuffer, line string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		out.mu.Lock()
		has, changed := strings.Contains(out.b.String(), line), out.changed
		out.mu.Unlock()
		if has {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %q in output: %q", line, out.String())
		}
	}
}

// startProgram starts a test program and waits for its ready line on stdout.
func startProgram(t *testing.T, path, ready string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), ready) {
			go io.Copy(io.Discard, out)
			return cmd, sc.Text()
		}
	}
	t.Fatalf("%s ended before printing %q", path, ready)
	return nil, ""
}
