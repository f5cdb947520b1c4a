package perf

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// SystemOptions say how to sample every CPU of the machine.
type SystemOptions struct {
	Frequency int // Hz, DefaultFrequency when 0
	// OnProblem, when set, is told of each file of a process that cannot
	// be symbolized, once per file and cause, as Options.OnProblem.
	OnProblem func(error)
}

// AttachSystem samples every task on every online CPU (CPUs brought online
// later are not sampled). Each sample carries its task's cgroup ID in the
// hierarchy the perf_event controller is bound to: the cgroup v2 one, unless
// /proc/cgroups binds perf_event to a v1 hierarchy. PIDs are those of the
// caller's PID namespace, so an agent in a container needs the host's
// (hostPID).
//
// It needs CAP_PERFMON (or CAP_SYS_ADMIN), or kernel.perf_event_paranoid
// <= 0; without them the error says so and wraps os.ErrPermission.
func AttachSystem(opts SystemOptions) (*Sampler, error) {
	if opts.Frequency == 0 {
		opts.Frequency = DefaultFrequency
	}
	if opts.Frequency < 0 || opts.Frequency > 10000 {
		return nil, fmt.Errorf("perf: SystemOptions.Frequency must be between 1 and 10000 Hz, got %d", opts.Frequency)
	}
	if err := hostPIDNamespace(); err != nil {
		return nil, err
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	s := newSampler(eventConfig{freq: opts.Frequency, system: true}, opts.OnProblem)
	for i, cpu := range cpus {
		fd, err := s.cfg.open(-1, cpu, i == 0)
		if err != nil {
			s.release()
			return nil, systemAttachError(cpu, err)
		}
		s.fds = append(s.fds, fd)
		r, err := mapRing(fd)
		if err != nil {
			s.release()
			return nil, err
		}
		s.rings = append(s.rings, r)
		s.leaders = append(s.leaders, fd)
	}
	if err := s.start(); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// hostPIDNamespace fails when this process runs in a PID namespace below
// another one (a container without the host's PIDs): perf would report the
// tasks outside it as pid 0, and /proc would not show them.
func hostPIDNamespace() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("perf: reading /proc/self/status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if pids, ok := strings.CutPrefix(line, "NSpid:"); ok {
			if f := strings.Fields(pids); len(f) > 1 {
				return fmt.Errorf("perf: sampling every CPU needs the host's PID namespace, and this process is pid %s in a nested one (pid %s outside): run it with the host's PIDs (hostPID: true in a pod, --pid=host for docker)", f[len(f)-1], f[0])
			}
		}
	}
	return nil // kernels before 4.1 have no NSpid line
}

// A Task is what a sample was taken in.
type Task struct {
	PID  int
	Comm string // the process's command name (PERF_RECORD_COMM / /proc/PID/comm)
	// Exe is the path of the process's executable: as the process sees it
	// when it came from the exec's first mapping, as this process sees it
	// from /proc/PID/exe for a process older than the Sampler (a
	// container's files then lie under its root's mount point). Its base
	// name is the executable's name, not cut to 15 bytes like Comm. "" for
	// kernel threads and where it cannot be read.
	Exe    string
	Cgroup uint64 // cgroup v2 ID from PERF_SAMPLE_CGROUP (a discover.Cgroups ID); 0 from Attach
}

// A Group is one series of a window: the samples of the tasks that the
// group function gave one key.
type Group struct {
	Key  string
	Data []byte // gzipped pprof CPU profile, like Profile writes, without a per-sample pid label
}

// ProfileGroups writes the samples taken since the previous call (of it or
// of Profile) as one profile per key, sorted by key, each covering [from,
// until). group is called once for each distinct task of the window, outside
// the Sampler's lock (callers cache by Cgroup); the samples of a task it
// rejects (ok false) are left out and counted in Stats.Dropped. A key with
// no samples has no Group.
func (s *Sampler) ProfileGroups(from, until time.Time, group func(Task) (key string, ok bool)) ([]Group, error) {
	stacks, err := s.window("ProfileGroups")
	if err != nil {
		return nil, err
	}
	type task struct {
		proc   *process
		cgroup uint64
	}
	type answer struct {
		b  *profileBuilder
		ok bool
	}
	answers := make(map[task]answer)
	builders := make(map[string]*profileBuilder)
	var dropped uint64
	for k, n := range stacks {
		t := task{k.proc, k.cgroup}
		a, seen := answers[t]
		if !seen {
			var key string
			key, a.ok = group(Task{PID: k.proc.pid, Comm: k.proc.name(), Exe: k.proc.exePath(), Cgroup: k.cgroup})
			if a.ok {
				a.b = builders[key]
				if a.b == nil {
					a.b = newProfileBuilder(s.periodNs, from, until)
					builders[key] = a.b
				}
			}
			answers[t] = a
		}
		if !a.ok {
			dropped += uint64(n)
			continue
		}
		a.b.add(k, n)
	}
	if dropped > 0 {
		s.mu.Lock()
		s.stats.Dropped += dropped
		s.mu.Unlock()
	}
	groups := make([]Group, 0, len(builders))
	for key, b := range builders {
		var buf bytes.Buffer
		if err := b.p.Write(&buf); err != nil {
			return nil, fmt.Errorf("perf: writing the profile of %q: %w", key, err)
		}
		groups = append(groups, Group{Key: key, Data: buf.Bytes()})
	}
	slices.SortFunc(groups, func(a, b Group) int { return strings.Compare(a.Key, b.Key) })
	return groups, nil
}
