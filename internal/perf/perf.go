// Package perf samples the CPU use of any Linux process tree, or of the
// whole machine, with perf events (software cpu-clock, so it works in VMs
// without a hardware PMU) and the kernel's frame-pointer unwinding of user
// stacks, and writes each window as a pprof CPU profile symbolized through
// internal/symbolize. It needs no cgo, eBPF or external tools, only the
// rights perf_event_open grants.
//
// Threads are followed with inherited events: Attach opens one event per
// existing thread and CPU, and the kernel copies them into every thread (and
// with Options.Children, every process) created afterwards, at clone time.
// Re-scanning /proc/PID/task instead would miss threads that live shorter
// than the scan interval and sample new ones late.
//
// Memory maps are followed the same way: the kernel reports every
// executable mapping as it is made (PERF_RECORD_MMAP2, with the file's
// build ID), and forks and execs as they happen, so the sampler knows the
// map of a process that lived a few milliseconds, long after it exited;
// /proc/PID/maps is read only for the state at attach. All CPUs' records
// are taken in time order.
//
// # The whole machine
//
// AttachSystem, for a node agent, opens one event per online CPU for every
// task (pid -1) and has the kernel put the task's cgroup v2 ID in each
// sample (PERF_SAMPLE_CGROUP, Linux 5.7+); ProfileGroups splits a window by
// what the caller makes of each task, such as the systemd unit or
// container its cgroup belongs to. The fork, exec, comm and mmap records of
// every task come with it, so a process started after attach is known, maps
// and name, from its exec, however short it lives. A process that existed
// before is looked at only when its first sample arrives (or when it
// forks): its /proc/PID/maps, comm and threads are read then. A process
// that never runs costs nothing, and one that stops running is forgotten
// after a few windows.
//
// The alternatives cost more as targets or idle processes grow. Events
// per cgroup (PERF_FLAG_PID_CGROUP) need an event per target and CPU,
// opened only once the agent has noticed the new cgroup, so a unit's or
// container's first moments are missed, and its processes' maps still have
// to come from somewhere: events per CPU for the records. Events per
// process must be attached to each process and thread (inheritance
// covers only the tree below an attached one, so every other new process
// is found by polling /proc, late or never) and hold descriptors for every
// idle one. One event per CPU costs the same for ten processes as for ten
// thousand, and its records name every process as it starts.
package perf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/symbolize"
)

// DefaultFrequency is the sampling frequency when Options.Frequency is 0.
// It is 99 Hz, not 100, so that the sampling period (10.1 ms) divides no
// common timer period (1, 2, 5, 10, 20, 100 ms): work driven by such a
// timer would otherwise be sampled at the same phase of its cycle every
// time, and a program spending 7 ms of every 10 in one function and 3 in
// another could show 100% in one. perf record uses 99 Hz for this reason.
const DefaultFrequency = 99

// Options say what to sample.
type Options struct {
	PID       int  // target process; all its threads, including threads created after attach
	Children  bool // also follow child processes (the process tree) created after attach
	Frequency int  // Hz, DefaultFrequency when 0
	// OnProblem, when set, is told of each file of the target that cannot
	// be symbolized (unreadable, over a limit, a link out of the target's
	// root), once per file and cause; see symbolize.Symbolizer.OnProblem.
	OnProblem func(error)
}

// Stats are counters since Attach.
type Stats struct {
	Samples  uint64 // samples read from the kernel
	Lost     uint64 // records (samples, mappings, forks, exits) the kernel dropped because a buffer was full
	Mappings uint64 // executable mappings the kernel reported (PERF_RECORD_MMAP2)
	Threads  int    // threads being sampled now (AttachSystem: of processes sampled so far)
	// Processes is how many process images are kept for symbolization
	// beyond the current window: one per live process (AttachSystem: per
	// live process sampled at least once, or started after attach). An
	// exited one is freed once the window holding its last samples is
	// written.
	Processes int
	// Dropped counts the samples ProfileGroups left out because the group
	// function rejected their task.
	Dropped uint64
}

