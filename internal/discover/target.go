package discover

import "maps"

// Target is what the processes of one cgroup are profiled as.
type Target struct {
	Cgroup string // the cgroup's path from its hierarchy's root
	// Labels of the target's series: node; systemd_unit for a unit;
	// namespace, pod, container, container_id for a container; and
	// service_name (the unit without its suffix, or the pod's
	// pyroscope.io/service_name annotation, else namespace/container).
	// A whole-node target has node alone: the agent names it by executable.
	Labels map[string]string
}

// Finder says which target, if any, a cgroup belongs to. It decides from
// the path alone (and the pods known now), so it needs no watching of the
// cgroup tree: a unit that starts after the agent, a process that joins a
// unit, a container that starts, are found on their first sample.
//
// With neither Units nor Pods every cgroup is a target: the whole node.
type Finder struct {
	Node  string
	Units *Units // nil: no systemd units selected
	Pods  *Pods  // nil: Kubernetes discovery off
}

// Target is the target the cgroup at path (from /proc/PID/cgroup, or
// [Cgroups.Path] of a sample's cgroup ID) belongs to. A container whose pod
// the API server has not reported yet (or not its container ID) is no target
// until it has: callers that cache answers drop them on [Pods.Changed].
func (f *Finder) Target(path string) (Target, bool) {
	t := Target{Cgroup: path, Labels: map[string]string{"node": f.Node}}
	if f.Pods != nil {
		if cc, ok := ParseContainerCgroup(path); ok {
			if c, ok := f.Pods.Container(cc.ID); ok {
				maps.Copy(t.Labels, c.Labels())
				return t, true
			}
		}
	}
	if f.Units != nil {
		if unit, ok := f.Units.Unit(path); ok {
			maps.Copy(t.Labels, UnitLabels(unit))
			return t, true
		}
	}
	return t, f.Units == nil && f.Pods == nil
}
