package perf

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/symbolize"
)

// livenessInterval is how often the reader checks /proc for processes whose
// exit records it may have missed (lost records, or a kernel that sends none).
const livenessInterval = time.Second

// readLoop drains the ring buffers whenever the kernel signals that one is a
// quarter full, and at least every livenessInterval.
func (s *Sampler) readLoop() {
	defer close(s.loopDone)
	fds := append([]unix.PollFd{{Fd: int32(s.wakeFd), Events: unix.POLLIN}}, s.pollFds...)
	lastCheck := time.Now()
	var lostChecked uint64
	for {
		_, err := unix.Poll(fds, int(livenessInterval/time.Millisecond))
		if err != nil && err != unix.EINTR {
			return
		}
		if fds[0].Revents != 0 {
			return // Close
		}
		// An event whose thread and inherited children all exited reports
		// POLLHUP forever; stop polling it. Its buffer is still drained.
		kept := fds[:1]
		for _, f := range fds[1:] {
			if f.Revents&(unix.POLLHUP|unix.POLLERR) == 0 {
				f.Revents = 0
				kept = append(kept, f)
			}
		}
		fds = kept
		s.mu.Lock()
		s.drain()
		if time.Since(lastCheck) >= livenessInterval {
			lastCheck = time.Now()
			// System-wide, the processes followed are many and their exit
			// records are the rule: look at /proc only when some were lost.
			if !s.cfg.system || s.stats.Lost != lostChecked {
				lostChecked = s.stats.Lost
				for pid := range s.threads {
					if exited(pid) {
						s.exitProcess(pid)
					}
				}
			}
			s.closeDoneIfEmpty()
		}
		s.mu.Unlock()
	}
}

// drain reads every ring. s.mu must be held.
func (s *Sampler) drain() {
	s.readRings()
	if len(s.threads) == 0 && !s.cfg.system {
		// A parent's exit may be read in one round and its fork of a
		// child, written to another CPU's ring a moment before the round
		// began there, only in the next. A second round sees it.
		s.readRings()
		s.closeDoneIfEmpty()
	}
}

// readRings reads the records of all rings in one round, oldest first
// across CPUs: a process's exec, its new mappings and its samples are often
// written to different CPUs' rings, and must be taken in the order they
// happened. s.mu must be held.
func (s *Sampler) readRings() {
	for _, r := range s.rings {
		r.begin()
	}
	for {
		var next *ring
		for _, r := range s.rings {
			if r.ok && (next == nil || r.cur.time < next.cur.time) {
				next = r
			}
		}
		if next == nil {
			break
		}
		s.record(next.cur.typ, next.cur.misc, next.cur.body)
		next.next()
	}
	for _, r := range s.rings {
		r.end()
	}
}

