package upload

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/clock/clocktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/leaktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Canary secrets: every test that logs checks none of them ever shows up.
const (
	canaryToken    = "canary-token-Zq81xW"
	canaryUser     = "canary-user"
	canaryPassword = "canary-pass-Hk3v9"
)

var canaries = []string{
	canaryToken, canaryPassword,
	base64.StdEncoding.EncodeToString([]byte(canaryUser + ":" + canaryPassword)),
}

// leakCheck fails the test if it leaves goroutines behind. Call it first,
// so that its cleanup runs after every other.
func leakCheck(t *testing.T) {
	t.Helper()
	leaktest.Check(t)
}

// logCapture records every log line and fails the test if one holds a
// canary secret.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func captureLogs(t *testing.T) *logCapture {
	c := &logCapture{}
	t.Cleanup(func() {
		for _, l := range c.all() {
			assertNoSecret(t, "log line", l)
		}
	})
	return c
}

func (c *logCapture) logf(level logging.Level, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, level.String()+": "+fmt.Sprintf(format, args...))
}

func (c *logCapture) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

func (c *logCapture) matching(substr string) []string {
	var out []string
	for _, l := range c.all() {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range canaries {
		if strings.Contains(s, c) {
			t.Errorf("%s leaks a secret: %q", what, s)
		}
	}
}

// fault is what faultServer does with one request.
type fault struct {
	status int
	header map[string]string
	body   string
	reset  bool // close the connection with a TCP RST
	hole   bool // keep the connection open and never answer
}

// faultServer is a profile server on 127.0.0.1 that injects failures.
type faultServer struct {
	*httptest.Server
	mu       sync.Mutex
	decide   func(r *http.Request, id string) fault
	attempts []string // ids of every request, in arrival order
	got      []string // ids of the requests answered 2xx
	auth     []string // Authorization headers of answered requests
	held     []net.Conn
	arrived  chan struct{}
}

func newFaultServer(t *testing.T, decide func(r *http.Request, id string) fault) *faultServer {
	s := &faultServer{decide: decide, arrived: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		for _, c := range s.held {
			c.Close()
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

func (s *faultServer) setDecide(d func(r *http.Request, id string) fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decide = d
}

func (s *faultServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, _, _ := strings.Cut(string(body), "|")
	s.mu.Lock()
	s.attempts = append(s.attempts, id)
	f := fault{}
	if s.decide != nil {
		f = s.decide(r, id)
	}
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	switch {
	case f.hole || f.reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if f.reset {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
			return
		}
		s.mu.Lock()
		s.held = append(s.held, conn)
		s.mu.Unlock()
	case f.status != 0 && f.status != http.StatusOK:
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	default:
		s.mu.Lock()
		s.got = append(s.got, id)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
	}
}

func (s *faultServer) snapshot() (attempts, got []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts), slices.Clone(s.got)
}

// httpBackend is a test backend speaking plain HTTP: one POST per window,
// classified as the real backends do.
type httpBackend struct {
	url   string
	doer  Doer
	creds *Credentials
}

func (b *httpBackend) Send(ctx context.Context, batch []window.Window) (int, error) {
	for i := range batch {
		w := &batch[i]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/ingest?name="+url.QueryEscape(w.App+"."+w.Name), bytes.NewReader(w.Data))
		if err != nil {
			return i, err
		}
		b.creds.Apply(req.Header)
		resp, err := b.doer.Do(req)
		if err := Classify("POST /ingest", resp, err); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

// plainClient is an HTTP client without retries of its own, closed at the
// end of the test.
func plainClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// testWindow makes a window whose body starts with its id, padded to size.
func testWindow(name string, i, size int) window.Window {
	id := fmt.Sprintf("%s-%04d|", name, i)
	data := make([]byte, max(size, len(id)))
	copy(data, id)
	return window.Window{App: "app", Name: name, Data: data}
}

func ids(name string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%04d", name, i))
	}
	return out
}

func byPrefix(xs []string, prefix string) []string {
	var out []string
	for _, x := range xs {
		if strings.HasPrefix(x, prefix) {
			out = append(out, x)
		}
	}
	return out
}

func tokenCreds() *Credentials {
	return &Credentials{Token: config.NewSecret(canaryToken), TokenSource: "PYROSCOPE_AUTH_TOKEN"}
}

func flush(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (stats %+v)", err, q.Stats())
	}
}

func closeQueue(t *testing.T, q *Queue) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := q.Close(ctx)
	assertNoSecret(t, "Close error", fmt.Sprint(err))
	assertNoSecret(t, "Stats.LastError", q.Stats().LastError)
	return n, err
}

// An outage of 30 s (fake time) loses nothing: after recovery every window
// arrives, each series in push order, exactly once.
func TestQueueOutageThenRecovery(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	start := clk.Now()
	srv := newFaultServer(t, func(r *http.Request, id string) fault {
		if clk.Now().Sub(start) < 30*time.Second {
			return fault{reset: true}
		}
		return fault{}
	})
	creds := tokenCreds()
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), creds}, QueueOptions{
		MaxBytes: 1 << 20, Logf: logs.logf, Credentials: creds, clock: clk,
	})
	var sent int64
	for i := range 20 {
		for _, name := range []string{window.KindCPU, window.KindHeap} {
			w := testWindow(name, i, 1000)
			sent += int64(len(w.Data))
			q.Push(w)
		}
	}
	clk.Drive(t)
	flush(t, q)

	attempts, got := srv.snapshot()
	for _, name := range []string{window.KindCPU, window.KindHeap} {
		if want := ids(name, 0, 20); !slices.Equal(byPrefix(got, name), want) {
			t.Errorf("%s windows received %v, want %v", name, byPrefix(got, name), want)
		}
	}
	if len(attempts) <= len(got) {
		t.Errorf("server saw %d attempts for %d windows: the outage was not exercised", len(attempts), len(got))
	}
	s := q.Stats()
	if s.Uploaded != 40 || s.Dropped != 0 || s.BytesSent != sent || s.Retried == 0 || s.Queued != 0 {
		t.Errorf("stats = %+v, want 40 uploaded, %d bytes, none dropped, some retried", s, sent)
	}
	if s.LastSuccess.Sub(start) < 30*time.Second || s.LastError == "" {
		t.Errorf("stats = %+v: want a success after the outage and the outage's error", s)
	}
	for _, a := range srv.auth {
		if a != "Bearer "+canaryToken {
			t.Errorf("window sent with Authorization %q", a)
		}
	}
	if n, err := closeQueue(t, q); n != 0 || err != nil {
		t.Errorf("Close = %d, %v; want 0, nil", n, err)
	}
}

