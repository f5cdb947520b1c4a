package perf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNoProcess is returned (wrapped) by Attach when the target does not exist.
var ErrNoProcess = errors.New("no such process")

// Bits of perf_event_attr that golang.org/x/sys/unix does not name.
const (
	// perfBitBuildID is attr.build_id (Linux 5.12+): MMAP2 records carry
	// the file's GNU build ID, where the kernel can read it, instead of
	// its device and inode.
	perfBitBuildID = 1 << 34
	// perfBitInheritThread is attr.inherit_thread (Linux 5.13+): inherit
	// the event into new threads only, not into forked processes.
	perfBitInheritThread = 1 << 35
)

// eventConfig is what every event of one Sampler shares. Attach settles it on
// the first event it opens and reuses it for the rest.
type eventConfig struct {
	freq     int
	children bool
	// system is one event per CPU for every task (AttachSystem): samples
	// carry the task's cgroup, nothing is inherited and idle time is not
	// sampled.
	system        bool
	excludeKernel bool // forced by perf_event_paranoid >= 2 without CAP_PERFMON
	inheritThread bool // false when the kernel predates inherit_thread
	noBuildID     bool // the kernel predates build IDs in MMAP2 records
}

func (c *eventConfig) attr() *unix.PerfEventAttr {
	attr := &unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Sample: uint64(c.freq),
		Sample_type: unix.PERF_SAMPLE_TID | unix.PERF_SAMPLE_TIME | unix.PERF_SAMPLE_CALLCHAIN |
			unix.PERF_SAMPLE_STACK_USER,
		// The top word of the user stack: the return address of a Go
		// function that has no frame (yet), which the kernel's
		// frame-pointer walk cannot see. See Sampler.sample.
		Sample_stack_user: 8,
		// Inherit makes the kernel copy the event into every thread (and,
		// without inherit_thread, process) the sampled thread creates, from
		// the clone itself, so no thread escapes between two scans of
		// /proc/PID/task. Task and comm records tell us which threads live;
		// MMAP2 records tell us every executable mapping as it is made, so
		// processes that exit before a window is written (a build's
		// compilers) and libraries loaded with dlopen symbolize.
		Bits: unix.PerfBitFreq | unix.PerfBitInherit | unix.PerfBitSampleIDAll |
			unix.PerfBitTask | unix.PerfBitComm | unix.PerfBitCommExec |
			unix.PerfBitMmap | unix.PerfBitMmap2 |
			unix.PerfBitExcludeHv | unix.PerfBitExcludeCallchainKernel | unix.PerfBitWatermark,
		Wakeup: ringDataSize / 4, // wake the reader when a quarter is full
	}
	attr.Size = uint32(unsafe.Sizeof(*attr))
	if c.excludeKernel {
		attr.Bits |= unix.PerfBitExcludeKernel
	}
	if c.system {
		attr.Sample_type |= unix.PERF_SAMPLE_CGROUP
		// A CPU's event follows whatever runs there: there is nothing to
		// inherit, and the idle task has no stack worth a sample.
		attr.Bits &^= unix.PerfBitInherit
		attr.Bits |= unix.PerfBitExcludeIdle
	} else if c.inheritThread && !c.children {
		attr.Bits |= perfBitInheritThread
	}
	if !c.noBuildID {
		attr.Bits |= perfBitBuildID
	}
	return attr
}

// open opens the cpu-clock event for thread tid on cpu. On the first call
// (first == true) it adapts the configuration to what the kernel and the
// caller's rights allow.
func (c *eventConfig) open(tid, cpu int, first bool) (int, error) {
	for {
		fd, err := unix.PerfEventOpen(c.attr(), tid, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == nil {
			return fd, nil
		}
		switch {
		case first && !c.excludeKernel && (err == unix.EACCES || err == unix.EPERM):
			// perf_event_paranoid >= 2: user-space samples only. Time in
			// system calls is then not sampled.
			c.excludeKernel = true
		case first && !c.noBuildID && err == unix.EINVAL:
			// Kernel older than 5.12: MMAP2 records name files by inode.
			c.noBuildID = true
		case first && c.inheritThread && !c.children && !c.system && err == unix.EINVAL:
			// Kernel older than 5.13: inherit into forks too and drop
			// their samples by pid.
			c.inheritThread = false
		default:
			return -1, err
		}
	}
}

// attachError turns the errno of perf_event_open into an error that says
// what to change.
func attachError(pid int, err error) error {
	switch err {
	case unix.ESRCH:
		return fmt.Errorf("perf: attaching to pid %d: %w", pid, ErrNoProcess)
	case unix.EACCES, unix.EPERM:
		paranoid := readParanoid()
		var fix string
		if paranoid >= 3 {
			fix = "kernel.perf_event_paranoid=" + strconv.Itoa(paranoid) +
				" forbids perf events to unprivileged users; lower it to 2 (sysctl -w kernel.perf_event_paranoid=2), or give this program CAP_PERFMON (Linux 5.8+) or CAP_SYS_ADMIN"
		} else {
			fix = "with kernel.perf_event_paranoid=" + strconv.Itoa(paranoid) +
				" the target must run as the same user as this program and be traceable by it (kernel.yama.ptrace_scope), or this program needs CAP_PERFMON (Linux 5.8+) or CAP_SYS_ADMIN (e.g. run as root)"
		}
		return fmt.Errorf("perf: not allowed to sample pid %d: %s: %w", pid, fix, err)
	case unix.ENOENT, unix.ENOSYS, unix.EOPNOTSUPP:
		return fmt.Errorf("perf: perf events are unavailable: the kernel lacks CONFIG_PERF_EVENTS or a seccomp profile (containers) blocks perf_event_open: %w", err)
	case unix.EMFILE, unix.ENFILE:
		return fmt.Errorf("perf: out of file descriptors (one per thread and CPU at attach); raise the limit with ulimit -n: %w", err)
	}
	return fmt.Errorf("perf: perf_event_open for pid %d: %w", pid, err)
}

// systemAttachError is attachError for the per-CPU events of AttachSystem.
func systemAttachError(cpu int, err error) error {
	switch err {
	case unix.EACCES, unix.EPERM:
		return fmt.Errorf("perf: not allowed to sample every CPU: kernel.perf_event_paranoid=%d allows system-wide perf events only to a program with CAP_PERFMON (Linux 5.8+) or CAP_SYS_ADMIN; grant one of them (e.g. run as root, or add it to the container's or unit's capabilities), or lower the setting to 0 (sysctl -w kernel.perf_event_paranoid=0): %w",
			readParanoid(), err)
	case unix.EINVAL:
		return fmt.Errorf("perf: the kernel refused a CPU-wide event with the cgroup in each sample: that needs Linux 5.7+ built with CONFIG_CGROUP_PERF: %w", err)
	case unix.ENODEV, unix.ENXIO:
		return fmt.Errorf("perf: CPU %d went offline while attaching: %w", cpu, err)
	case unix.ENOENT, unix.ENOSYS, unix.EOPNOTSUPP, unix.EMFILE, unix.ENFILE:
		return attachError(0, err)
	}
	return fmt.Errorf("perf: perf_event_open for CPU %d: %w", cpu, err)
}

func readParanoid() int {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return 2 // the kernel's default
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 2
	}
	return n
}

// onlineCPUs lists the CPUs that can run the target's threads.
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("perf: listing CPUs: %w", err)
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

// parseCPUList parses the kernel's CPU list format, e.g. "0-3,6,8-9".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("perf: bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("perf: bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