// Record layouts with sample_type TID|TIME|CALLCHAIN|STACK_USER (and CGROUP
// for AttachSystem) and sample_id_all.
func (s *Sampler) record(typ uint32, misc uint16, b []byte) {
	u32 := func(off int) int {
		if off+4 > len(b) {
			return -1
		}
		return int(binary.NativeEndian.Uint32(b[off:]))
	}
	switch typ {
	case unix.PERF_RECORD_SAMPLE:
		s.parseSample(b)
	case unix.PERF_RECORD_LOST:
		// u64 id; u64 lost
		if len(b) >= 16 {
			s.stats.Lost += binary.NativeEndian.Uint64(b[8:])
		}
	case unix.PERF_RECORD_FORK:
		// u32 pid, ppid; u32 tid, ptid
		pid, ppid, tid := u32(0), u32(4), u32(8)
		if pid == ppid {
			if tids := s.threads[pid]; tids != nil {
				tids[tid] = true
			}
		} else {
			if s.cfg.system && s.threads[ppid] == nil {
				// A process not sampled yet that forks is not idle:
				// follow it now, so that the child's samples before it
				// execs have the parent's image and name.
				s.image(ppid)
			}
			if !(s.opts.Children || s.cfg.system) || s.threads[ppid] == nil {
				return
			}
			s.threads[pid] = map[int]bool{tid: true}
			if parent := s.procs[ppid]; parent != nil {
				s.procs[pid] = s.newProcess(pid, parent.sym.Fork(pid), parent.name(), parent.exe.Load())
			} else {
				delete(s.procs, pid) // a pid reused; read on its first sample
			}
		}
	case unix.PERF_RECORD_EXIT:
		pid, tid := u32(0), u32(8)
		if tids := s.threads[pid]; tids != nil {
			delete(tids, tid)
			if len(tids) == 0 {
				s.exitProcess(pid)
			}
		}
	case unix.PERF_RECORD_COMM:
		// u32 pid, tid; char comm[]; sample_id
		pid, tid := u32(0), u32(4)
		comm := recordString(b, 8)
		switch {
		case misc&unix.PERF_RECORD_MISC_COMM_EXEC != 0 && (s.threads[pid] != nil || s.cfg.system):
			// A new program image, whose mappings the records after this
			// one announce. Samples taken before keep the old image.
			// Exec leaves one thread, which has the process's ID.
			if s.threads[pid] == nil {
				s.threads[pid] = map[int]bool{pid: true}
			}
			if old := s.procs[pid]; old != nil {
				s.procs[pid] = s.newProcess(pid, old.sym.Exec(), comm, nil)
			} else {
				s.procs[pid] = s.newProcess(pid, s.sym.NewProcess(pid), comm, nil)
			}
		case tid == pid && s.procs[pid] != nil:
			s.procs[pid].comm.Store(&comm) // prctl(PR_SET_NAME) on the main thread
		}
	case unix.PERF_RECORD_MMAP2:
		s.mmap(misc, b)
	}
}

// parseSample decodes a PERF_RECORD_SAMPLE body:
//
//	u32 pid, tid; u64 time; u64 nr; u64 ips[nr];
//	u64 size; char stack[size]; u64 dyn_size (when size > 0);
//	u64 cgroup (AttachSystem)
func (s *Sampler) parseSample(b []byte) {
	if len(b) < 24 {
		return
	}
	pid := int(binary.NativeEndian.Uint32(b))
	nr := binary.NativeEndian.Uint64(b[16:])
	if nr > uint64(len(b)-24)/8 {
		return
	}
	end := 24 + 8*int(nr)
	var top []byte
	rest := b[end:]
	if len(rest) >= 8 {
		size := binary.NativeEndian.Uint64(rest)
		rest = rest[8:]
		if size > 0 {
			if size > uint64(len(rest)) || uint64(len(rest))-size < 8 {
				return // truncated
			}
			if dyn := binary.NativeEndian.Uint64(rest[size:]); size >= 8 && dyn >= 8 {
				top = rest[:8]
			}
			rest = rest[size+8:]
		}
	}
	var cgroup uint64
	if s.cfg.system {
		if len(rest) < 8 {
			return
		}
		cgroup = binary.NativeEndian.Uint64(rest)
	}
	s.sample(pid, cgroup, b[24:end], top)
}

// recordString is the NUL-terminated string at off in a record body that
// ends with the sample_id trailer (pid, tid, time).
func recordString(b []byte, off int) string {
	const trailer = 16
	if len(b) < off+trailer {
		return ""
	}
	name := b[off : len(b)-trailer]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return string(name)
}

// sample counts one stack. ips holds u64 addresses, with context markers
// (PERF_CONTEXT_USER...) interleaved; top is the word at the user stack
// pointer, or nil.
func (s *Sampler) sample(pid int, cgroup uint64, ips []byte, top []byte) {
	if s.threads[pid] == nil && !(pid == s.opts.PID || s.opts.Children || s.cfg.system) {
		return // a forked child under a kernel without inherit_thread
	}
	if pid <= 0 {
		return // a task outside our PID namespace: AttachSystem refuses that
	}
	s.stats.Samples++
	stack := make([]byte, 0, len(ips))
	for i := 0; i+8 <= len(ips); i += 8 {
		if binary.NativeEndian.Uint64(ips[i:]) >= perfContextMax {
			continue
		}
		stack = append(stack, ips[i:i+8]...)
	}
	k := stackKey{proc: s.image(pid), cgroup: cgroup}
	k.proc.seen = s.windows
	// Whether top is the caller the walk skipped is decided when the
	// profile is written, outside the lock: it can take reading the
	// binary, and a reader busy parsing a compiler's symbols would let the
	// rings of a busy machine overflow. Where top is the caller the walk
	// found, there is nothing to decide.
	if len(top) == 8 && len(stack) >= 8 && runtime.GOARCH == "amd64" &&
		(len(stack) < 16 || !bytes.Equal(stack[8:16], top)) {
		k.top = binary.NativeEndian.Uint64(top)
	}
	k.stack = unsafe.String(unsafe.SliceData(stack), len(stack))
	s.stacks[k]++
}