// With a budget of 10 windows and the server down, 30 pushes keep the 10
// newest: the 20 oldest are dropped, counted and logged exactly.
func TestQueueBudgetDropsOldest(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	srv := newFaultServer(t, func(*http.Request, string) fault { return fault{status: 503} })
	w0 := testWindow(window.KindCPU, 0, 1000)
	size := w0.Size()
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), nil}, QueueOptions{
		MaxBytes: 10 * size, Logf: logs.logf, clock: clk,
	})
	q.Push(testWindow(window.KindCPU, 0, 1000))
	clk.WaitTimers(t, 2) // both workers back off after the first failure
	for i := 1; i < 30; i++ {
		q.Push(testWindow(window.KindCPU, i, 1000))
	}
	if s := q.Stats(); s.Queued != 10 || s.QueuedBytes != 10*size || s.Dropped != 20 {
		t.Fatalf("after 30 pushes over a 10-window budget: %+v", s)
	}
	srv.setDecide(nil)
	clk.Drive(t)
	flush(t, q)

	if _, got := srv.snapshot(); !slices.Equal(got, ids(window.KindCPU, 20, 30)) {
		t.Errorf("received %v, want the 10 newest windows in order", got)
	}
	if n, err := closeQueue(t, q); n != 0 || err != nil {
		t.Errorf("Close = %d, %v", n, err)
	}
	s := q.Stats()
	if s.Pushed != 30 || s.Uploaded != 10 || s.Dropped != 20 || s.DroppedByName[window.KindCPU] != 20 {
		t.Errorf("stats = %+v, want 30 pushed, 10 uploaded, 20 cpu dropped", s)
	}
	// The drop summaries (one at once, the rest at most a minute later or
	// at Close) add up to exactly the drops.
	total := 0
	re := regexp.MustCompile(`dropped (\d+) profile windows?: \d+ over the byte budget \(cpu \d+\)`)
	lines := logs.matching("dropped")
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("unexpected drop summary %q", l)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	if total != 20 || len(lines) > 3 {
		t.Errorf("drop summaries %q count %d drops in %d lines, want 20 in at most 3", lines, total, len(lines))
	}
}

