//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/protowire"
)

// The agent's e2e tests run the built CLI's `pyroscope agent` as a user
// does (the seed's command line), on real cgroups holding real programs:
// a Go program spinning in main.hotLoop and a C one in c_hot_spin.

var agentBins struct {
	once            sync.Once
	err             error
	dir             string
	cli, hot, cspin string
}

// buildAgent builds the CLI and the test programs once per test binary.
func buildAgent(t *testing.T) {
	t.Helper()
	b := &agentBins
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "pyroscope-e2e-agent"); b.err != nil {
			return
		}
		os.Chmod(b.dir, 0o755)
		b.cli, b.hot, b.cspin = filepath.Join(b.dir, "pyroscope"), filepath.Join(b.dir, "hot"), filepath.Join(b.dir, "cspin")
		for _, c := range []*exec.Cmd{
			exec.Command("go", "build", "-o", b.cli, "."),
			exec.Command("go", "build", "-o", b.hot, "./testdata/hot"),
			exec.Command("gcc", "-O1", "-fno-omit-frame-pointer", "-o", b.cspin, "testdata/cspin/main.c"),
		} {
			c.Dir = "../cmd/pyroscope"
			if out, err := c.CombinedOutput(); err != nil {
				b.err = fmt.Errorf("%s: %v: %s", strings.Join(c.Args, " "), err, out)
				return
			}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// unifiedMount is the cgroup v2 mount, or the test is skipped.
func unifiedMount(t *testing.T) string {
	t.Helper()
	m, err := discover.FindMounts()
	if err != nil || m.Unified == "" {
		t.Skipf("no cgroup v2 mount here (%v)", err)
	}
	return m.Unified
}

// startInCgroup starts a program inside the cgroup directory dir from its
// first instruction; it is killed when the test ends.
func startInCgroup(t *testing.T, dir, path string, args ...string) {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// agentRun is one run of `pyroscope agent`.
type agentRun struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	start  time.Time
	end    time.Time
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startAgent(t *testing.T, args ...string) *agentRun {
	t.Helper()
	r := &agentRun{cmd: exec.Command(agentBins.cli, append([]string{"agent"}, args...)...), stderr: &syncBuffer{}, start: time.Now()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYROSCOPE_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			r.cmd.Env = append(r.cmd.Env, kv)
		}
	}
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

// runFor waits until the agent has cut n rounds of windows (its debug
// line per cut), then stops it with SIGTERM and checks that it delivered
// everything.
func (r *agentRun) runFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(r.stderr.String(), "debug: cpu windows:") < n {
		if time.Now().After(deadline) || r.cmd.ProcessState != nil {
			t.Fatalf("the agent did not cut %d rounds of windows:\n%s", n, r.stderr)
		}
		time.Sleep(200 * time.Millisecond) // the agent's log has no notification
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	err := r.cmd.Wait()
	r.end = time.Now()
	if err != nil || !strings.Contains(r.stderr.String(), ", 0 dropped") {
		t.Fatalf("agent: %v; stderr:\n%s", err, r.stderr)
	}
	t.Logf("agent's last line: %s", lastLine(r.stderr.String()))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// units makes a Go program's unit and a C program's scope, the scope named
// as Docker names its containers' (as in the seed's command), and a unit
// not selected, with its own Go program.
func units(t *testing.T) (goUnit, cScope, outside string) {
	t.Helper()
	root := unifiedMount(t)
	r := randomHex(4)
	goUnit, cScope, outside = "ptest-e2e-go-"+r+".service", "docker-"+strings.Repeat(r, 8)+".scope", "ptest-e2e-outside-"+r+".service"
	startInCgroup(t, discovertest.MakeCgroup(t, root, "/system.slice/"+goUnit), agentBins.hot, "-spin", "0")
	startInCgroup(t, discovertest.MakeCgroup(t, root, "/system.slice/"+cScope), agentBins.cspin)
	startInCgroup(t, discovertest.MakeCgroup(t, root, "/system.slice/"+outside), agentBins.hot, "-spin", "0")
	return goUnit, cScope, outside
}

// The seed's token, a Polar Signals JWT's shape.
const seedToken = "eyJhbGciOiJFZERTQSJ9.eyJwcm9qZWN0SWQiOiJwdGVzdCJ9.cHRlc3Qtc2lnbmF0dXJl"

// TestAgentParca runs the seed's command against a real Parca, then asks
// Parca for each unit's CPU by systemd_unit (and the other labels), and for
// the C program's hot function by a stack filter on its name.
func TestAgentParca(t *testing.T) {
	addr := os.Getenv("PYROSCOPE_E2E_PARCA_ADDR")
	if addr == "" {
		t.Skip("PYROSCOPE_E2E_PARCA_ADDR is not set")
	}
	buildAgent(t)
	goUnit, cScope, outside := units(t)
	run := startAgent(t, "--node=test", "--log-level=debug", "--kubernetes=false", "--insecure",
		"--systemd-units="+cScope+","+goUnit, "--bearer-token", seedToken,
		"--remote-store-address="+strings.TrimPrefix(addr, "http://"), "--upload-rate=2s")
	run.runFor(t, 3)
	if strings.Contains(run.stderr.String(), "ptest-signature") {
		t.Error("the token is in the agent's log")
	}

	base := strings.TrimSuffix(addr, "/")
	ts := func(tm time.Time) string { return tm.UTC().Format(time.RFC3339Nano) }
	from, until := ts(run.start.Add(-time.Minute)), ts(run.end.Add(time.Minute))
	var cpu parcaType
	eventually(t, "the process_cpu type", func() error {
		var resp struct {
			Types []parcaType `json:"types"`
		}
		if err := getJSON(base+"/api/profiles/types", url.Values{"start": {from}, "end": {until}}, &resp); err != nil {
			return err
		}
		for _, pt := range resp.Types {
			if pt.Name == "process_cpu" && pt.SampleType == "cpu" && pt.Delta {
				cpu = pt
				return nil
			}
		}
		return fmt.Errorf("no process_cpu:cpu delta type among %+v", resp.Types)
	})
	query := func(selector string, extra url.Values) (*profile.Profile, error) {
		q := url.Values{"mode": {"MODE_MERGE"}, "reportType": {"REPORT_TYPE_PPROF"},
			"merge.query": {cpu.query() + selector}, "merge.start": {from}, "merge.end": {until}}
		for k, v := range extra {
			q[k] = v
		}
		var resp struct {
			Pprof []byte `json:"pprof"`
		}
		if err := getJSON(base+"/api/profiles/query", q, &resp); err != nil {
			return nil, err
		}
		return profile.ParseData(resp.Pprof)
	}
	for _, tc := range []struct{ unit, service, comm, hot, cold string }{
		{cScope, strings.TrimSuffix(cScope, ".scope"), "cspin", "c_hot_spin", "main.hotLoop"},
		{goUnit, strings.TrimSuffix(goUnit, ".service"), "hot", "main.hotLoop", "c_hot_spin"},
	} {
		selector := fmt.Sprintf(`{systemd_unit=%q,service_name=%q,node="test",comm=%q}`, tc.unit, tc.service, tc.comm)
		var p *profile.Profile
		eventually(t, selector, func() error {
			var err error
			if p, err = query(selector, nil); err != nil {
				return err
			}
			if len(p.Sample) == 0 {
				return fmt.Errorf("no samples")
			}
			return nil
		})
		hot, cold, total := cpuIn(p, tc.hot), cpuIn(p, tc.cold), cpuIn(p, "")
		t.Logf("%s: %v of CPU, %v in %s", selector, time.Duration(total), time.Duration(hot), tc.hot)
		if hot < total/2 || cold != 0 {
			t.Errorf("%s: %v in %s, %v in %s, of %v: want the unit's hot function only", selector, time.Duration(hot), tc.hot, time.Duration(cold), tc.cold, time.Duration(total))
		}
	}
	if p, err := query(fmt.Sprintf(`{systemd_unit=%q}`, outside), nil); err == nil && len(p.Sample) > 0 {
		t.Errorf("the unit not selected, %s, is in Parca: %d samples", outside, len(p.Sample))
	}
	// By function: a stack filter on c_hot_spin over the whole node keeps
	// the C scope's CPU and nothing of the Go unit's.
	all, err := query(`{node="test"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parcaQueryByFunction(base, cpu.query()+`{node="test"}`, "c_hot_spin", run.start.Add(-time.Minute), run.end.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	hot, total := cpuIn(p, "c_hot_spin"), cpuIn(p, "")
	t.Logf("node=test filtered by function c_hot_spin: %v, all in it; unfiltered %v", time.Duration(total), time.Duration(cpuIn(all, "")))
	if hot == 0 || hot != total || cpuIn(p, "main.hotLoop") != 0 || total != cpuIn(all, "c_hot_spin") {
		t.Errorf("filtered by c_hot_spin: %v of %v in it, %v in main.hotLoop; unfiltered %v in c_hot_spin", time.Duration(hot), time.Duration(total), time.Duration(cpuIn(p, "main.hotLoop")), time.Duration(cpuIn(all, "c_hot_spin")))
	}
}

// parcaQueryByFunction asks Parca for the merged pprof of query between
// start and end, keeping only the stacks through a function whose name
// contains fn: QueryService/Query with a stack filter, which only the RPC
// takes (the REST API has no field for it), called over gRPC-web with the
// request encoded by hand.
func parcaQueryByFunction(base, query, fn string, start, end time.Time) (*profile.Profile, error) {
	ts := func(tm time.Time) []byte {
		b := protowire.AppendTag(nil, 1, protowire.Varint)
		b = protowire.AppendVarint(b, uint64(tm.Unix()))
		b = protowire.AppendTag(b, 2, protowire.Varint)
		return protowire.AppendVarint(b, uint64(tm.Nanosecond()))
	}
	merge := protowire.AppendString(nil, 1, query)
	merge = protowire.AppendBytes(merge, 2, ts(start))
	merge = protowire.AppendBytes(merge, 3, ts(end))
	// Filter{stack_filter: StackFilter{criteria: FilterCriteria{function_name: StringCondition{contains: fn}}}}
	cond := protowire.AppendString(nil, 3, fn)
	criteria := protowire.AppendBytes(nil, 1, cond)
	stack := protowire.AppendBytes(nil, 2, criteria)
	filter := protowire.AppendBytes(nil, 1, stack)
	req := protowire.AppendTag(nil, 1, protowire.Varint)
	req = protowire.AppendVarint(req, 2) // MODE_MERGE
	req = protowire.AppendBytes(req, 3, merge)
	req = protowire.AppendTag(req, 5, protowire.Varint)
	req = protowire.AppendVarint(req, 1) // REPORT_TYPE_PPROF
	req = protowire.AppendBytes(req, 12, filter)

	body := append([]byte{0, 0, 0, 0, 0}, req...)
	binary.BigEndian.PutUint32(body[1:5], uint32(len(req)))
	hreq, _ := http.NewRequest(http.MethodPost, base+"/parca.query.v1alpha1.QueryService/Query", bytes.NewReader(body))
	hreq.Header.Set("Content-Type", "application/grpc-web+proto")
	hreq.Header.Set("X-Grpc-Web", "1")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var msg []byte
	trailers := ""
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if len(b) < 5+n {
			break
		}
		if b[0]&0x80 != 0 {
			trailers = string(b[5 : 5+n])
		} else if msg == nil {
			msg = b[5 : 5+n]
		}
		b = b[5+n:]
	}
	if resp.StatusCode != http.StatusOK || msg == nil {
		return nil, fmt.Errorf("QueryService/Query: %s, %s%s", resp.Status, trailers, resp.Header.Get("Grpc-Message"))
	}
	// QueryResponse.pprof is field 6.
	for len(msg) > 0 {
		key, n := protowire.ReadVarint(msg)
		if n == 0 {
			break
		}
		msg = msg[n:]
		field, wire := int(key>>3), int(key&7)
		switch wire {
		case protowire.Varint:
			_, n = protowire.ReadVarint(msg)
			msg = msg[n:]
		case protowire.Bytes:
			l, n := protowire.ReadVarint(msg)
			data := msg[n : n+int(l)]
			msg = msg[n+int(l):]
			if field == 6 {
				return profile.ParseData(data)
			}
		default:
			return nil, fmt.Errorf("QueryResponse: unexpected wire type %d", wire)
		}
	}
	return nil, fmt.Errorf("QueryResponse without a pprof (trailers %q)", trailers)
}

// cpuIn sums the first sample type over the samples whose stack holds a
// function whose name contains fn ("" for all).
func cpuIn(p *profile.Profile, fn string) int64 {
	var sum int64
	for _, s := range p.Sample {
		in := fn == ""
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && fn != "" && strings.Contains(line.Function.Name, fn) {
					in = true
				}
			}
		}
		if in {
			sum += s.Value[0]
		}
	}
	return sum
}

// TestAgentPyroscope runs the seed's command against Grafana Pyroscope v1,
// by /ingest and by push, then finds each unit's CPU by service_name and
// systemd_unit with the server's own query API.
func TestAgentPyroscope(t *testing.T) {
	base := os.Getenv("PYROSCOPE_E2E_PUSH_URL")
	if base == "" {
		t.Skip("PYROSCOPE_E2E_PUSH_URL is not set (a Grafana Pyroscope v1 server)")
	}
	buildAgent(t)
	for _, protocol := range []string{"ingest", "push"} {
		t.Run(protocol, func(t *testing.T) {
			goUnit, cScope, outside := units(t)
			agent := startAgent(t, "--node=test", "--log-level=debug", "--kubernetes=false", "--insecure",
				"--systemd-units="+cScope+","+goUnit, "--bearer-token", seedToken,
				"--server-address="+base, "--protocol="+protocol, "--upload-rate=2s")
			agent.runFor(t, 3)
			q := newPyroscopeQuerier(t, base, "")
			r := run{start: agent.start, end: agent.end}
			for _, tc := range []struct{ unit, service, hot string }{
				{cScope, strings.TrimSuffix(cScope, ".scope"), "c_hot_spin"},
				{goUnit, strings.TrimSuffix(goUnit, ".service"), "main.hotLoop"},
			} {
				query := fmt.Sprintf(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=%q,systemd_unit=%q,node="test"}`, tc.service, tc.unit)
				eventually(t, query, func() error {
					f, err := q.render("/pyroscope/render", query, r)
					if err != nil {
						return err
					}
					_, total := f.funcTotals(tc.hot)
					if total == 0 {
						return fmt.Errorf("no %s in %d ticks", tc.hot, f.Flamebearer.NumTicks)
					}
					t.Logf("%s: %d ticks, %d in %s", query, f.Flamebearer.NumTicks, total, tc.hot)
					return nil
				})
			}
			var values struct {
				Names []string `json:"names"`
			}
			if err := q.connect("/querier.v1.QuerierService/LabelValues", map[string]any{
				"name": "systemd_unit", "start": r.start.Add(-time.Minute).UnixMilli(), "end": r.end.Add(time.Minute).UnixMilli(),
			}, &values); err != nil {
				t.Fatal(err)
			}
			for _, v := range values.Names {
				if v == outside {
					t.Errorf("the unit not selected, %s, is among systemd_unit's values", outside)
				}
			}
		})
	}
}