// perfContextMax is the lowest of the markers (PERF_CONTEXT_*) that separate
// kernel, user and guest parts of a callchain; no user address is this high.
const perfContextMax = uint64(1<<64 + unix.PERF_CONTEXT_MAX)

// mmap adds the executable mapping of a PERF_RECORD_MMAP2 record to its
// process's image:
//
//	u32 pid, tid; u64 addr, len, pgoff;
//	u32 maj, min; u64 ino, ino_generation;  or, with MISC_MMAP_BUILD_ID,
//	u8 build_id_size, reserved[3], build_id[20];
//	u32 prot, flags; char filename[]; sample_id
//
// s.mu must be held.
func (s *Sampler) mmap(misc uint16, b []byte) {
	const nameOff, trailer = 64, 16 // sample_id: pid, tid, time
	if len(b) < nameOff+trailer {
		return
	}
	u64 := func(off int) uint64 { return binary.NativeEndian.Uint64(b[off:]) }
	pid := int(binary.NativeEndian.Uint32(b))
	if s.threads[pid] == nil || binary.NativeEndian.Uint32(b[56:])&unix.PROT_EXEC == 0 {
		return
	}
	m := symbolize.Mapping{Start: u64(8), Limit: u64(8) + u64(16), Offset: u64(24)}
	if misc&unix.PERF_RECORD_MISC_MMAP_BUILD_ID != 0 {
		m.BuildID = hex.EncodeToString(b[36 : 36+min(int(b[32]), 20)])
	} else {
		m.Inode = u64(40)
	}
	m.Path = recordString(b, nameOff)
	s.stats.Mappings++
	p := s.image(pid)
	p.sym.Map(m)
	if p.exe.Load() == nil && strings.HasPrefix(m.Path, "/") {
		// An exec maps the executable before its interpreter.
		p.exe.Store(&m.Path)
	}
}

// image returns the current image of pid, reading /proc/PID/maps when no
// record said what it is (the target at attach, a process that existed
// before AttachSystem, or after lost records). s.mu must be held.
func (s *Sampler) image(pid int) *process {
	p := s.procs[pid]
	if p != nil {
		return p
	}
	p = s.snapshot(pid)
	if s.threads[pid] == nil && s.cfg.system {
		// Its first sample: from now on its records are followed. A
		// thread that ends before this scan is not listed, one that
		// starts after it comes as a record.
		tids, _ := listThreads(pid)
		if len(tids) == 0 {
			return p // gone already: nothing would free the image
		}
		live := make(map[int]bool, len(tids))
		for _, tid := range tids {
			live[tid] = true
		}
		s.threads[pid] = live
	}
	s.procs[pid] = p
	return p
}

// forgetIdle is how many windows without a sample make AttachSystem forget
// a live process, as if it had never run: its image and threads are read
// again on its next sample. With windows of 10 s or more, a process asleep
// for a minute costs nothing until it wakes.
const forgetIdle = 6

// forgetIdleProcesses forgets the processes not sampled in the last
// forgetIdle windows. s.mu must be held.
func (s *Sampler) forgetIdleProcesses() {
	for pid, p := range s.procs {
		if s.windows-p.seen >= forgetIdle {
			s.exitProcess(pid)
		}
	}
}

// exitProcess forgets pid's threads and its image; samples taken before
// keep the image until the window holding them is written. s.mu must be
// held.
func (s *Sampler) exitProcess(pid int) {
	delete(s.threads, pid)
	delete(s.procs, pid)
}

// closeDoneIfEmpty closes Done when no process is left. s.mu must be held.
func (s *Sampler) closeDoneIfEmpty() {
	if len(s.threads) == 0 && !s.cfg.system {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}