// The drop summary is logged at once, then at most once a minute.
func TestQueueDropSummaryOncePerMinute(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	srv := newFaultServer(t, func(*http.Request, string) fault { return fault{status: 503} })
	w0 := testWindow(window.KindHeap, 0, 100)
	size := w0.Size()
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), nil}, QueueOptions{
		MaxBytes: 2 * size, Workers: 1, Logf: logs.logf, clock: clk,
	})
	q.Push(testWindow(window.KindHeap, 0, 100))
	clk.WaitTimers(t, 1)
	q.Push(testWindow(window.KindHeap, 1, 100), testWindow(window.KindHeap, 2, 100)) // drops 1
	q.Push(testWindow(window.KindHeap, 3, 100))                                      // drops 1, within the minute
	clk.Shift(30 * time.Second)                                                      // no timer fires: the worker keeps waiting
	q.Push(testWindow(window.KindHeap, 4, 100))                                      // drops 1, still within the minute
	if got := logs.matching("dropped"); len(got) != 1 || !strings.Contains(got[0], "dropped 1 profile window") {
		t.Fatalf("drop summaries within the first minute: %q", got)
	}
	clk.Shift(31 * time.Second)
	q.Push(testWindow(window.KindHeap, 5, 100)) // drops 1, a minute after the first summary
	got := logs.matching("dropped")
	if len(got) != 2 || !strings.Contains(got[1], "dropped 3 profile windows: 3 over the byte budget (heap 3)") ||
		!strings.Contains(got[1], "last error: POST /ingest: status 503") {
		t.Fatalf("drop summaries after a minute: %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := q.Close(ctx); n != 2 || !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a done context = %d, %v; want 2 undelivered", n, err)
	}
}

// A 429 with Retry-After: 2 is not retried before 2 s have passed.
func TestQueueHonoursRetryAfter(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	srv := newFaultServer(t, func(r *http.Request, id string) fault {
		return fault{status: 429, header: map[string]string{"Retry-After": "2"}}
	})
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), nil}, QueueOptions{Logf: logs.logf, clock: clk})
	q.Push(testWindow(window.KindCPU, 0, 10))
	clk.WaitTimers(t, 2)
	srv.setDecide(nil)
	for _, w := range clk.Waits() {
		if w < 2*time.Second {
			t.Errorf("a worker waits %s after Retry-After: 2", w)
		}
	}
	clk.Advance(2*time.Second - time.Millisecond)
	if attempts, _ := srv.snapshot(); len(attempts) != 1 {
		t.Errorf("%d attempts before 2 s passed, want 1", len(attempts))
	}
	clk.Drive(t)
	flush(t, q)
	if attempts, got := srv.snapshot(); len(attempts) != 2 || !slices.Equal(got, ids(window.KindCPU, 0, 1)) {
		t.Errorf("attempts %v, delivered %v", attempts, got)
	}
	if s := q.Stats(); s.Retried != 1 || s.Uploaded != 1 {
		t.Errorf("stats = %+v", s)
	}
	closeQueue(t, q)
}

// A 400 drops the window it refused, with no retry and no wait, and the
// windows after it are delivered. The server echoes the credentials in its
// error body; they never reach a log line or Stats.
func TestQueueBadRequestNotRetried(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake() // never advanced: any backoff would hang Flush
	srv := newFaultServer(t, func(r *http.Request, id string) fault {
		if id == "cpu-0001" {
			return fault{status: 400, body: "bad profile, sent with " + r.Header.Get("Authorization")}
		}
		return fault{}
	})
	creds := &Credentials{BasicUser: canaryUser, BasicPassword: config.NewSecret(canaryPassword)}
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), creds}, QueueOptions{Logf: logs.logf, Credentials: creds, clock: clk})
	q.Push(testWindow(window.KindCPU, 0, 10), testWindow(window.KindCPU, 1, 10), testWindow(window.KindCPU, 2, 10))
	flush(t, q)
	attempts, got := srv.snapshot()
	if !slices.Equal(attempts, ids(window.KindCPU, 0, 3)) || !slices.Equal(got, []string{"cpu-0000", "cpu-0002"}) {
		t.Errorf("attempts %v, delivered %v", attempts, got)
	}
	s := q.Stats()
	if s.Dropped != 1 || s.DroppedByName[window.KindCPU] != 1 || s.Retried != 0 || !strings.Contains(s.LastError, "status 400") {
		t.Errorf("stats = %+v", s)
	}
	if !strings.Contains(s.LastError, "[redacted]") {
		t.Errorf("LastError %q: want the echoed credentials redacted", s.LastError)
	}
	if len(logs.matching("rejected by the server (cpu 1)")) != 1 {
		t.Errorf("logs %q: want one drop summary naming the rejection", logs.all())
	}
	closeQueue(t, q)
}

