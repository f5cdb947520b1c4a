package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
)

// writableCgroups are this machine's cgroup mounts, or the test is skipped
// with the reason when cgroup v2 cannot be written here.
func writableCgroups(t *testing.T) discover.Mounts {
	t.Helper()
	m, err := discover.FindMounts()
	if err != nil {
		t.Skipf("no cgroup hierarchy: %v", err)
	}
	if m.Unified == "" {
		t.Skip("no cgroup v2 mount in /proc/self/mountinfo")
	}
	probe := filepath.Join(m.Unified, "ptest-probe-"+randomHex(4))
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Skipf("cgroup v2 at %s is not writable here (the tests need root): %v", m.Unified, err)
	}
	os.Remove(probe)
	return m
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cgroupID is a cgroup directory's inode number: its ID, as perf reports it.
func cgroupID(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// A fixture of real cgroups with a process in each, and the grouper the
// agent would use for them.
type grouperCase struct {
	pid  int
	comm string
	id   uint64
	want *agentSeries // nil: not profiled
}

func checkGroups(t *testing.T, g *seriesGrouper, cases map[string]grouperCase) {
	t.Helper()
	for name, c := range cases {
		key, ok := g.group(perf.Task{PID: c.pid, Comm: c.comm, Cgroup: c.id})
		if ok != (c.want != nil) {
			t.Errorf("%s: profiled %v, want %v (key %q)", name, ok, c.want != nil, key)
			continue
		}
		if !ok {
			continue
		}
		s, found := g.seriesOf(key)
		if !found || s.app != c.want.app || !maps.Equal(s.labels, c.want.labels) {
			t.Errorf("%s: series %+v (found %v), want %+v", name, s, found, *c.want)
		}
	}
}

// Tasks in real cgroups named as systemd names them are grouped by their
// unit and command; other units' tasks are not profiled; with no unit
// selected every task is, by executable; the PID is never a label.
func TestSeriesOfUnitsAndTheWholeNode(t *testing.T) {
	m := writableCgroups(t)
	cgroups, err := discover.NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	unit := "ptest-" + randomHex(4) + ".service"
	other := "ptest-other-" + randomHex(4) + ".service"
	unitDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/"+unit)
	otherDir := discovertest.MakeCgroup(t, m.Unified, "/system.slice/nested.slice/"+other)
	inUnit, inOther := discovertest.Start(t, unitDir), discovertest.Start(t, otherDir)
	units, err := discover.NewUnits(unit)
	if err != nil {
		t.Fatal(err)
	}
	svc := unit[:len(unit)-len(".service")]
	g := newSeriesGrouper(&discover.Finder{Node: "n1", Units: units}, cgroups, "")
	cases := map[string]grouperCase{
		"in the unit": {inUnit, "sleep", cgroupID(t, unitDir),
			&agentSeries{svc, map[string]string{"node": "n1", "systemd_unit": unit, "comm": "sleep"}}},
		"another command in the unit": {inUnit, "worker{1}", cgroupID(t, unitDir),
			&agentSeries{svc, map[string]string{"node": "n1", "systemd_unit": unit, "comm": "worker_1_"}}},
		"in another unit":    {inOther, "sleep", cgroupID(t, otherDir), nil},
		"the idle task":      {0, "swapper/0", cgroupID(t, m.Unified), nil},
		"a cgroup long gone": {inOther, "sleep", 1 << 62, nil},
	}
	checkGroups(t, g, cases)
	checkGroups(t, g, cases) // from the cache, the same

	whole := newSeriesGrouper(&discover.Finder{Node: "n1"}, cgroups, "")
	checkGroups(t, whole, map[string]grouperCase{
		"a unit's process, by executable": {inOther, "sleep", cgroupID(t, otherDir),
			&agentSeries{"sleep", map[string]string{"node": "n1", "comm": "sleep"}}},
		"a name ingest cannot take": {inOther, "Web Content", cgroupID(t, otherDir),
			&agentSeries{"Web_Content", map[string]string{"node": "n1", "comm": "Web Content"}}},
	})
	// The kernel cuts comm at 15 bytes: the service is the executable's name.
	key, _ := whole.group(perf.Task{PID: inOther, Comm: "kube-controller", Exe: "/usr/local/bin/kube-controller-manager", Cgroup: cgroupID(t, otherDir)})
	if s, _ := whole.seriesOf(key); s.app != "kube-controller-manager" || s.labels["comm"] != "kube-controller" {
		t.Errorf("a cut command name: series %+v, want service kube-controller-manager with comm kube-controller", s)
	}
	// Answers not asked for in forgetAfter windows are forgotten; those
	// asked for stay.
	for range forgetAfter + 1 {
		g.startWindow()
		g.group(perf.Task{PID: inUnit, Comm: "sleep", Cgroup: cgroupID(t, unitDir)})
	}
	if _, kept := g.byID[cgroupID(t, unitDir)]; !kept || len(g.byID) != 1 {
		t.Errorf("after %d windows the grouper holds %d answers (the unit's kept: %v), want the unit's only", forgetAfter+1, len(g.byID), kept)
	}

	named := newSeriesGrouper(&discover.Finder{Node: "n1", Units: units}, cgroups, "checkout")
	checkGroups(t, named, map[string]grouperCase{
		"--application-name names every series": {inUnit, "sleep", cgroupID(t, unitDir),
			&agentSeries{"checkout", map[string]string{"node": "n1", "systemd_unit": unit, "comm": "sleep"}}},
	})
}

// On a machine whose systemd keeps its units in cgroup v1's name=systemd
// hierarchy only, every process is in the v2 root, so the v2 ID says
// nothing: the task's /proc/PID/cgroup finds its unit.
func TestSeriesOfAUnitOnlyInV1(t *testing.T) {
	m := writableCgroups(t)
	if m.Systemd == "" {
		t.Skip("no cgroup v1 name=systemd hierarchy here")
	}
	cgroups, err := discover.NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	unit := "ptest-v1-" + randomHex(4) + ".service"
	pid := discovertest.Start(t, discovertest.MakeCgroup(t, m.Systemd, "/system.slice/"+unit))
	pc, err := discover.ReadProcCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Unified != "/" {
		t.Skipf("the child's cgroup v2 is %q, not the root: cannot make a v1-only unit here", pc.Unified)
	}
	units, _ := discover.NewUnits(unit)
	g := newSeriesGrouper(&discover.Finder{Node: "n1", Units: units}, cgroups, "")
	checkGroups(t, g, map[string]grouperCase{
		"in the v1 unit": {pid, "sleep", cgroupID(t, m.Unified),
			&agentSeries{unit[:len(unit)-len(".service")], map[string]string{"node": "n1", "systemd_unit": unit, "comm": "sleep"}}},
		"the agent itself, in no unit": {os.Getpid(), "pyroscope", cgroupID(t, m.Unified), nil},
	})
}

// Containers are found by the pods the API server reports (a recorded
// session replayed): a container of a pod that comes later is not profiled
// until its pod is reported, then is, though its cgroup's earlier answer
// was cached; a deleted pod's container is dropped.
func TestSeriesOfContainersFollowThePods(t *testing.T) {
	m := writableCgroups(t)
	cgroups, err := discover.NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	dirs := map[string]string{}
	pids := map[string]int{}
	for _, pc := range [][2]string{{"web", "app"}, {"late", "app"}, {"db", "postgres"}} {
		dir := discovertest.MakeCgroup(t, m.Unified, containerCgroup(pc[0], pc[1]))
		dirs[pc[0]], pids[pc[0]] = dir, discovertest.Start(t, dir)
	}
	srv := newAPIReplay(t, "", nil)
	cfg := discover.KubeConfig{Server: srv.URL, InsecureSkipVerify: true}
	pods := watchPods(t, cfg)
	g := newSeriesGrouper(&discover.Finder{Node: recordedNode, Pods: pods}, cgroups, "")
	container := func(pod, name, svc string) *agentSeries {
		return &agentSeries{svc, map[string]string{"node": recordedNode, "namespace": recordedNamespace, "pod": pod,
			"container": name, "container_id": discovertest.ContainerID(pod, name), "comm": "sleep"}}
	}
	checkGroups(t, g, map[string]grouperCase{
		"web, annotated":    {pids["web"], "sleep", cgroupID(t, dirs["web"]), container("web", "app", "web-frontend")},
		"db, not annotated": {pids["db"], "sleep", cgroupID(t, dirs["db"]), container("db", "postgres", "ptest/postgres")},
		"late, not yet":     {pids["late"], "sleep", cgroupID(t, dirs["late"]), nil},
	})
	srv.openWatch()
	discovertest.Wait(t, pods.Changed, func() error {
		if _, ok := pods.Container(discovertest.ContainerID("late", "app")); !ok {
			return errors.New("late/app not reported yet")
		}
		if _, ok := pods.Container(discovertest.ContainerID("web", "app")); ok {
			return errors.New("web/app still there")
		}
		return nil
	})
	checkGroups(t, g, map[string]grouperCase{
		"web, deleted":   {pids["web"], "sleep", cgroupID(t, dirs["web"]), nil},
		"db, unchanged":  {pids["db"], "sleep", cgroupID(t, dirs["db"]), container("db", "postgres", "ptest/postgres")},
		"late, reported": {pids["late"], "sleep", cgroupID(t, dirs["late"]), container("late", "app", "late-svc")},
	})
}
