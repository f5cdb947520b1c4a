//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
)

// The pods of TestKubernetesPods sit on a node of their own in a namespace
// of their own. Container IDs are discovertest.ContainerID's hashes of the
// names, so the recorded answers name the same IDs from one run to the next.
const (
	kubeNode      = "ptest-node"
	kubeNamespace = "ptest"
)

// TestKubernetesPods runs discovery's pod watch against a real
// kube-apiserver: pods bound to a node (no kubelet: they stay Pending, and
// the test sets their container statuses as a kubelet would), and real
// processes in cgroups named as the kubelet names them for those
// containers. What the agent sees must follow: a container is found once
// its pod reports its ID, labeled by its pod; a pod started later is picked
// up; a deleted or finished pod is dropped; a pod on another node is never
// seen.
//
// With PYROSCOPE_E2E_KUBE_RECORD=dir it records what the server answered,
// for the unit tests of internal/discover (its testdata/apiserver).
func TestKubernetesPods(t *testing.T) {
	server := os.Getenv("PYROSCOPE_E2E_KUBE_SERVER")
	if server == "" {
		t.Skip("PYROSCOPE_E2E_KUBE_SERVER unset (bash e2e/servers.sh start-k8s prints it)")
	}
	ca, err := os.ReadFile(os.Getenv("PYROSCOPE_E2E_KUBE_CA"))
	if err != nil {
		t.Fatalf("PYROSCOPE_E2E_KUBE_CA: %v", err)
	}
	tokenFile := os.Getenv("PYROSCOPE_E2E_KUBE_TOKEN_FILE")
	api := newKubeAPI(t, server, ca, tokenFile)
	s := newPodScenario(t, api)

	api.ensureNamespace()
	for _, name := range []string{"web", "db", "pending", "late", "batch", "elsewhere"} {
		api.deletePod(name)
	}
	// web, db and batch run now; pending has no container statuses yet;
	// late comes after the watch started; elsewhere is on another node.
	api.createPod("web", kubeNode, map[string]string{"app": "web"}, map[string]string{discover.ServiceNameAnnotation: "web-frontend"}, "app")
	api.setStatus("web", "Running", "containerd", "app")
	api.createPod("db", kubeNode, map[string]string{"app": "db"}, nil, "postgres", "exporter")
	api.setStatus("db", "Running", "containerd", "postgres", "exporter")
	api.createPod("batch", kubeNode, nil, nil, "job")
	api.setStatus("batch", "Running", "cri-o", "job")
	api.createPod("pending", kubeNode, nil, nil, "app")
	api.createPod("elsewhere", "ptest-other-node", nil, nil, "app")
	api.setStatus("elsewhere", "Running", "containerd", "app")
	s.run("web", "app", "cri-containerd")
	s.run("db", "postgres", "cri-containerd")
	s.run("db", "exporter", "cri-containerd")
	s.run("batch", "job", "crio")
	s.run("pending", "app", "cri-containerd")
	s.run("elsewhere", "app", "cri-containerd")

	rec := newRecorder(t, server, ca)
	ctx, cancel := context.WithCancel(context.Background())
	w := &discover.PodWatch{Config: discover.KubeConfig{Server: rec.URL, CA: rec.ca, TokenFile: tokenFile}, Node: kubeNode, Pods: s.pods}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("PodWatch.Run = %v, want context.Canceled", err)
			}
			rec.Close()
		}
	}
	defer stop()
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("PodWatch.Run ended before its first list: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no pod list within 30 s")
	}

	s.found("web", "app", "web-frontend")
	s.found("db", "postgres", "ptest/postgres")
	s.found("db", "exporter", "ptest/exporter")
	s.found("batch", "job", "ptest/job")
	s.gone("pending/app")
	s.gone("elsewhere/app")

	api.setStatus("pending", "Running", "containerd", "app") // its container started
	s.found("pending", "app", "ptest/app")
	api.createPod("late", kubeNode, nil, map[string]string{discover.ServiceNameAnnotation: "late-svc"}, "app")
	s.run("late", "app", "cri-containerd")
	api.setStatus("late", "Running", "containerd", "app")
	s.found("late", "app", "late-svc")
	api.deletePod("web")
	s.gone("web/app")
	api.setStatus("batch", "Succeeded", "cri-o", "job")
	s.gone("batch/job")
	s.found("db", "postgres", "ptest/postgres")
	if n := s.pods.Len(); n != 3 {
		t.Errorf("pods held at the end: %d, want 3 (db, pending, late)", n)
	}
	stop()
	rec.save(t, "watch-session.json")
	recordRefusals(t, server, ca, api.token)
}

// podScenario is the agent's side of TestKubernetesPods: processes in
// cgroups named for the pods' containers, and the discovery that finds them.
type podScenario struct {
	t       *testing.T
	api     *kubeAPI
	unified string // the cgroup v2 mount
	cgroups *discover.Cgroups
	pods    *discover.Pods
	finder  *discover.Finder
	procs   map[string]int // pod/container → PID
}

