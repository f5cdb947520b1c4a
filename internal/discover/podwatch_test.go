package discover

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
)

// The unit tests of the pod watch replay what a real kube-apiserver
// (v1.34.4 on etcd v3.6.16) answered to this package's PodWatch in
// e2e/kubernetes_test.go (TestKubernetesPods, run with
// PYROSCOPE_E2E_KUBE_RECORD=internal/discover/testdata/apiserver), so CI
// covers the metadata code against real answers without the real server.
// Re-record after changing what PodWatch asks.

// recording is one file of testdata/apiserver.
type recording struct {
	Node      string      `json:"node"`
	Exchanges []*exchange `json:"exchanges"`
}

type exchange struct {
	Request string `json:"request"` // path and query as sent
	Status  int    `json:"status"`
	Body    string `json:"body"`
	// loose: the request only has to be the same kind (list or watch),
	// for exchanges put together from several recordings.
	loose bool
}

func loadRecording(t *testing.T, name string) recording {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "apiserver", name))
	if err != nil {
		t.Fatal(err)
	}
	var r recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// isWatch says whether a recorded request is a watch.
func isWatch(request string) bool {
	u, _ := url.Parse(request)
	return u.Query().Get("watch") == "true"
}

// replay serves recorded exchanges in order over TLS, then holds every
// further request open until the client gives up, as an idle watch is.
type replay struct {
	*httptest.Server
	t     *testing.T
	token string
	// gate, if set, is received from before each watch is answered, so a
	// test can look at what the list alone gave.
	gate chan struct{}
	// cutAfter is an exchange whose answer ends in a dropped connection.
	cutAfter *exchange

	mu        sync.Mutex
	exchanges []*exchange
	got       []string      // the requests, as received
	auths     []string      // their Authorization headers
	arrived   chan struct{} // closed at the next request
}

func newReplay(t *testing.T, token string, exchanges ...*exchange) *replay {
	r := &replay{t: t, token: token, exchanges: exchanges}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *replay) serve(w http.ResponseWriter, req *http.Request) {
	auth := req.Header.Get("Authorization")
	if r.token != "" && auth != "Bearer "+r.token {
		r.t.Errorf("request %s with Authorization %q, want the bearer token", req.URL, auth)
	}
	r.mu.Lock()
	r.got = append(r.got, req.URL.RequestURI())
	r.auths = append(r.auths, auth)
	if r.arrived != nil {
		close(r.arrived)
		r.arrived = nil
	}
	var ex *exchange
	if len(r.exchanges) > 0 {
		ex, r.exchanges = r.exchanges[0], r.exchanges[1:]
	}
	r.mu.Unlock()
	if ex == nil {
		<-req.Context().Done()
		return
	}
	if ex.loose && isWatch(ex.Request) != isWatch(req.URL.RequestURI()) || !ex.loose && ex.Request != req.URL.RequestURI() {
		r.t.Errorf("request %s, the recording has %s next", req.URL.RequestURI(), ex.Request)
	}
	if r.gate != nil && isWatch(ex.Request) {
		select {
		case <-r.gate:
		case <-req.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ex.Status)
	w.Write([]byte(ex.Body))
	if ex == r.cutAfter {
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops, no clean end of the body
	}
}

// waitRequests waits (at most 30 s) until n requests came, and returns them.
func (r *replay) waitRequests(n int) []string {
	r.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		got := append([]string(nil), r.got...)
		if r.arrived == nil {
			r.arrived = make(chan struct{})
		}
		arrived := r.arrived
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-arrived:
		case <-deadline:
			r.t.Fatalf("after 30 s, %d requests, want %d: %v", len(got), n, got)
		}
	}
}

func (r *replay) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// config reaches the replay with its token in a file.
func (r *replay) config(t *testing.T) KubeConfig {
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte(r.token+"\n"), 0o600)
	return KubeConfig{Server: r.URL, CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate().Raw}), TokenFile: tok}
}

// runWatch runs w until the test ends, and checks it then stops.
func runWatch(t *testing.T, w *PodWatch) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("PodWatch.Run = %v, want context.Canceled", err)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("PodWatch.Run ended before its first list: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no pod list within 30 s")
	}
}

func waitFor(t *testing.T, pods *Pods, check func() error) {
	t.Helper()
	discovertest.Wait(t, pods.Changed, check)
}

