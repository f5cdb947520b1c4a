package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// deployDir holds what a user applies: deploy/kubernetes and deploy/systemd.
const deployDir = "../../deploy"

// parseAgentArgs parses args (after "agent") as the agent does, with env as
// its environment.
func parseAgentArgs(t *testing.T, args []string, env map[string]string) *agentFlags {
	t.Helper()
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var a agentFlags
	a.register(fs)
	getenv := func(k string) string { return env[k] }
	if err := parseFlags(fs, args, getenv); err != nil {
		t.Fatalf("agent %s: %v", strings.Join(args, " "), err)
	}
	if err := a.check(fs, getenv); err != nil {
		t.Fatalf("agent %s: %v", strings.Join(args, " "), err)
	}
	return &a
}

// manifests reads every object of the YAML files in dir.
func manifests(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	objs := map[string]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o map[string]any
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			kind, _ := o["kind"].(string)
			objs[kind] = o
		}
	}
	return objs
}

// at walks a parsed object: keys of maps, indexes of lists.
func at(t *testing.T, o any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := o.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			o = m[k]
		case int:
			l, ok := o.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			o = l[k]
		}
	}
	return o
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

// The Kubernetes manifests hold what the agent needs and no more: a
// ServiceAccount allowed get, list and watch on pods, a DaemonSet with the
// host's PIDs and cgroups, the capabilities perf and reading other users'
// programs need and none of the defaults, the token from a Secret as a
// file, and arguments the agent accepts. (The real kube-apiserver checks
// them against its schema in e2e: TestDeployManifestsOnARealAPIServer.)
func TestDeployKubernetesManifests(t *testing.T) {
	objs := manifests(t, filepath.Join(deployDir, "kubernetes"))
	for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"} {
		if objs[kind] == nil {
			t.Fatalf("no %s among the manifests", kind)
		}
	}
	rules := at(t, objs["ClusterRole"], "rules").([]any)
	if len(rules) != 1 || !slices.Equal(strs(at(t, rules[0], "resources")), []string{"pods"}) ||
		!slices.Equal(strs(at(t, rules[0], "verbs")), []string{"get", "list", "watch"}) {
		t.Errorf("ClusterRole rules = %v, want get, list, watch on pods only", rules)
	}
	sa := at(t, objs["ServiceAccount"], "metadata", "name")
	if at(t, objs["ClusterRoleBinding"], "subjects", 0, "name") != sa || at(t, objs["ClusterRoleBinding"], "roleRef", "name") != at(t, objs["ClusterRole"], "metadata", "name") {
		t.Error("the binding does not bind the role to the agent's service account")
	}
	pod := at(t, objs["DaemonSet"], "spec", "template", "spec")
	if at(t, pod, "serviceAccountName") != sa || at(t, pod, "hostPID") != true {
		t.Errorf("pod spec: serviceAccountName %v, hostPID %v", at(t, pod, "serviceAccountName"), at(t, pod, "hostPID"))
	}
	c := at(t, pod, "containers", 0)
	sc := at(t, c, "securityContext")
	if at(t, sc, "privileged") == true || !slices.Equal(strs(at(t, sc, "capabilities", "drop")), []string{"ALL"}) {
		t.Errorf("securityContext %v: want not privileged, every default capability dropped", sc)
	}
	if got := strs(at(t, sc, "capabilities", "add")); !slices.Equal(got, []string{"PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"}) {
		t.Errorf("capabilities added = %v, want PERFMON, SYS_PTRACE, DAC_READ_SEARCH", got)
	}
	mounts := map[string]string{}
	for _, m := range at(t, c, "volumeMounts").([]any) {
		mounts[at(t, m, "name").(string)] = at(t, m, "mountPath").(string)
	}
	volumes := map[string]any{}
	for _, v := range at(t, pod, "volumes").([]any) {
		volumes[at(t, v, "name").(string)] = v
	}
	if mounts["cgroup"] != "/sys/fs/cgroup" || at(t, volumes["cgroup"], "hostPath", "path") != "/sys/fs/cgroup" {
		t.Errorf("the host's cgroup tree is not mounted at /sys/fs/cgroup: %v", mounts)
	}
	// The agent's arguments, with the node's name as the kubelet expands it.
	var args []string
	for _, a := range strs(at(t, c, "args"))[1:] {
		args = append(args, strings.ReplaceAll(a, "$(NODE_NAME)", "node-1"))
	}
	if strs(at(t, c, "args"))[0] != "agent" {
		t.Errorf("args %v do not start with agent", strs(at(t, c, "args")))
	}
	tokenDir := t.TempDir()
	os.WriteFile(filepath.Join(tokenDir, "token"), []byte("t"), 0o600)
	var tokenFile string
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--remote-store-bearer-token-file="); ok {
			tokenFile = v
			args[i] = "--remote-store-bearer-token-file=" + filepath.Join(tokenDir, "token")
		}
	}
	a := parseAgentArgs(t, args, nil)
	if mode := at(t, volumes["token"], "secret", "defaultMode"); mode != 0o400 {
		t.Errorf("the token Secret's files have mode %v, want 0400 (256)", mode)
	}
	if filepath.Dir(tokenFile) != mounts["token"] || at(t, volumes["token"], "secret", "secretName") == nil {
		t.Errorf("token file %s is not in the Secret's mount %s", tokenFile, mounts["token"])
	}
	if !a.kubernetes || a.node != "node-1" || a.protocol != "parca" || a.server != polarSignalsAddress {
		t.Errorf("the DaemonSet's agent: kubernetes %v, node %q, %s %s", a.kubernetes, a.node, a.protocol, a.server)
	}
}

// The systemd unit passes systemd-analyze verify without a warning, and
// its command line is one the agent accepts.
func TestDeploySystemdUnit(t *testing.T) {
	unit := filepath.Join(deployDir, "systemd", "pyroscope-agent.service")
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	const installed = "/usr/local/bin/pyroscope"
	text := string(b)
	env := map[string]string{}
	var exec_ string
	for _, line := range strings.Split(text, "\n") {
		if kv, ok := strings.CutPrefix(line, "Environment="); ok {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec_ = v
		}
	}
	fields := strings.Fields(exec_)
	if len(fields) < 2 || fields[0] != installed || fields[1] != "agent" {
		t.Fatalf("ExecStart=%s: want %s agent ...", exec_, installed)
	}
	var args []string
	for _, f := range fields[2:] {
		for k, v := range env {
			f = strings.ReplaceAll(f, "${"+k+"}", v)
		}
		args = append(args, f)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("t"), 0o600)
	env["PYROSCOPE_AUTH_TOKEN_FILE"] = tokenFile
	a := parseAgentArgs(t, args, env)
	if a.kubernetes || len(a.units) == 0 {
		t.Errorf("the unit's agent: kubernetes %v, units %v", a.kubernetes, a.units)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit file was not verified")
	}
	// verify checks that the command exists: point it at the built CLI.
	dir := t.TempDir()
	copyPath := filepath.Join(dir, "pyroscope-agent.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(text, installed, bin.cli)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v: %s", err, out)
	}
}
