package discover

import (
	"strings"
	"sync"
)

// ContainerCgroup is a container named by a cgroup path, as the kubelet and
// the container runtimes lay them out:
//
//	systemd driver: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid, _ for ->.slice/cri-containerd-<id>.scope
//	                (crio-<id>.scope for CRI-O, docker-<id>.scope for Docker)
//	cgroupfs driver: /kubepods/burstable/pod<uid>/<id> (crio-<id> for CRI-O)
//
// Guaranteed pods sit directly under kubepods; the tree may itself sit
// below a prefix (kubelet.slice, a kind node's container).
type ContainerCgroup struct {
	ID     string // the container ID, 64 hex digits
	PodUID string // the pod's UID; "" for a container outside any pod
}

// ParseContainerCgroup finds the container a cgroup path lies in, if any.
// Processes in a cgroup below the container's (a container that runs
// systemd) are in that container too.
func ParseContainerCgroup(path string) (ContainerCgroup, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		id, ok := containerID(parts[i], i > 0 && podUID(parts[i-1]) != "")
		if !ok {
			continue
		}
		c := ContainerCgroup{ID: id}
		if i > 0 {
			c.PodUID = podUID(parts[i-1])
		}
		return c, true
	}
	return ContainerCgroup{}, false
}

// containerID takes the ID from a container's cgroup name: a runtime's
// scope (systemd driver) or, in a pod's cgroup, a bare ID or crio-<id>
// (cgroupfs driver). CRI-O's conmon-<id> scopes are the monitor, not the
// container.
func containerID(name string, inPod bool) (string, bool) {
	if rest, ok := strings.CutSuffix(name, ".scope"); ok {
		for _, prefix := range []string{"cri-containerd-", "crio-", "docker-"} {
			if id, ok := strings.CutPrefix(rest, prefix); ok && isContainerID(id) {
				return id, true
			}
		}
		return "", false
	}
	if !inPod {
		return "", false
	}
	id := strings.TrimPrefix(name, "crio-")
	return id, isContainerID(id)
}

// podUID takes the pod UID from a pod's cgroup name: kubepods-pod<uid>.slice,
// kubepods-burstable-pod<uid>.slice, kubepods-besteffort-pod<uid>.slice (with
// a prefix under a nested kubelet: kubelet-kubepods-pod<uid>.slice) with
// the UID's dashes as underscores (systemd driver), or pod<uid> (cgroupfs).
func podUID(name string) string {
	var uid string
	if rest, ok := strings.CutSuffix(name, ".slice"); ok {
		i := strings.LastIndex(rest, "-pod")
		if i < 0 || !strings.Contains(rest[:i], "kubepods") {
			return ""
		}
		uid = strings.ReplaceAll(rest[i+len("-pod"):], "_", "-")
	} else if rest, ok := strings.CutPrefix(name, "pod"); ok {
		uid = rest
	}
	if !isPodUID(uid) {
		return ""
	}
	return uid
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isPodUID accepts a UUID, and the 32 hex digits the kubelet uses as the UID
// of a static pod (its config hash).
func isPodUID(s string) bool {
	if len(s) != 36 && len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) && !(s[i] == '-' && len(s) == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			return false
		}
	}
	return true
}

func isHex(b byte) bool { return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' }

// Container is what the API server says of a container on this node.
type Container struct {
	Namespace string
	Pod       string
	PodUID    string
	Name      string // the container's name in the pod spec
	ID        string // without the runtime's scheme (containerd://)
	// PodLabels are the pod's labels, for relabeling; they are not series
	// labels as they are (their keys hold dots and slashes).
	PodLabels map[string]string
	// ServiceName is the pod's pyroscope.io/service_name annotation, else
	// namespace/container (Grafana Alloy's convention).
	ServiceName string
}

// ServiceNameAnnotation names a pod's service for its profiles.
const ServiceNameAnnotation = "pyroscope.io/service_name"

// Labels are the series labels of the container's profiles.
func (c Container) Labels() map[string]string {
	return map[string]string{
		"namespace":    c.Namespace,
		"pod":          c.Pod,
		"container":    c.Name,
		"container_id": c.ID,
		"service_name": c.ServiceName,
	}
}

// Pods holds the pods of one node and finds a container by its ID. The
// zero value is empty and ready; [PodWatch] keeps one up to date.
type Pods struct {
	mu          sync.RWMutex
	byUID       map[string][]Container
	byContainer map[string]Container
	changed     chan struct{}
}

// Container is the container with the given ID (64 hex digits, as in its
// cgroup path), if a pod on this node has it now.
func (p *Pods) Container(id string) (Container, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	c, ok := p.byContainer[id]
	return c, ok
}

// Len is the number of pods held.
func (p *Pods) Len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.byUID)
}

// Changed is closed at the next change of the pods held. A caller that
// caches lookups drops its cache then; a test waits on it instead of
// sleeping.
func (p *Pods) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// set replaces a pod's containers; none removes the pod.
func (p *Pods) set(uid string, cs []Container) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(uid, cs)
	p.notifyLocked()
}

// replace makes the pods exactly those given (after a list).
func (p *Pods) replace(pods map[string][]Container) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid := range p.byUID {
		if _, ok := pods[uid]; !ok {
			p.setLocked(uid, nil)
		}
	}
	for uid, cs := range pods {
		p.setLocked(uid, cs)
	}
	p.notifyLocked()
}

func (p *Pods) setLocked(uid string, cs []Container) {
	if p.byUID == nil {
		p.byUID = map[string][]Container{}
		p.byContainer = map[string]Container{}
	}
	for _, c := range p.byUID[uid] {
		delete(p.byContainer, c.ID)
	}
	delete(p.byUID, uid)
	if cs == nil {
		return
	}
	p.byUID[uid] = cs
	for _, c := range cs {
		p.byContainer[c.ID] = c
	}
}

func (p *Pods) notifyLocked() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}