// TestAgentKubernetes runs the agent with a kubeconfig against the real
// kube-apiserver: pods bound to a node (with container statuses set as a
// kubelet sets them) whose containers are real processes in cgroups named
// as the kubelet names them; their profiles, in the directory sink, carry
// the pods' labels; a pod created later is picked up; a deleted pod is
// dropped. It also has the server check the deploy/kubernetes manifests
// (kubectl apply --dry-run=server).
func TestAgentKubernetes(t *testing.T) {
	server := os.Getenv("PYROSCOPE_E2E_KUBE_SERVER")
	if server == "" {
		t.Skip("PYROSCOPE_E2E_KUBE_SERVER unset (bash e2e/servers.sh start-k8s prints it)")
	}
	caFile, tokenFile := os.Getenv("PYROSCOPE_E2E_KUBE_CA"), os.Getenv("PYROSCOPE_E2E_KUBE_TOKEN_FILE")
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("PYROSCOPE_E2E_KUBE_CA: %v", err)
	}
	buildAgent(t)
	root := unifiedMount(t)
	api := newKubeAPI(t, server, ca, tokenFile)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: e2e
contexts:
- name: e2e
  context: {cluster: e2e, user: e2e-admin}
clusters:
- name: e2e
  cluster: {server: %q, certificate-authority: %q}
