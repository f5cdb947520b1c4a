package main

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
)

// needSystemPerf skips the test when perf events for every CPU are not
// permitted here.
func needSystemPerf(t *testing.T) {
	t.Helper()
	s, err := perf.AttachSystem(perf.SystemOptions{Frequency: 1})
	if err != nil {
		t.Skipf("system-wide perf events are not permitted here: %v", err)
	}
	s.Close()
}

// startIn starts a program inside the cgroup directory dir from its first
// instruction (clone3 with CLONE_INTO_CGROUP), so that every sample of it
// is in the target. It is killed and reaped when the test ends.
func startIn(t *testing.T, dir, path string, args ...string) *exec.Cmd {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command(path, args...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s in %s: %v", path, dir, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// copyAs copies the program at path to a file named name, so that its
// processes have name as their command name (comm).
func copyAs(t *testing.T, path, name string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// parseSeriesName splits the ingest API's "app{k=v,...}".
func parseSeriesName(name string) (string, map[string]string) {
	app, rest, _ := strings.Cut(name, "{")
	labels := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = v
		}
	}
	return app, labels
}

// stopAgent ends the agent with SIGTERM and checks that it sent its last
// windows and exited 0.
func stopAgent(t *testing.T, c *cli) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.wait(t); code != 0 {
		t.Errorf("agent exit code %d; stderr:\n%s", code, c.stderr)
	}
	if !strings.Contains(c.stderr.String(), "sent ") {
		t.Errorf("no closing line in stderr:\n%s", c.stderr)
	}
}

// The seed's command, with the address of a test server: the processes of
// the selected units (a Go and a C program, each in its own unit, the C one
// in a scope named as Docker names its containers' scopes) arrive as one
// series per unit and command, labeled and with their hot functions; a
// process started in a unit after the agent, and a unit started after it,
// are sampled; nothing of the unit that is not selected is sent; the token
// reaches the server and never the log.
func TestAgentProfilesSystemdUnits(t *testing.T) {
	needSystemPerf(t)
	m := writableCgroups(t)
	if bin.cspin == "" {
		t.Skipf("no C test program: %s", bin.cspinErr)
	}
	r := randomHex(4)
	goUnit := "ptest-go-" + r + ".service"
	cScope := "docker-" + strings.Repeat(r, 8) + ".scope"
	laterUnit := "ptest-later-" + r + ".service"
	outside := "ptest-outside-" + r + ".service"
	goDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/"+goUnit)
	cDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/"+cScope)
	outDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/"+outside)
	startIn(t, goDir, bin.hot, "-spin", "0")
	startIn(t, cDir, bin.cspin)
	outsider := copyAs(t, bin.hot, "ptest-outsider")
	startIn(t, outDir, outsider, "-spin", "0")

	srv := newIngestServer(t)
	const token = "eyJhbGciOiJFZERTQSJ9.ptest-secret-token"
	agent := startCLI(t, nil, "agent", "--node=test", "--log-level=debug", "--kubernetes=false", "--insecure",
		"--systemd-units="+goUnit+","+cScope, "--systemd-units", laterUnit,
		"--bearer-token", token, "--server-address", srv.URL, "--upload-rate", "1s")
	waitLine(t, agent.stderr, "profiling systemd units")
	if !strings.Contains(agent.stderr.String(), "unit "+laterUnit+" not found") {
		t.Errorf("no warning about %s, which does not exist yet:\n%s", laterUnit, agent.stderr)
	}

	type seen struct {
		windows int
		hot     int64 // samples in the hot function
	}
	series := func(rs []received) map[string]*seen {
		out := map[string]*seen{}
		for _, rc := range byKind(rs, "cpu") {
			s := out[rc.name]
			if s == nil {
				s = &seen{}
				out[rc.name] = s
			}
			s.windows++
			s.hot += sumFor(rc.prof, "samples", "main.hotLoop") + sumFor(rc.prof, "samples", "c_hot_spin")
		}
		return out
	}
	goSeries := "ptest-go-" + r + "{comm=hot,node=test,systemd_unit=" + goUnit + "}"
	cSeries := "docker-" + strings.Repeat(r, 8) + "{comm=cspin,node=test,systemd_unit=" + cScope + "}"
	srv.waitFor(t, "the Go and the C unit's hot functions", func(rs []received) bool {
		s := series(rs)
		return s[goSeries] != nil && s[goSeries].hot > 0 && s[cSeries] != nil && s[cSeries].hot > 0
	})

	// A process that lives 300 ms in the unit, gone long before its
	// window is cut, and one that joins the running unit for good; a unit
	// that starts later.
	brief := startIn(t, goDir, copyAs(t, bin.hot, "hot-brief"), "-spin", "300ms")
	brief.Wait()
	startIn(t, goDir, copyAs(t, bin.hot, "hot-late"), "-spin", "0")
	laterDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/"+laterUnit)
	startIn(t, laterDir, bin.cspin)
	lateSeries := "ptest-go-" + r + "{comm=hot-late,node=test,systemd_unit=" + goUnit + "}"
	laterSeries := "ptest-later-" + r + "{comm=cspin,node=test,systemd_unit=" + laterUnit + "}"
	briefSeries := "ptest-go-" + r + "{comm=hot-brief,node=test,systemd_unit=" + goUnit + "}"
	srv.waitFor(t, "the brief process, the late one and the later unit", func(rs []received) bool {
		s := series(rs)
		return s[briefSeries] != nil && s[briefSeries].hot > 0 && s[lateSeries] != nil && s[lateSeries].hot > 0 &&
			s[laterSeries] != nil && s[laterSeries].hot > 0
	})
	stopAgent(t, agent)

	for name := range series(srv.received()) {
		app, labels := parseSeriesName(name)
		if labels["pid"] != "" || len(labels) != 3 || labels["node"] != "test" || labels["comm"] == "" {
			t.Errorf("series %s: want exactly node, systemd_unit and comm", name)
		}
		if u := labels["systemd_unit"]; !slices.Contains([]string{goUnit, cScope, laterUnit}, u) || app != strings.TrimSuffix(strings.TrimSuffix(u, ".service"), ".scope") {
			t.Errorf("series %s is not of a selected unit, or not named for it", name)
		}
	}
	for _, rc := range srv.received() {
		if rc.auth != "Bearer "+token {
			t.Errorf("%s sent with Authorization %q", rc.name, rc.auth)
		}
		if strings.Contains(rc.name, outside) {
			t.Errorf("the unit not selected was sent: %s", rc.name)
		}
	}
	if strings.Contains(agent.stderr.String(), "ptest-secret-token") {
		t.Errorf("the token is in the log:\n%s", agent.stderr)
	}
}