// podsHave checks which containers Pods holds, by "pod/container".
func podsHave(pods *Pods, ids map[string]string, want ...string) func() error {
	return func() error {
		var have []string
		for name, id := range ids {
			if c, ok := pods.Container(id); ok {
				if c.Pod+"/"+c.Name != name {
					return fmt.Errorf("container %s is %s/%s, want %s", id, c.Pod, c.Name, name)
				}
				have = append(have, name)
			}
		}
		if !sameSet(have, want) {
			return fmt.Errorf("containers held: %v, want %v", have, want)
		}
		return nil
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// logLines is a slog handler's output that a test can wait on.
type logLines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line chan struct{}
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.line <- struct{}{}:
	default:
	}
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogLines() (*logLines, *slog.Logger) {
	l := &logLines{line: make(chan struct{}, 1)}
	return l, slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// recordedIDs are the containers of the recorded session, by pod/container.
func recordedIDs() map[string]string {
	ids := map[string]string{}
	for _, pc := range []string{"web/app", "db/postgres", "db/exporter", "batch/job", "pending/app", "late/app", "elsewhere/app"} {
		pod, c, _ := strings.Cut(pc, "/")
		ids[pc] = discovertest.ContainerID(pod, c)
	}
	return ids
}

// watchEvents splits a recorded watch body into its events.
func watchEvents(t *testing.T, body string) []string {
	t.Helper()
	var evs []string
	dec := json.NewDecoder(strings.NewReader(body))
	for {
		var ev json.RawMessage
		if err := dec.Decode(&ev); err == io.EOF {
			return evs
		} else if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, string(ev)+"\n")
	}
}

// TestPodWatchReplaysARealSession replays what kube-apiserver sent while
// TestKubernetesPods ran: the list (web, db with two containers, batch,
// and pending without container statuses; the pod on another node is not
// asked for), then one watch in which pending's container started, late was
// created and started, web was deleted and batch finished. Real processes
// in cgroups named for the containers are then labeled by their pods.
func TestPodWatchReplaysARealSession(t *testing.T) {
	rec := loadRecording(t, "watch-session.json")
	if len(rec.Exchanges) < 2 || isWatch(rec.Exchanges[0].Request) || !isWatch(rec.Exchanges[1].Request) {
		t.Fatalf("watch-session.json: want a list then a watch, have %d exchanges", len(rec.Exchanges))
	}
	r := newReplay(t, "replay-token", rec.Exchanges[:2]...)
	r.gate = make(chan struct{})
	ids := recordedIDs()
	pods := &Pods{}
	runWatch(t, &PodWatch{Config: r.config(t), Node: rec.Node, Pods: pods, minBackoff: time.Millisecond, maxBackoff: time.Millisecond})

	if err := podsHave(pods, ids, "web/app", "db/postgres", "db/exporter", "batch/job")(); err != nil {
		t.Errorf("after the list: %v", err)
	}
	if n := pods.Len(); n != 4 {
		t.Errorf("after the list: %d pods, want 4 (web, db, batch, pending)", n)
	}
	close(r.gate)
	waitFor(t, pods, podsHave(pods, ids, "db/postgres", "db/exporter", "pending/app", "late/app"))
	if n := pods.Len(); n != 3 {
		t.Errorf("after the watch: %d pods, want 3 (db, pending, late)", n)
	}
	late, _ := pods.Container(ids["late/app"])
	want := map[string]string{"namespace": "ptest", "pod": "late", "container": "app", "container_id": ids["late/app"], "service_name": "late-svc"}
	if !maps.Equal(late.Labels(), want) {
		t.Errorf("late/app: labels %v, want %v", late.Labels(), want)
	}
	if pg, _ := pods.Container(ids["db/postgres"]); pg.ServiceName != "ptest/postgres" || pg.PodLabels["app"] != "db" {
		t.Errorf("db/postgres: service_name %q, pod labels %v; want ptest/postgres and app=db", pg.ServiceName, pg.PodLabels)
	}

	m := writableMounts(t)
	cgroups, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	f := Finder{Node: rec.Node, Pods: pods}
	for _, pc := range []string{"db/postgres", "late/app"} {
		c, _ := pods.Container(ids[pc])
		rel := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(c.PodUID, "-", "_") + ".slice/cri-containerd-" + c.ID + ".scope"
		pid := startChild(t, makeCgroup(t, m.Unified, rel))
		tgt := sampleTarget(t, &f, cgroups, pid)
		want := c.Labels()
		want["node"] = rec.Node
		if !maps.Equal(tgt.Labels, want) {
			t.Errorf("%s: process %d labeled %v, want %v", pc, pid, tgt.Labels, want)
		}
	}
}

// TestPodWatchListsAgainWhenGone answers the watch with what the real
// server answered to a watch from a resourceVersion it no longer had.
func TestPodWatchListsAgainWhenGone(t *testing.T) {
	session, errs := loadRecording(t, "watch-session.json"), loadRecording(t, "errors.json")
	list, gone := *session.Exchanges[0], *errs.Exchanges[0]
	list.loose, gone.loose = true, true
	relist := list
	r := newReplay(t, "replay-token", &list, &gone, &relist)
	pods := &Pods{}
	logs, log := newLogLines()
	runWatch(t, &PodWatch{Config: r.config(t), Node: session.Node, Pods: pods, Log: log, minBackoff: time.Hour, maxBackoff: time.Hour})
	// The relist comes at once, not after the (hour-long) backoff.
	got := r.waitRequests(4)
	if isWatch(got[0]) || !isWatch(got[1]) || isWatch(got[2]) || !isWatch(got[3]) {
		t.Errorf("requests %v, want list, watch, list, watch", got)
	}
	if !strings.Contains(logs.String(), "listing again") {
		t.Errorf("log %q does not say it lists again", logs)
	}
}

// TestPodWatchSaysWhatIsForbidden answers with the real server's 403 to a
// token without rights: the log line names the cause and the fix, never
// the token, and the watch keeps retrying.
func TestPodWatchSaysWhatIsForbidden(t *testing.T) {
	errs := loadRecording(t, "errors.json")
	var forbidden exchange
	for _, ex := range errs.Exchanges {
		if ex.Status == http.StatusForbidden {
			forbidden = *ex
		}
	}
	if forbidden.Status == 0 {
		t.Fatal("errors.json has no 403")
	}
	forbidden.loose = true
	again := forbidden
	const token = "s3cr3t-replay-token"
	r := newReplay(t, token, &forbidden, &again)
	logs, log := newLogLines()
	w := &PodWatch{Config: r.config(t), Node: errs.Node, Pods: &Pods{}, Log: log, minBackoff: time.Millisecond, maxBackoff: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r.waitRequests(3) // two refusals, then the held third try
	cancel()
	<-done
	out := logs.String()
	for _, want := range []string{"403 Forbidden", `pods is forbidden: User \"e2e-nobody\" cannot list resource \"pods\"`, "give the agent's service account get, list and watch on pods"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not say %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, token) {
		t.Errorf("the log shows the token:\n%s", out)
	}
}

// TestPodWatchResumesACutWatch cuts the recorded watch in the middle of an
// event: the events before the cut are applied, the half event is not,
// and the watch resumes from the last resourceVersion applied, where the
// rest of the events come.
func TestPodWatchResumesACutWatch(t *testing.T) {
	rec := loadRecording(t, "watch-session.json")
	evs := watchEvents(t, rec.Exchanges[1].Body)
	if len(evs) < 4 {
		t.Fatalf("the recorded watch has %d events", len(evs))
	}
	k := len(evs) / 2
	var last struct {
		Object struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		} `json:"object"`
	}
	json.Unmarshal([]byte(evs[k-1]), &last)

	cut := &exchange{Request: rec.Exchanges[1].Request, Status: 200, Body: strings.Join(evs[:k], "") + evs[k][:len(evs[k])/2], loose: true}
	rest := &exchange{Request: rec.Exchanges[1].Request, Status: 200, Body: strings.Join(evs[k:], ""), loose: true}
	r := newReplay(t, "replay-token", rec.Exchanges[0], cut, rest)
	r.cutAfter = cut
	pods := &Pods{}
	runWatch(t, &PodWatch{Config: r.config(t), Node: rec.Node, Pods: pods, minBackoff: time.Millisecond, maxBackoff: time.Millisecond})
	ids := recordedIDs()
	waitFor(t, pods, podsHave(pods, ids, "db/postgres", "db/exporter", "pending/app", "late/app"))
	got := r.waitRequests(3)
	u, _ := url.Parse(got[2])
	if rv := u.Query().Get("resourceVersion"); !isWatch(got[2]) || rv != last.Object.Metadata.ResourceVersion {
		t.Errorf("after the cut: %s, want a watch from resourceVersion %s (the last event applied)", got[2], last.Object.Metadata.ResourceVersion)
	}
}

// TestPodWatchRereadsARotatedToken rotates the token file while a watch is
// open, as the kubelet rotates a projected service-account token: the
// reconnect after the watch breaks carries the new token. A config with
// the token itself (no file) sends that.
func TestPodWatchRereadsARotatedToken(t *testing.T) {
	rec := loadRecording(t, "watch-session.json")
	evs := watchEvents(t, rec.Exchanges[1].Body)
	cut := &exchange{Request: rec.Exchanges[1].Request, Status: 200, Body: evs[0], loose: true}
	r := newReplay(t, "", rec.Exchanges[0], cut)
	r.gate, r.cutAfter = make(chan struct{}), cut
	cfg := r.config(t)
	os.WriteFile(cfg.TokenFile, []byte("token-one\n"), 0o600)
	runWatch(t, &PodWatch{Config: cfg, Node: rec.Node, Pods: &Pods{}, minBackoff: time.Millisecond, maxBackoff: time.Millisecond})
	r.waitRequests(2) // the watch, held at the gate
	os.WriteFile(cfg.TokenFile, []byte("token-two\n"), 0o600)
	close(r.gate)
	r.waitRequests(3)
	r.mu.Lock()
	auths := append([]string(nil), r.auths[:3]...)
	r.mu.Unlock()
	if want := []string{"Bearer token-one", "Bearer token-one", "Bearer token-two"}; !slices.Equal(auths, want) {
		t.Errorf("Authorization of list, watch, rewatch: %q, want %q", auths, want)
	}

	inline := newReplay(t, "inline-token", rec.Exchanges[0])
	c := inline.config(t)
	c.TokenFile, c.Token = "", "inline-token"
	runWatch(t, &PodWatch{Config: c, Node: rec.Node, Pods: &Pods{}})
}
