package discover

import (
	"maps"
	"strings"
	"testing"
)

const (
	cid1 = "4f2ad3c0b5a5e1f6bd5c1c0e4a8c0f1e9d2b7a6c5d4e3f2a1b0c9d8e7f6a5b4c"
	uid1 = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
)

func TestParseContainerCgroup(t *testing.T) {
	uidSystemd := strings.ReplaceAll(uid1, "-", "_")
	for _, tc := range []struct {
		name, path string
		want       ContainerCgroup
		ok         bool
	}{
		{"containerd, systemd driver, burstable",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/cri-containerd-" + cid1 + ".scope",
			ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"containerd, systemd driver, guaranteed",
			"/kubepods.slice/kubepods-pod" + uidSystemd + ".slice/cri-containerd-" + cid1 + ".scope",
			ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"CRI-O, systemd driver, besteffort",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-" + cid1 + ".scope",
			ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"CRI-O's conmon is not the container",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidSystemd + ".slice/crio-conmon-" + cid1 + ".scope",
			ContainerCgroup{}, false},
		{"Docker (cri-dockerd), systemd driver",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidSystemd + ".slice/docker-" + cid1 + ".scope",
			ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"a process below the container's cgroup",
			"/kubepods.slice/kubepods-pod" + uidSystemd + ".slice/cri-containerd-" + cid1 + ".scope/init.scope",
			ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"cgroupfs driver, burstable", "/kubepods/burstable/pod" + uid1 + "/" + cid1, ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"cgroupfs driver, guaranteed", "/kubepods/pod" + uid1 + "/" + cid1, ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"cgroupfs driver, CRI-O", "/kubepods/besteffort/pod" + uid1 + "/crio-" + cid1, ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"a kind node below its own container",
			"/system.slice/docker-" + strings.Repeat("ab", 32) + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidSystemd + ".slice/cri-containerd-" + cid1 + ".scope",
			ContainerCgroup{ID: cid1, PodUID: uid1}, true},
		{"a static pod's UID is its config hash",
			"/kubepods/burstable/pod0123456789abcdef0123456789abcdef/" + cid1,
			ContainerCgroup{ID: cid1, PodUID: "0123456789abcdef0123456789abcdef"}, true},
		{"plain Docker, not in a pod (the seed's unit)", "/system.slice/docker-" + cid1 + ".scope", ContainerCgroup{ID: cid1}, true},
		{"the pod's own cgroup holds no container", "/kubepods/burstable/pod" + uid1, ContainerCgroup{}, false},
		{"a bare ID outside a pod is not taken", "/some/" + cid1, ContainerCgroup{}, false},
		{"a short ID", "/kubepods/pod" + uid1 + "/abc123", ContainerCgroup{}, false},
		{"upper case is not an ID", "/kubepods/pod" + uid1 + "/" + strings.ToUpper(cid1), ContainerCgroup{}, false},
		{"a unit", "/system.slice/sshd.service", ContainerCgroup{}, false},
		{"root", "/", ContainerCgroup{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseContainerCgroup(tc.path)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseContainerCgroup(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestPodsSetReplaceChanged(t *testing.T) {
	var p Pods
	changed := p.Changed()
	c := Container{Namespace: "ns", Pod: "web-0", PodUID: uid1, Name: "app", ID: cid1, ServiceName: "ns/app"}
	p.set(uid1, []Container{c})
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by a new pod")
	}
	if got, ok := p.Container(cid1); !ok || got.Pod != "web-0" {
		t.Fatalf("Container(%s) = %+v, %v", cid1, got, ok)
	}
	p.set("pending-uid", []Container{}) // no container statuses yet
	if p.Len() != 2 {
		t.Errorf("Len = %d, want 2 (one pending)", p.Len())
	}
	p.replace(map[string][]Container{"pending-uid": {}})
	if _, ok := p.Container(cid1); ok || p.Len() != 1 {
		t.Errorf("after a list without the pod: Container found %v, Len %d", ok, p.Len())
	}
	want := map[string]string{"namespace": "ns", "pod": "web-0", "container": "app", "container_id": cid1, "service_name": "ns/app"}
	if got := c.Labels(); !maps.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
}

// TestContainersInRealCgroups lays out cgroups as the kubelet does with
// each runtime and driver, runs a process in each, and checks the Finder
// labels each by its pod once the pod's container IDs are known, and not
// before (a pod without container statuses yet).
func TestContainersInRealCgroups(t *testing.T) {
	m := writableMounts(t)
	type ctr struct {
		path string
		c    Container
	}
	var ctrs []ctr
	for i, layout := range []func(uid, id string) string{
		func(uid, id string) string {
			return "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope"
		},
		func(uid, id string) string {
			return "/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/crio-" + id + ".scope"
		},
		func(uid, id string) string {
			return "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/docker-" + id + ".scope"
		},
		func(uid, id string) string { return "/kubepods/burstable/pod" + uid + "/" + id },
	} {
		uid := randHex(4) + "-" + randHex(2) + "-" + randHex(2) + "-" + randHex(2) + "-" + randHex(6)
		id := randHex(32)
		c := Container{Namespace: "ns", Pod: "pod-" + string(rune('a'+i)), PodUID: uid, Name: "app", ID: id, ServiceName: "ns/app"}
		if i == 1 {
			c.ServiceName = "from-annotation"
		}
		ctrs = append(ctrs, ctr{layout(uid, id), c})
	}
	cgroups, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	pids := make([]int, len(ctrs))
	for i, c := range ctrs {
		pids[i] = startChild(t, makeCgroup(t, m.Unified, c.path))
	}
	outside := startChild(t, makeCgroup(t, m.Unified, "/system.slice/ptest-"+randHex(5)+".service"))

	var pods Pods
	f := Finder{Node: "n1", Pods: &pods}
	for i, c := range ctrs {
		path := procCgroup(t, pids[i])
		if _, ok := f.Target(path); ok {
			t.Errorf("%s is a target before its pod reported the container", path)
		}
		pods.set(c.c.PodUID, []Container{c.c})
	}
	for i, c := range ctrs {
		tgt := sampleTarget(t, &f, cgroups, pids[i])
		want := c.c.Labels()
		want["node"] = "n1"
		if !maps.Equal(tgt.Labels, want) || tgt.Cgroup != c.path {
			t.Errorf("process %d in %s: target %+v, want labels %v", pids[i], c.path, tgt, want)
		}
	}
	if tgt, ok := f.Target(procCgroup(t, outside)); ok {
		t.Errorf("process %d outside every pod is a target: %+v", outside, tgt)
	}
	pods.set(ctrs[0].c.PodUID, nil) // the pod ended
	if _, ok := f.Target(procCgroup(t, pids[0])); ok {
		t.Errorf("the container of a deleted pod is still a target")
	}
}