// A Sampler samples one process (tree), or the whole machine. Its methods
// are safe for concurrent use.
type Sampler struct {
	opts     Options
	periodNs int64
	cfg      eventConfig
	fds      []int   // one event per (thread at attach, CPU)
	rings    []*ring // one per CPU
	leaders  []int   // per CPU, the event whose buffer is rings[i]
	wakeFd   int     // eventfd that interrupts the reader's poll
	sym      *symbolize.Symbolizer

	mu      sync.Mutex
	closed  bool
	stats   Stats
	stacks  map[stackKey]int64
	procs   map[int]*process     // by pid: the current memory map
	threads map[int]map[int]bool // live threads by pid
	done    chan struct{}        // closed when threads becomes empty
	pollFds []unix.PollFd        // reader goroutine only
	windows uint64               // windows written so far

	loopDone chan struct{}
}

// A process is one image of a pid: exec replaces it with a new one. The
// reader goroutine adds mappings to sym while Profile looks addresses up in
// it; symbolize.Process is safe for that.
type process struct {
	pid int
	sym *symbolize.Process
	// comm is the main thread's name and exe the executable's path, nil
	// until an exec's first mapping names it. The reader sets them while
	// ProfileGroups reads them.
	comm, exe atomic.Pointer[string]
	seen      uint64 // the window it was last sampled in (or made in); s.mu
}

// newProcess returns an image of pid made in the current window. s.mu must
// be held.
func (s *Sampler) newProcess(pid int, sym *symbolize.Process, comm string, exe *string) *process {
	p := &process{pid: pid, sym: sym, seen: s.windows}
	p.comm.Store(&comm)
	p.exe.Store(exe)
	return p
}

// name is the process's command name.
func (p *process) name() string { return *p.comm.Load() }

// exePath is the path of the process's executable, or "".
func (p *process) exePath() string {
	if exe := p.exe.Load(); exe != nil {
		return *exe
	}
	return ""
}

type stackKey struct {
	proc   *process
	cgroup uint64 // the task's cgroup ID (AttachSystem), else 0
	stack  string // user-space addresses, leaf first, 8 bytes each
	// top is the word at the user stack pointer when it may be the return
	// address the frame-pointer walk skipped (see addFramelessCaller), else 0.
	top uint64
}

