package main

import (
	"maps"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
)

// seriesGrouper says which series, if any, the samples of a task belong
// to: the agent's group function for the system-wide sampler. A task's
// target comes from its cgroup (the cgroup v2 ID in each perf sample), so a
// unit or container that starts after the agent, and a process that joins
// one, are found on their first sample without the agent watching anything.
//
// Answers are cached by cgroup ID, which the kernel never reuses; the
// answers about containers are dropped whenever the pods change (a pod
// reported its container late, or ended). Where the v2 ID says nothing
// (v1-only systemd, where units live in the name=systemd hierarchy and
// every process sits in the v2 root; no cgroup v2 mount; a kernel that does
// not report cgroups), the task's /proc/PID/cgroup is read instead, once
// per task and window.
//
// A series is a target and a command name (comm): labels node;
// systemd_unit for a unit; namespace, pod, container and container_id for
// a container; comm; never the PID, which would make a series of every
// process. Its service name is the target's (the unit without its suffix,
// the pod's annotation or namespace/container), else the command name
// (the whole node, by executable), unless --application-name names one
// service for all.
type seriesGrouper struct {
	finder   *discover.Finder
	cgroups  *discover.Cgroups // nil without a cgroup v2 mount
	readProc func(pid int) (discover.ProcCgroup, error)
	app      string // every series' service name; "" for the target's

	mu      sync.Mutex
	window  int // windows started, for pruning byID
	byID    map[uint64]answer
	changed <-chan struct{} // the pods' Changed when byID was last cleaned
	byPID   map[int]answer  // read from /proc this window
	series  map[string]agentSeries
}

// An answer is what a cgroup is profiled as.
type answer struct {
	target    discover.Target
	ok        bool // a target
	container bool // a container's cgroup: the pods may change the answer
	root      bool // the v2 root: says nothing on a v1-only machine
	used      int  // the window it was last asked for in
}

// forgetAfter is how many windows an answer is kept without being asked
// for: a node that starts and ends containers for months would otherwise
// keep the answer of every cgroup it ever saw.
const forgetAfter = 20

// agentSeries is one series of the agent's: the service name and the
// labels its windows are pushed with.
type agentSeries struct {
	app    string
	labels map[string]string
}

func newSeriesGrouper(f *discover.Finder, cg *discover.Cgroups, app string) *seriesGrouper {
	g := &seriesGrouper{finder: f, cgroups: cg, readProc: discover.ReadProcCgroup, app: app, byID: map[uint64]answer{}}
	if f.Pods != nil {
		g.changed = f.Pods.Changed()
	}
	g.startWindow()
	return g
}

// startWindow forgets the answers read from /proc (a process may have
// moved since), the series of the last window, and the answers about
// cgroups not asked for in forgetAfter windows.
func (g *seriesGrouper) startWindow() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.window++
	g.byPID = map[int]answer{}
	g.series = map[string]agentSeries{}
	for id, a := range g.byID {
		if g.window-a.used > forgetAfter {
			delete(g.byID, id)
		}
	}
}

// seriesOf returns the series a window's group key names, as group
// returned it during this window.
func (g *seriesGrouper) seriesOf(key string) (agentSeries, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.series[key]
	return s, ok
}

// group returns the key of the series the task's samples go to, and false
// when the task is not profiled. PID 0 is the CPUs' idle tasks, which
// are no one's work. Outside any unit or container the service is the
// executable's name (exe's base name: comm is cut at 15 bytes, so
// kube-controller-manager would be kube-controller), else comm.
func (g *seriesGrouper) group(t perf.Task) (string, bool) {
	pid, comm, cgroup := t.PID, t.Comm, t.Cgroup
	if pid <= 0 {
		return "", false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.answerFor(pid, cgroup)
	if !a.ok {
		return "", false
	}
	labels := maps.Clone(a.target.Labels)
	comm = labelValue(comm)
	labels["comm"] = comm
	app := labels["service_name"]
	delete(labels, "service_name") // the window's App carries it
	switch {
	case g.app != "":
		app = g.app
	case app == "" && t.Exe != "":
		app = filepath.Base(t.Exe)
	case app == "":
		app = comm
	}
	app = serviceName(app)
	key := upload.SeriesName(app, labels)
	if _, ok := g.series[key]; !ok {
		g.series[key] = agentSeries{app: app, labels: labels}
	}
	return key, true
}

// answerFor finds the task's target: by its cgroup ID, else from
// /proc/PID/cgroup.
func (g *seriesGrouper) answerFor(pid int, cgroup uint64) answer {
	if g.changed != nil {
		select {
		case <-g.changed:
			g.changed = g.finder.Pods.Changed()
			for id, a := range g.byID {
				if a.container {
					delete(g.byID, id)
				}
			}
		default:
		}
	}
	if cgroup != 0 && g.cgroups != nil {
		a, ok := g.byID[cgroup]
		if !ok {
			if path, err := g.cgroups.Path(cgroup); err == nil {
				a = g.answerForPath(path)
				a.root = path == "/"
				ok = true
			}
		}
		if ok {
			a.used = g.window
			g.byID[cgroup] = a
			if a.ok || !a.root {
				return a
			}
		}
	}
	if a, ok := g.byPID[pid]; ok {
		return a
	}
	var a answer
	if pc, err := g.readProc(pid); err == nil {
		for _, path := range []string{pc.Unified, pc.Systemd} {
			if path != "" {
				if a = g.answerForPath(path); a.ok {
					break
				}
			}
		}
	}
	g.byPID[pid] = a
	return a
}

func (g *seriesGrouper) answerForPath(path string) answer {
	t, ok := g.finder.Target(path)
	_, container := discover.ParseContainerCgroup(path)
	return answer{target: t, ok: ok, container: container}
}

// labelValue makes s a label value every backend stores: the characters
// that break Pyroscope's app{k=v} series syntax (and control characters)
// become '_'; an empty value becomes "unknown".
func labelValue(s string) string {
	return sanitize(s, "{},=")
}

// serviceName makes s an application name for every backend: as
// labelValue, and without blanks or quotes, which the ingest API's name
// parameter does not take.
func serviceName(s string) string {
	return sanitize(s, "{},= \t\"")
}

func sanitize(s, bad string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(bad, r) {
			return '_'
		}
		return r
	}, s)
}