// With --kubernetes and a kubeconfig (reaching a replay of a real
// kube-apiserver's answers), the containers of the node's pods are
// profiled, labeled by their pods, into the directory sink; a pod reported
// later is picked up, and a deleted pod's container is dropped.
func TestAgentProfilesKubernetesContainers(t *testing.T) {
	needSystemPerf(t)
	m := writableCgroups(t)
	if bin.cspin == "" {
		t.Skipf("no C test program: %s", bin.cspinErr)
	}
	const token = "ptest-kube-token"
	api := newAPIReplay(t, token, nil)
	kubeconfig := writeKubeconfig(t, t.TempDir(), api.URL, "insecure-skip-tls-verify: true", "token: "+token)
	startIn(t, discovertest.MakeCgroup(t, m.Unified, containerCgroup("web", "app")), bin.hot, "-spin", "0")
	startIn(t, discovertest.MakeCgroup(t, m.Unified, containerCgroup("db", "postgres")), bin.cspin)
	startIn(t, discovertest.MakeCgroup(t, m.Unified, containerCgroup("late", "app")), copyAs(t, bin.hot, "late-app"), "-spin", "0")
	// A process in no pod's cgroup: not profiled.
	outDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/ptest-notapod-"+randomHex(4)+".service")
	startIn(t, outDir, copyAs(t, bin.hot, "ptest-notapod"), "-spin", "0")

	dir := t.TempDir()
	agent := startCLI(t, nil, "agent", "--node", recordedNode, "--kubeconfig", kubeconfig,
		"--server-address", "file://"+dir, "--upload-rate", "1s", "--log-level", "debug")
	waitLine(t, agent.stderr, "profiling the containers of the pods on node "+recordedNode)

	type window struct {
		app         string
		tags        map[string]string
		from, until time.Time
		hot         int64
	}
	read := func() []window {
		var out []window
		files, _ := filepath.Glob(filepath.Join(dir, "*", "cpu_*.json"))
		for _, f := range files {
			var l struct {
				App         string            `json:"app"`
				Tags        map[string]string `json:"tags"`
				From, Until time.Time
			}
			b, err := os.ReadFile(f)
			if err != nil || json.Unmarshal(b, &l) != nil {
				continue // being written
			}
			w := window{app: l.App, tags: l.Tags, from: l.From, until: l.Until}
			if pb, err := os.Open(strings.TrimSuffix(f, ".json") + ".pb.gz"); err == nil {
				if p, err := profile.Parse(pb); err == nil {
					w.hot = sumFor(p, "samples", "main.hotLoop") + sumFor(p, "samples", "c_hot_spin")
				}
				pb.Close()
			}
			out = append(out, w)
		}
		return out
	}
	waitFiles := func(what string, ok func([]window) bool) []window {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			ws := read()
			if ok(ws) {
				return ws
			}
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; windows: %+v\nstderr:\n%s", what, ws, agent.stderr)
			}
			time.Sleep(100 * time.Millisecond) // files have no change notification here
		}
	}
	hotIn := func(ws []window, app string) bool {
		for _, w := range ws {
			if w.app == app && w.hot > 0 {
				return true
			}
		}
		return false
	}
	ws := waitFiles("web and db", func(ws []window) bool { return hotIn(ws, "web-frontend") && hotIn(ws, "ptest/postgres") })
	for _, w := range ws {
		if w.app == "late-svc" {
			t.Errorf("the late pod's container was profiled before its pod was reported: %+v", w)
		}
	}
	api.openWatch()
	ws = waitFiles("the late pod", func(ws []window) bool { return hotIn(ws, "late-svc") })
	var lateFirst time.Time
	for _, w := range ws {
		if w.app == "late-svc" && (lateFirst.IsZero() || w.until.Before(lateFirst)) {
			lateFirst = w.until
		}
	}
	// Two windows more, to see that web's are gone.
	ws = waitFiles("two more windows", func(ws []window) bool {
		n := 0
		for _, w := range ws {
			if w.app == "late-svc" && w.until.After(lateFirst) {
				n++
			}
		}
		return n >= 2
	})
	stopAgent(t, agent)

	want := map[string]map[string]string{
		"web-frontend":   {"namespace": "ptest", "pod": "web", "container": "app", "comm": "hot"},
		"ptest/postgres": {"namespace": "ptest", "pod": "db", "container": "postgres", "comm": "cspin"},
		"late-svc":       {"namespace": "ptest", "pod": "late", "container": "app", "comm": "late-app"},
	}
	for _, w := range read() {
		labels, ok := want[w.app]
		if !ok {
			t.Errorf("a window of %s %v, which is no pod's container", w.app, w.tags)
			continue
		}
		for k, v := range labels {
			if w.tags[k] != v {
				t.Errorf("%s: label %s = %q, want %q (labels %v)", w.app, k, w.tags[k], v, w.tags)
			}
		}
		if w.tags["node"] != recordedNode || len(w.tags["container_id"]) != 64 || len(w.tags) != 6 {
			t.Errorf("%s: labels %v, want node, namespace, pod, container, container_id, comm", w.app, w.tags)
		}
		if w.app == "web-frontend" && !w.until.Before(lateFirst) {
			t.Errorf("a window of the deleted pod web after its deletion: %v–%v", w.from, w.until)
		}
	}
}

