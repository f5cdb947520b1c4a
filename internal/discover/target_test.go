package discover

import (
	"maps"
	"strings"
	"testing"
)

func TestFinderTarget(t *testing.T) {
	units, _ := NewUnits("nginx.service")
	var pods Pods
	pods.set(uid1, []Container{{Namespace: "ns", Pod: "web-0", PodUID: uid1, Name: "app", ID: cid1, ServiceName: "ns/app"}})
	podPath := "/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uid1, "-", "_") + ".slice/cri-containerd-" + cid1 + ".scope"
	both := &Finder{Node: "n1", Units: units, Pods: &pods}
	whole := &Finder{Node: "n1"}
	for _, tc := range []struct {
		name string
		f    *Finder
		path string
		want map[string]string // nil: no target
	}{
		{"a selected unit", both, "/system.slice/nginx.service", map[string]string{"node": "n1", "systemd_unit": "nginx.service", "service_name": "nginx"}},
		{"a known container", both, podPath, map[string]string{"node": "n1", "namespace": "ns", "pod": "web-0", "container": "app", "container_id": cid1, "service_name": "ns/app"}},
		{"a unit not selected", both, "/system.slice/cron.service", nil},
		{"a container no pod has", both, "/kubepods/pod" + uid1 + "/" + strings.Repeat("0", 64), nil},
		{"the whole node: any cgroup, labeled by node only", whole, "/system.slice/cron.service", map[string]string{"node": "n1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt, ok := tc.f.Target(tc.path)
			if ok != (tc.want != nil) || ok && (!maps.Equal(tgt.Labels, tc.want) || tgt.Cgroup != tc.path) {
				t.Errorf("Target(%q) = %+v, %v; want labels %v", tc.path, tgt, ok, tc.want)
			}
		})
	}
}