users:
- name: e2e-admin
  user: {tokenFile: %q}
`, server, caFile, tokenFile)), 0o600)

	t.Run("deploy manifests", func(t *testing.T) { checkManifests(t, api, kubeconfig) })

	api.ensureNamespace()
	for _, name := range []string{"agent-web", "agent-db", "agent-late"} {
		api.deletePod(name)
	}
	container := func(pod, c, program string) {
		uid := strings.ReplaceAll(api.podUID(pod), "-", "_")
		dir := discovertest.MakeCgroup(t, root, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"+uid+".slice/cri-containerd-"+discovertest.ContainerID(pod, c)+".scope")
		startInCgroup(t, dir, program, map[bool][]string{true: {"-spin", "0"}}[program == agentBins.hot]...)
	}
	api.createPod("agent-web", kubeNode, nil, map[string]string{discover.ServiceNameAnnotation: "agent-web-svc"}, "app")
	api.setStatus("agent-web", "Running", "containerd", "app")
	container("agent-web", "app", agentBins.hot)
	api.createPod("agent-db", kubeNode, nil, nil, "db")
	api.setStatus("agent-db", "Running", "containerd", "db")
	container("agent-db", "db", agentBins.cspin)

	dir := t.TempDir()
	run := startAgent(t, "--node="+kubeNode, "--kubeconfig="+kubeconfig, "--log-level=debug",
		"--server-address=file://"+dir, "--upload-rate=1s")
	waitFor := func(what string, ok func(map[string][]dirWindow) bool) map[string][]dirWindow {
		t.Helper()
		var ws map[string][]dirWindow
		eventually(t, what, func() error {
			if ws = readDirWindows(dir); !ok(ws) {
				return fmt.Errorf("not yet: %d services", len(ws))
			}
			return nil
		})
		return ws
	}
	hot := func(ws []dirWindow, fn string) bool {
		for _, w := range ws {
			if w.cpuIn(fn) > 0 {
				return true
			}
		}
		return false
	}
	waitFor("web and db", func(ws map[string][]dirWindow) bool {
		return hot(ws["agent-web-svc"], "main.hotLoop") && hot(ws["ptest_db"], "c_hot_spin")
	})
	api.createPod("agent-late", kubeNode, nil, nil, "app")
	container("agent-late", "app", agentBins.hot)
	api.setStatus("agent-late", "Running", "containerd", "app")
	api.deletePod("agent-web")
	deleted := time.Now()
	ws := waitFor("the late pod, and web gone", func(ws map[string][]dirWindow) bool {
		if !hot(ws["ptest_app"], "main.hotLoop") {
			return false
		}
		n := 0
		for _, w := range ws["ptest_db"] {
			if w.From.After(deleted.Add(2 * time.Second)) {
				n++
			}
		}
		return n > 0
	})
	run.runFor(t, 0)
	for svc, list := range ws {
		for _, w := range list {
			if w.Tags["namespace"] != kubeNamespace || w.Tags["node"] != kubeNode || len(w.Tags["container_id"]) != 64 || w.Tags["pod"] == "" || w.Tags["comm"] == "" {
				t.Errorf("%s: labels %v", svc, w.Tags)
			}
			if svc == "agent-web-svc" && w.From.After(deleted.Add(2*time.Second)) {
				t.Errorf("a window of the deleted pod agent-web from %v, deleted at %v", w.From, deleted)
			}
		}
	}
	for _, name := range []string{"agent-web", "agent-db", "agent-late"} {
		api.deletePod(name)
	}
}

// dirWindow is one window the directory sink wrote: its labels file and
// its profile.
type dirWindow struct {
	App         string            `json:"app"`
	Tags        map[string]string `json:"tags"`
	From, Until time.Time
	prof        *profile.Profile
}

func (w dirWindow) cpuIn(fn string) int64 {
	if w.prof == nil {
		return 0
	}
	return cpuIn(w.prof, fn)
}

// readDirWindows reads the CPU windows under dir by service directory.
func readDirWindows(dir string) map[string][]dirWindow {
	out := map[string][]dirWindow{}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "cpu_*.json"))
	for _, f := range files {
		var w dirWindow
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &w) != nil {
			continue
		}
		if pb, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".pb.gz"); err == nil {
			w.prof, _ = profile.ParseData(pb)
		}
		svc := filepath.Base(filepath.Dir(f))
		out[svc] = append(out[svc], w)
	}
	return out
}

// checkManifests has the real API server check deploy/kubernetes with a
// server-side dry run: every object against the server's schema and
// admission, nothing stored.
func checkManifests(t *testing.T, api *kubeAPI, kubeconfig string) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the manifests were not checked by the server")
	}
	// Namespaced objects are checked in their namespace, which a dry run
	// does not create. It is left in place: without a controller manager
	// a deleted namespace stays Terminating, and refuses every object.
	api.do("POST", "/api/v1/namespaces", "application/json",
		map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "pyroscope"}},
		nil, 201, 409)
	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-f", "../deploy/kubernetes/").CombinedOutput()
	t.Logf("kubectl apply --dry-run=server -f deploy/kubernetes/:\n%s", out)
	if err != nil {
		t.Fatalf("kubectl: %v", err)
	}
	for _, want := range []string{"daemonset.apps/pyroscope-agent", "clusterrole.rbac.authorization.k8s.io/pyroscope-agent", "serviceaccount/pyroscope-agent"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl's output does not name %s", want)
		}
	}
}