func newPodScenario(t *testing.T, api *kubeAPI) *podScenario {
	m, err := discover.FindMounts()
	if err != nil || m.Unified == "" {
		t.Skipf("no cgroup v2 mount here (%v)", err)
	}
	cgroups, err := discover.NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cgroups.Close() })
	pods := &discover.Pods{}
	return &podScenario{t: t, api: api, unified: m.Unified, cgroups: cgroups, pods: pods,
		finder: &discover.Finder{Node: kubeNode, Pods: pods}, procs: map[string]int{}}
}

// run starts a process in the cgroup of a pod's container, laid out as the
// kubelet lays it out with the systemd driver (scope: the runtime's prefix).
func (s *podScenario) run(pod, container, scope string) {
	uid := strings.ReplaceAll(s.api.podUID(pod), "-", "_")
	rel := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid + ".slice/" + scope + "-" + discovertest.ContainerID(pod, container) + ".scope"
	s.procs[pod+"/"+container] = discovertest.Start(s.t, discovertest.MakeCgroup(s.t, s.unified, rel))
}

// target does what the agent does with a sample of the process: its
// cgroup ID (what PERF_SAMPLE_CGROUP reports) to a path, to a target.
func (s *podScenario) target(podContainer string) (map[string]string, bool) {
	pc, err := discover.ReadProcCgroup(s.procs[podContainer])
	if err != nil {
		s.t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(s.unified+pc.Unified, &st); err != nil {
		s.t.Fatal(err)
	}
	path, err := s.cgroups.Path(st.Ino)
	if err != nil {
		s.t.Fatal(err)
	}
	tgt, ok := s.finder.Target(path)
	return tgt.Labels, ok
}

// found waits until the container's process is a target with its labels.
func (s *podScenario) found(pod, container, service string) {
	s.t.Helper()
	want := map[string]string{"node": kubeNode, "namespace": kubeNamespace, "pod": pod, "container": container,
		"container_id": discovertest.ContainerID(pod, container), "service_name": service}
	waitPods(s.t, s.pods, func() error {
		got, ok := s.target(pod + "/" + container)
		if !ok || !maps.Equal(got, want) {
			return fmt.Errorf("%s/%s: target %v (%v), want %v", pod, container, got, ok, want)
		}
		return nil
	})
}

// gone waits until the container's process is no target.
func (s *podScenario) gone(podContainer string) {
	s.t.Helper()
	waitPods(s.t, s.pods, func() error {
		if got, ok := s.target(podContainer); ok {
			return fmt.Errorf("%s is still a target: %v", podContainer, got)
		}
		return nil
	})
}

// recordRefusals records the answers the agent has to handle besides: a
// watch from a resourceVersion the server no longer has (410), and a token
// without rights (403).
func recordRefusals(t *testing.T, server string, ca []byte, token string) {
	errs := newRecorder(t, server, ca)
	c := errs.Client()
	get := func(q url.Values, token string) {
		req, _ := http.NewRequest("GET", errs.URL+"/api/v1/pods?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	sel := "spec.nodeName=" + kubeNode
	get(url.Values{"fieldSelector": {sel}, "watch": {"true"}, "resourceVersion": {"1"}, "allowWatchBookmarks": {"true"}, "timeoutSeconds": {"1"}}, token)
	if nobody, err := os.ReadFile(os.Getenv("PYROSCOPE_E2E_KUBE_NOBODY_TOKEN_FILE")); err == nil {
		get(url.Values{"fieldSelector": {sel}, "limit": {"500"}}, strings.TrimSpace(string(nobody)))
	}
	errs.Close()
	if b := errs.exchanges[0].buf.String(); !strings.Contains(b, `"code":410`) {
		t.Errorf("a watch from resourceVersion 1 was answered %.200s, not with 410 Expired (servers.sh start-k8s restarts the server so that its watch cache starts later)", b)
	}
	if len(errs.exchanges) > 1 && errs.exchanges[1].Status != http.StatusForbidden {
		t.Errorf("a list with a token without rights: status %d, want 403", errs.exchanges[1].Status)
	}
	errs.save(t, "errors.json")
}

// waitPods waits until check passes, checking again at each change of pods.
func waitPods(t *testing.T, pods *discover.Pods, check func() error) {
	t.Helper()
	discovertest.Wait(t, pods.Changed, check)
}

// kubeAPI makes the test's own requests to the API server.
type kubeAPI struct {
	t      *testing.T
	server string
	token  string
	c      *http.Client
}

func newKubeAPI(t *testing.T, server string, ca []byte, tokenFile string) *kubeAPI {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatalf("PYROSCOPE_E2E_KUBE_TOKEN_FILE: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &kubeAPI{t: t, server: server, token: strings.TrimSpace(string(tok)),
		c: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

// do sends body (JSON) and decodes the answer into out; a status outside
// ok fails the test.
func (a *kubeAPI) do(method, path, contentType string, body any, out any, ok ...int) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.server+path, r)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", contentType)
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, code := range ok {
		if resp.StatusCode == code {
			if out != nil {
				json.Unmarshal(b, out)
			}
			return code
		}
	}
	a.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	return 0
}

func (a *kubeAPI) ensureNamespace() {
	a.do("POST", "/api/v1/namespaces", "application/json",
		map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": kubeNamespace}},
		nil, http.StatusCreated, http.StatusConflict)
}

func (a *kubeAPI) createPod(name, node string, labels, annotations map[string]string, containers ...string) {
	var cs []map[string]any
	for _, c := range containers {
		cs = append(cs, map[string]any{"name": c, "image": "registry.invalid/" + c + ":1"})
	}
	a.do("POST", "/api/v1/namespaces/"+kubeNamespace+"/pods", "application/json", map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": labels, "annotations": annotations},
		"spec":     map[string]any{"nodeName": node, "containers": cs},
	}, nil, http.StatusCreated)
}

// setStatus does what a kubelet does once the containers started (or the
// pod finished): phase and container statuses with the runtime's IDs.
func (a *kubeAPI) setStatus(pod, phase, runtime string, containers ...string) {
	var sts []map[string]any
	for _, c := range containers {
		st := map[string]any{"running": map[string]any{"startedAt": "2026-12-01T00:00:00Z"}}
		if phase == "Succeeded" {
			st = map[string]any{"terminated": map[string]any{"exitCode": 0, "startedAt": "2026-12-01T00:00:00Z", "finishedAt": "2026-12-01T00:00:01Z"}}
		}
		sts = append(sts, map[string]any{"name": c, "image": "registry.invalid/" + c + ":1", "imageID": "",
			"containerID": runtime + "://" + discovertest.ContainerID(pod, c), "ready": phase == "Running", "restartCount": 0, "state": st})
	}
	a.do("PATCH", "/api/v1/namespaces/"+kubeNamespace+"/pods/"+pod+"/status", "application/merge-patch+json",
		map[string]any{"status": map[string]any{"phase": phase, "containerStatuses": sts}}, nil, http.StatusOK)
}

// deletePod removes a pod at once, as a kubelet's final delete does.
func (a *kubeAPI) deletePod(name string) {
	a.do("DELETE", "/api/v1/namespaces/"+kubeNamespace+"/pods/"+name+"?gracePeriodSeconds=0", "application/json", nil, nil, http.StatusOK, http.StatusNotFound)
}

func (a *kubeAPI) podUID(name string) string {
	var p struct {
		Metadata struct{ UID string } `json:"metadata"`
	}
	a.do("GET", "/api/v1/namespaces/"+kubeNamespace+"/pods/"+name, "application/json", nil, &p, http.StatusOK)
	return p.Metadata.UID
}

// recorder is a TLS proxy to the API server that keeps each answer.
type recorder struct {
	*httptest.Server
	ca []byte

	mu        sync.Mutex
	exchanges []*exchange
}

// exchange is one request and the real server's answer to it.
type exchange struct {
	Request string `json:"request"` // the path and query
	Status  int    `json:"status"`
	Body    string `json:"body"`
	buf     bytes.Buffer
}

type exchangeKey struct{}

func newRecorder(t *testing.T, server string, ca []byte) *recorder {
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	r := &recorder{}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		FlushInterval: -1, // a watch streams
		ModifyResponse: func(resp *http.Response) error {
			ex := resp.Request.Context().Value(exchangeKey{}).(*exchange)
			ex.Status = resp.StatusCode
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(resp.Body, &ex.buf), resp.Body}
			return nil
		},
	}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ex := &exchange{Request: req.URL.RequestURI()}
		r.mu.Lock()
		r.exchanges = append(r.exchanges, ex)
		r.mu.Unlock()
		proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex)))
	}))
	r.ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate().Raw})
	return r
}

// save writes the exchanges to $PYROSCOPE_E2E_KUBE_RECORD/name, after the
// server was closed (so every answer is whole).
func (r *recorder) save(t *testing.T, name string) {
	dir := os.Getenv("PYROSCOPE_E2E_KUBE_RECORD")
	if dir == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ex := range r.exchanges {
		ex.Body = ex.buf.String()
	}
	b, err := json.MarshalIndent(map[string]any{
		"recorded":  "kube-apiserver v1.34.4 (etcd v3.6.16), by TestKubernetesPods in e2e/kubernetes_test.go",
		"node":      kubeNode,
		"exchanges": r.exchanges,
	}, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
	}
	if err != nil {
		t.Errorf("recording %s: %v", name, err)
	}
}