// A 401 is not retried, says once where the token came from, never the
// token, and makes the queue back off instead of hammering the server.
func TestQueueAuthRejected(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	srv := newFaultServer(t, func(r *http.Request, id string) fault {
		return fault{status: 401, body: "invalid token " + r.Header.Get("Authorization")}
	})
	creds := tokenCreds()
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), creds}, QueueOptions{Logf: logs.logf, Credentials: creds, clock: clk})
	q.Push(testWindow(window.KindCPU, 0, 10), testWindow(window.KindCPU, 1, 10), testWindow(window.KindCPU, 2, 10))
	clk.WaitTimers(t, 2)
	if attempts, _ := srv.snapshot(); len(attempts) != 1 {
		t.Errorf("%d attempts before any backoff passed, want 1", len(attempts))
	}
	for _, w := range clk.Waits() {
		if w < authMinWait {
			t.Errorf("a worker waits only %s after a 401", w)
		}
	}
	clk.Drive(t)
	flush(t, q)
	if attempts, got := srv.snapshot(); !slices.Equal(attempts, ids(window.KindCPU, 0, 3)) || len(got) != 0 {
		t.Errorf("attempts %v (want each window once), delivered %v", attempts, got)
	}
	if s := q.Stats(); s.Dropped != 3 || s.Retried != 0 {
		t.Errorf("stats = %+v", s)
	}
	lines := logs.matching("rejected the bearer token")
	if len(lines) != 1 || !strings.Contains(lines[0], "from PYROSCOPE_AUTH_TOKEN") || !strings.HasPrefix(lines[0], "error: ") {
		t.Errorf("auth messages %q: want exactly one error naming PYROSCOPE_AUTH_TOKEN", lines)
	} else if n := strings.Count(lines[0], "check that"); n != 1 {
		t.Errorf("auth message %q gives its advice %d times, want once", lines[0], n)
	}
	closeQueue(t, q)
}

// After Close has delivered everything, Flush returns at once and Push
// counts what it is given as dropped without sending it.
func TestQueueCloseDeliversThenRefuses(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	srv := newFaultServer(t, nil)
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), nil}, QueueOptions{Logf: logs.logf})
	for i := range 5 {
		q.Push(testWindow(window.KindCPU, i, 100), testWindow(window.KindGoroutines, i, 100))
	}
	if n, err := closeQueue(t, q); n != 0 || err != nil {
		t.Fatalf("Close = %d, %v", n, err)
	}
	_, got := srv.snapshot()
	if !slices.Equal(byPrefix(got, window.KindCPU), ids(window.KindCPU, 0, 5)) || !slices.Equal(byPrefix(got, window.KindGoroutines), ids(window.KindGoroutines, 0, 5)) {
		t.Errorf("delivered %v", got)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Flush(done); err != nil {
		t.Errorf("Flush after Close = %v, want nil at once", err)
	}
	q.Push(testWindow(window.KindCPU, 9, 100))
	if err := q.Flush(done); err != nil {
		t.Errorf("Flush after Close and Push = %v, want nil at once", err)
	}
	if s := q.Stats(); s.Uploaded != 10 || s.Dropped != 1 || s.Pushed != 11 {
		t.Errorf("stats = %+v", s)
	}
	if n, err := closeQueue(t, q); n != 0 || err != nil {
		t.Errorf("second Close = %d, %v", n, err)
	}
}