// Attach starts sampling opts.PID. It fails with an error wrapping
// ErrNoProcess when the process does not exist, and with one naming
// perf_event_paranoid, CAP_PERFMON and the same-user rule (wrapping
// os.ErrPermission) when the caller lacks the rights.
func Attach(opts Options) (*Sampler, error) {
	if opts.PID <= 0 {
		return nil, fmt.Errorf("perf: Options.PID must be a process ID, got %d", opts.PID)
	}
	if opts.Frequency == 0 {
		opts.Frequency = DefaultFrequency
	}
	if opts.Frequency < 0 || opts.Frequency > 10000 {
		return nil, fmt.Errorf("perf: Options.Frequency must be between 1 and 10000 Hz, got %d", opts.Frequency)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task", opts.PID)); err != nil {
		return nil, fmt.Errorf("perf: attaching to pid %d: %w", opts.PID, ErrNoProcess)
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	s := newSampler(eventConfig{freq: opts.Frequency, children: opts.Children, inheritThread: true}, opts.OnProblem)
	s.opts = opts
	if err := s.openAll(cpus); err != nil {
		s.release()
		return nil, err
	}
	s.procs[opts.PID] = s.snapshot(opts.PID)
	if err := s.start(); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// newSampler returns a Sampler with no events yet.
func newSampler(cfg eventConfig, onProblem func(error)) *Sampler {
	sym := symbolize.New()
	sym.OnProblem = onProblem
	return &Sampler{
		periodNs: int64(time.Second) / int64(cfg.freq),
		cfg:      cfg,
		wakeFd:   -1,
		sym:      sym,
		stacks:   make(map[stackKey]int64),
		procs:    make(map[int]*process),
		threads:  make(map[int]map[int]bool),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
}

// start starts the reader once the events are open.
func (s *Sampler) start() error {
	var err error
	s.wakeFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("perf: eventfd: %w", err)
	}
	for _, fd := range s.fds {
		s.pollFds = append(s.pollFds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	go s.readLoop()
	return nil
}

// openAll opens the events of every thread of the target on every CPU, and
// scans /proc/PID/task again until no thread is new: a thread created before
// its creator's events existed shows up in the next scan, one created after
// inherits them.
func (s *Sampler) openAll(cpus []int) error {
	pid := s.opts.PID
	attached := s.threads[pid]
	if attached == nil {
		attached = make(map[int]bool)
		s.threads[pid] = attached
	}
	for round := 0; ; round++ {
		tids, err := listThreads(pid)
		if err != nil || len(tids) == 0 {
			if len(s.fds) == 0 {
				return fmt.Errorf("perf: attaching to pid %d: %w", pid, ErrNoProcess)
			}
			return nil // exited while we attached; Done will say so
		}
		fresh := 0
		for _, tid := range tids {
			if attached[tid] {
				continue
			}
			fresh++
			opened := 0
			for i, cpu := range cpus {
				fd, err := s.cfg.open(tid, cpu, len(s.fds) == 0)
				if err == unix.ESRCH {
					break // the thread exited meanwhile
				}
				if err != nil {
					return attachError(pid, err)
				}
				s.fds = append(s.fds, fd)
				opened++
				if len(s.rings) <= i {
					r, err := mapRing(fd)
					if err != nil {
						return err
					}
					s.rings = append(s.rings, r)
					s.leaders = append(s.leaders, fd)
				} else if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_OUTPUT, s.leaders[i]); err != nil {
					return fmt.Errorf("perf: sharing the CPU %d buffer: %w", cpu, err)
				}
			}
			if opened > 0 {
				attached[tid] = true
			}
		}
		if fresh == 0 {
			return nil
		}
		if round > 1000 {
			return fmt.Errorf("perf: pid %d keeps creating threads faster than they can be attached", pid)
		}
	}
}

func listThreads(pid int) ([]int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// snapshot reads the memory map of pid as its starting state; when that
// fails (the process is gone), the image starts empty and only the
// mappings the kernel reports from now on are known.
func (s *Sampler) snapshot(pid int) *process {
	sym, err := s.sym.Process(pid)
	if err != nil {
		sym = s.sym.NewProcess(pid)
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	exe = strings.TrimSuffix(exe, " (deleted)")
	return s.newProcess(pid, sym, readComm(pid), &exe)
}

// readComm reads the command name of pid, or "" when it is gone.
func readComm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return string(bytes.TrimSuffix(b, []byte("\n")))
}

// Stats returns the counters so far.
func (s *Sampler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Processes = len(s.procs)
	for _, tids := range s.threads {
		st.Threads += len(tids)
	}
	return st
}

// Done returns a channel closed when the target process (and, with
// Options.Children, every process of its tree) has exited. The channel of a
// Sampler made by AttachSystem is never closed.
func (s *Sampler) Done() <-chan struct{} { return s.done }

// Close stops sampling and releases the events and buffers. Samples not yet
// written by Profile are discarded. No goroutine is left running.
func (s *Sampler) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var one = [8]byte{1}
	if _, err := unix.Write(s.wakeFd, one[:]); err != nil {
		return fmt.Errorf("perf: waking the reader: %w", err)
	}
	<-s.loopDone
	return s.release()
}

func (s *Sampler) release() error {
	var errs []error
	for _, r := range s.rings {
		errs = append(errs, r.unmap())
	}
	for _, fd := range s.fds {
		errs = append(errs, unix.Close(fd))
	}
	if s.wakeFd >= 0 {
		errs = append(errs, unix.Close(s.wakeFd))
	}
	errs = append(errs, s.sym.Close())
	s.rings, s.fds, s.wakeFd = nil, nil, -1
	return errors.Join(errs...)
}

// exited reports whether pid is gone or a zombie with no threads left.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := len(b) - 1
	for i >= 0 && b[i] != ')' {
		i--
	}
	if i < 0 || i+2 >= len(b) {
		return true
	}
	if state := b[i+2]; state != 'Z' && state != 'X' {
		return false
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	return len(tasks) <= 1
}