// With neither units nor Kubernetes the whole node is profiled, each
// executable its own service. The token comes from a file named by Parca
// agent's flag, and a rotated token is used without a restart.
func TestAgentProfilesTheWholeNode(t *testing.T) {
	needSystemPerf(t)
	name := "ptwhole-" + randomHex(2) // a comm holds 15 bytes
	cmd := exec.Command(copyAs(t, bin.hot, name), "-spin", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("first-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newIngestServer(t)
	agent := startCLI(t, nil, "agent", "--node=n1", "--kubernetes=false", "--server-address", srv.URL, "--upload-rate", "1s",
		"--remote-store-bearer-token-file", tokenFile)
	want := name + "{comm=" + name + ",node=n1}"
	arrived := func(token string) func([]received) bool {
		return func(rs []received) bool {
			for _, r := range rs {
				if r.name == want && r.auth == "Bearer "+token && sumFor(r.prof, "samples", "main.hotLoop") > 0 {
					return true
				}
			}
			return false
		}
	}
	srv.waitFor(t, want+" with the first token", arrived("first-token"))
	// Rotated as Kubernetes rotates a mounted Secret: a new file renamed
	// over the old.
	if err := os.WriteFile(tokenFile+".new", []byte("second-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tokenFile+".new", tokenFile); err != nil {
		t.Fatal(err)
	}
	srv.waitFor(t, want+" with the rotated token", arrived("second-token"))
	stopAgent(t, agent)
	if s := agent.stderr.String(); strings.Contains(s, "first-token") || strings.Contains(s, "second-token") {
		t.Errorf("a token is in the log:\n%s", s)
	}
}

// Without the right to open perf events on every CPU the agent says what
// to grant and exits non-zero.
func TestAgentWithoutPerfRights(t *testing.T) {
	if p, err := strconv.Atoi(paranoid()); err != nil || p <= 0 {
		t.Skipf("kernel.perf_event_paranoid is %s: anyone may sample every CPU here", paranoid())
	}
	// The test's binaries are in a directory only root may enter.
	dir, err := os.MkdirTemp("", "ptest-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "pyroscope")
	b, _ := os.ReadFile(bin.cli)
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := newIngestServer(t)
	c := &cli{cmd: exec.Command(exe, "agent", "--kubernetes=false", "--server-address", srv.URL), stdout: newLockedBuffer(), stderr: newLockedBuffer()}
	c.cmd.Env = cleanEnv()
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != exitFailure {
		t.Errorf("exit code %d, want %d", code, exitFailure)
	}
	for _, want := range []string{"perf events for every CPU are not permitted", "CAP_PERFMON", "kernel.perf_event_paranoid"} {
		if !strings.Contains(c.stderr.String(), want) {
			t.Errorf("stderr %q does not say %q", c.stderr, want)
		}
	}
}

// Without any credentials the agent says, in one line, each place it
// looked.
func TestKubernetesWithoutCredentials(t *testing.T) {
	if _, err := discover.InClusterConfig(); err == nil {
		t.Skip("running in a pod with a service account")
	}
	code, _, stderr := runInProcess([]string{"agent", "--kubernetes", "--server-address", "file://" + t.TempDir()}, nil)
	if code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"no Kubernetes credentials", "KUBERNETES_SERVICE_HOST", "/var/run/secrets/kubernetes.io/serviceaccount/token", "--kubeconfig", "KUBECONFIG"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not say %q", stderr, want)
		}
	}
	if n := strings.Count(stderr, "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want 1: %q", n, stderr)
	}
}

// The agent's flags: Parca agent's names mean ours, the destination
// defaults to Polar Signals Cloud, and what cannot work is refused in one
// line naming the flag as typed.
func TestAgentFlags(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("t\n"), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		server   string
		protocol string
	}{
		{"no address: Polar Signals Cloud", nil, nil, "grpc.polarsignals.com:443", "parca"},
		{"the seed's --insecure", []string{"--insecure"}, nil, "http://grpc.polarsignals.com:443", "parca"},
		{"Parca agent's address", []string{"--remote-store-address=parca:7070", "--remote-store-insecure"}, nil, "http://parca:7070", "parca"},
		{"our address: ingest, as exec", []string{"--server-address=http://pyroscope:4040"}, nil, "http://pyroscope:4040", "ingest"},
		{"the address from the variable", nil, map[string]string{"PYROSCOPE_SERVER_ADDRESS": "https://p.example"}, "https://p.example", "ingest"},
		{"the protocol from the variable", nil, map[string]string{"PYROSCOPE_PROTOCOL": "push"}, defaultServer, "push"},
		{"a token file by Parca's name", []string{"--remote-store-bearer-token-file", tokenFile}, nil, polarSignalsAddress, "parca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := parseAgentArgs(t, tc.args, tc.env)
			if a.server != tc.server || a.protocol != tc.protocol {
				t.Errorf("address %s, protocol %s; want %s, %s", a.server, a.protocol, tc.server, tc.protocol)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plaintext to https", []string{"--remote-store-insecure", "--server-address=https://p.example"}, `--remote-store-insecure asks for plaintext, but the address "https://p.example" is https://`},
		{"two spellings of the token", []string{"--auth-token=a", "--bearer-token=b"}, "--auth-token and --bearer-token are the same setting"},
		{"kubeconfig with Kubernetes off", []string{"--kubernetes=false", "--kubeconfig=/x"}, "--kubeconfig is for --kubernetes, which is off"},
		{"a token file that is not there", []string{"--bearer-token-file=/nonexistent/token"}, "--bearer-token-file: stat /nonexistent/token"},
		{"a bad unit name", []string{"--systemd-units=a b.service"}, "--systemd-units"},
		{"an argument", []string{"extra"}, `unexpected argument "extra"`},
		{"a bad kubeconfig", []string{"--kubeconfig=/nonexistent/kubeconfig"}, "--kubernetes: kubeconfig: open /nonexistent/kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInProcess(append([]string{"agent"}, tc.args...), nil)
			if code != exitUsage || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and one line saying %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
	code, stdout, _ := runInProcess([]string{"agent", "--help"}, nil)
	for _, want := range []string{"--systemd-units", "--kubernetes", "--kubeconfig", "--node", "--bearer-token", "--remote-store-address", "--remote-store-bearer-token-file", "--remote-store-insecure", "--insecure", "grpc.polarsignals.com:443"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("agent --help (exit %d) lacks %q", code, want)
		}
	}
}

// In a pod with a service account (here: a private mount namespace with the
// account's token and CA where Kubernetes mounts them, and the variables
// the kubelet sets), --kubernetes is on by default and the in-cluster
// credentials reach the API server.
func TestAgentInAPodUsesItsServiceAccount(t *testing.T) {
	needSystemPerf(t)
	m := writableCgroups(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare is not installed: cannot fake a pod's service-account mount")
	}
	p := newPKI(t)
	const token = "ptest-service-account-token"
	api := newAPIReplay(t, token, p.serverTLS(false))
	u, _ := url.Parse(api.URL)
	sa := t.TempDir()
	os.WriteFile(filepath.Join(sa, "token"), []byte(token), 0o600)
	os.WriteFile(filepath.Join(sa, "ca.crt"), p.caPEM, 0o600)
	startIn(t, discovertest.MakeCgroup(t, m.Unified, containerCgroup("web", "app")), bin.hot, "-spin", "0")

	out := t.TempDir()
	const script = `mount -t tmpfs ptest /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
cp "$0"/token "$0"/ca.crt /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"`
	agent := &cli{cmd: exec.Command(unshare, "-m", "sh", "-c", script, sa, bin.cli, "agent", "--node", recordedNode,
		"--server-address", "file://"+out, "--upload-rate", "1s"), stdout: newLockedBuffer(), stderr: newLockedBuffer()}
	agent.cmd.Env = cleanEnv("KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT="+u.Port())
	agent.cmd.Stdout, agent.cmd.Stderr = agent.stdout, agent.stderr
	if err := agent.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if agent.cmd.ProcessState == nil {
			agent.cmd.Process.Kill()
			agent.cmd.Wait()
		}
	})
	waitLine(t, agent.stderr, "profiling the containers of the pods on node "+recordedNode)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if files, _ := filepath.Glob(filepath.Join(out, "web-frontend", "cpu_*.json")); len(files) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window of web-frontend within 60 s; stderr:\n%s", agent.stderr)
		}
		time.Sleep(100 * time.Millisecond) // files have no change notification here
	}
	stopAgent(t, agent)
}