// A black-hole server (accepts, never answers) costs neither goroutines
// nor memory as windows keep coming, and Close returns by its deadline.
func TestQueueBlackHole(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	srv := newFaultServer(t, func(*http.Request, string) fault { return fault{hole: true} })
	doer, err := NewHTTPClient(TransportOptions{Timeout: 100 * time.Millisecond, Logf: logs.logf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(doer.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	creds := tokenCreds()
	const windowSize = 16 << 10
	q := NewQueue(&httpBackend{srv.URL, doer, creds}, QueueOptions{
		MaxBytes: 4 * windowSize, Timeout: 300 * time.Millisecond, Logf: logs.logf, Credentials: creds, clock: clk,
	})
	var goroutines int
	var heap uint64
	for i := range 200 {
		q.Push(testWindow(window.KindCPU, i, windowSize))
		if i%20 == 19 {
			// Let both workers finish their attempt and back off, then end
			// the backoff and wait for the next attempt.
			clk.WaitTimers(t, 2)
			select {
			case <-srv.arrived:
			default:
			}
			clk.Advance(time.Minute)
			select {
			case <-srv.arrived:
			case <-time.After(10 * time.Second):
				t.Fatalf("no upload attempt reached the server")
			}
		}
		if i == 39 {
			goroutines, heap = runtime.NumGoroutine(), heapInUse()
		}
	}
	if !eventually(func() bool { return runtime.NumGoroutine() <= goroutines+2 }) {
		t.Errorf("goroutines grew from %d to %d over 160 windows", goroutines, runtime.NumGoroutine())
	}
	if h := heapInUse(); h > heap+1<<20 {
		t.Errorf("heap grew from %d to %d bytes over 160 windows of %d bytes", heap, h, windowSize)
	}
	if s := q.Stats(); s.QueuedBytes > 4*windowSize+4*(windowSize+256) {
		t.Errorf("queue holds %d bytes over a budget of %d", s.QueuedBytes, 4*windowSize)
	}

	type result struct {
		n   int
		err error
	}
	closed := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		n, err := q.Close(ctx)
		closed <- result{n, err}
	}()
	select {
	case r := <-closed:
		if r.n == 0 || !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("Close = %d, %v; want windows undelivered by the deadline", r.n, r.err)
		}
		assertNoSecret(t, "Close error", r.err.Error())
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if s := q.Stats(); s.Pushed != 200 || s.Uploaded != 0 || s.Dropped != 200 || s.Queued != 0 {
		t.Errorf("stats = %+v, want all 200 windows dropped", s)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// eventually polls cond for a few seconds: for conditions that settle
// asynchronously, such as connection goroutines exiting.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Windows of one series stay in push order even when two workers deliver
// different series at once and the server fails at random.
func TestQueueOrderPerSeries(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	n := 0
	srv := newFaultServer(t, func(*http.Request, string) fault {
		n++
		if n%3 == 0 {
			return fault{status: 502}
		}
		return fault{}
	})
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), nil}, QueueOptions{Logf: logs.logf, clock: clk})
	kinds := []string{window.KindCPU, window.KindHeap, window.KindMutex, window.KindBlock, window.KindGoroutines}
	for i := range 10 {
		for _, k := range kinds {
			q.Push(testWindow(k, i, 50))
		}
	}
	clk.Drive(t)
	flush(t, q)
	_, got := srv.snapshot()
	for _, k := range kinds {
		if !slices.Equal(byPrefix(got, k), ids(k, 0, 10)) {
			t.Errorf("%s delivered as %v", k, byPrefix(got, k))
		}
	}
	closeQueue(t, q)
}

// An outage is said once at warn, with the target and "will retry", its
// retries only at debug, and the recovery once at info; a second outage is
// said again.
func TestQueueSaysEachOutageOnce(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	failLeft := 4
	srv := newFaultServer(t, func(r *http.Request, id string) fault {
		if failLeft > 0 { // decide runs under the server's lock
			failLeft--
			return fault{status: http.StatusServiceUnavailable}
		}
		return fault{}
	})
	q := NewQueue(&httpBackend{srv.URL, plainClient(t), nil}, QueueOptions{
		Workers: 1, Logf: logs.logf, clock: clk, Target: "http://pyroscope.example:4040",
	})
	clk.Drive(t)
	for i := range 3 {
		q.Push(testWindow(window.KindCPU, i, 10))
	}
	flush(t, q)
	srv.mu.Lock()
	failLeft = 1 // a second, shorter outage
	srv.mu.Unlock()
	q.Push(testWindow(window.KindCPU, 3, 10))
	flush(t, q)
	closeQueue(t, q)

	var warns, infos []string
	for _, l := range logs.all() {
		switch {
		case strings.HasPrefix(l, "warn: "):
			warns = append(warns, l)
		case strings.HasPrefix(l, "info: "):
			infos = append(infos, l)
		case strings.HasPrefix(l, "error: "):
			t.Errorf("a retryable failure logged at error: %q", l)
		}
	}
	wantWarn := "warn: delivery to http://pyroscope.example:4040 failed, will retry: "
	if len(warns) != 2 || !strings.HasPrefix(warns[0], wantWarn) || !strings.Contains(warns[0], "503") ||
		!strings.HasPrefix(warns[1], wantWarn) {
		t.Errorf("warn lines %q, want two starting %q and naming the status", warns, wantWarn)
	}
	want := []string{
		"info: delivery to http://pyroscope.example:4040 recovered after 4 failed attempts",
		"info: delivery to http://pyroscope.example:4040 recovered after 1 failed attempt",
	}
	if !slices.Equal(infos, want) {
		t.Errorf("info lines %q, want %q", infos, want)
	}
	if attempts, got := srv.snapshot(); len(attempts) != 9 || len(got) != 4 {
		t.Errorf("%d attempts, %d delivered; want 9 and 4", len(attempts), len(got))
	}
}

// A failed request's URL holds the query (the series name and times on
// /ingest, whatever query the address had): the lines about the failure
// name the address as the others do, scheme, host and path only.
func TestQueueLinesQuoteNoQuery(t *testing.T) {
	leakCheck(t)
	logs := captureLogs(t)
	clk := clocktest.NewFake()
	srv := newFaultServer(t, func(*http.Request, string) fault { return fault{reset: true} })
	doer, err := NewHTTPClient(TransportOptions{Timeout: time.Second, Logf: logs.logf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(doer.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	w0 := testWindow(window.KindHeap, 0, 100)
	q := NewQueue(&httpBackend{srv.URL + "/base", doer, nil}, QueueOptions{
		MaxBytes: 2 * w0.Size(), Workers: 1, Logf: logs.logf, clock: clk,
	})
	q.Push(w0)
	// The first attempt failed and the worker backs off; then one window
	// is dropped over the budget.
	clk.WaitTimers(t, 1)
	q.Push(testWindow(window.KindHeap, 1, 100), testWindow(window.KindHeap, 2, 100))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q.Close(ctx)
	for _, what := range []string{"failed, will retry", "dropped 1 profile window"} {
		got := logs.matching(what)
		if len(got) == 0 {
			t.Fatalf("no %q line in %q", what, logs.all())
		}
		if strings.Contains(got[0], "?") || strings.Contains(got[0], "name=") {
			t.Errorf("%q line quotes the request's query: %s", what, got[0])
		}
		if !strings.Contains(got[0], `"`+srv.URL+`/base/ingest"`) {
			t.Errorf("%q line does not name the address %s/base/ingest: %s", what, srv.URL, got[0])
		}
	}
}

// Drops are counted per family and, within it, per sample type held, so a
// family sent as several windows (Parca's heap: allocations, live memory)
// can say which of its types were lost.
func TestQueueCountsDropsPerSampleType(t *testing.T) {
	leakCheck(t)
	q := NewQueue(&httpBackend{"http://127.0.0.1:1", plainClient(t), nil}, QueueOptions{Logf: captureLogs(t).logf})
	if n, err := closeQueue(t, q); n != 0 || err != nil {
		t.Fatalf("Close = %d, %v", n, err)
	}
	allocs, live, cpu := testWindow(window.KindHeap, 0, 10), testWindow(window.KindHeap, 1, 10), testWindow(window.KindCPU, 2, 10)
	allocs.SampleTypes = []window.SampleType{{Name: "alloc_objects"}, {Name: "alloc_space"}}
	live.SampleTypes = []window.SampleType{{Name: "inuse_space", Snapshot: true}}
	cpu.SampleTypes = []window.SampleType{{Name: "samples"}, {Name: "cpu"}}
	q.Push(allocs, live, allocs, cpu) // after Close: each is dropped
	s := q.Stats()
	want := map[string]map[string]int64{
		window.KindHeap: {"alloc_objects": 2, "alloc_space": 2, "inuse_space": 1},
		window.KindCPU:  {"samples": 1, "cpu": 1},
	}
	if fmt.Sprint(s.DroppedBySampleType) != fmt.Sprint(want) || s.DroppedByName[window.KindHeap] != 3 || s.Dropped != 4 {
		t.Errorf("Dropped %d, DroppedByName %v, DroppedBySampleType %v; want 4, heap 3, %v", s.Dropped, s.DroppedByName, s.DroppedBySampleType, want)
	}
	s.DroppedBySampleType[window.KindHeap]["inuse_space"] = 99
	if q.Stats().DroppedBySampleType[window.KindHeap]["inuse_space"] != 1 {
		t.Error("Stats shares its DroppedBySampleType maps with the queue")
	}
}