// On a machine whose systemd keeps its units in cgroup v1's name=systemd
// hierarchy, a unit's process sits in the v2 root: the agent finds its unit
// by /proc/PID/cgroup. (This machine is hybrid: the test makes the unit in
// name=systemd only.)
func TestAgentProfilesAUnitOnlyInV1(t *testing.T) {
	needSystemPerf(t)
	m := writableCgroups(t)
	if m.Systemd == "" {
		t.Skip("no cgroup v1 name=systemd hierarchy here")
	}
	unit := "ptest-v1-" + randomHex(4) + ".service"
	dir := discovertest.MakeCgroup(t, m.Systemd, "/system.slice/"+unit)
	cmd := exec.Command(bin.hot, "-spin", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	if pc, err := discover.ReadProcCgroup(cmd.Process.Pid); err != nil || pc.Unified != "/" {
		t.Skipf("the child's cgroup v2 is %q (%v), not the root: no v1-only unit can be made here", pc.Unified, err)
	}
	srv := newIngestServer(t)
	agent := startCLI(t, nil, "agent", "--node=n1", "--kubernetes=false", "--systemd-units", unit, "--server-address", srv.URL, "--upload-rate", "1s")
	want := strings.TrimSuffix(unit, ".service") + "{comm=hot,node=n1,systemd_unit=" + unit + "}"
	srv.waitFor(t, want, func(rs []received) bool {
		for _, r := range rs {
			if r.name == want && sumFor(r.prof, "samples", "main.hotLoop") > 0 {
				return true
			}
		}
		return false
	})
	stopAgent(t, agent)
	for _, r := range srv.received() {
		if r.name != want {
			t.Errorf("a series outside the unit: %s", r.name)
		}
	}
}
