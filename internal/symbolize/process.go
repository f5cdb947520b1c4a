package symbolize

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// retryOpen is how long a mapping whose file could not be found waits before
// the next attempt: a failure is often passing (the file is being replaced,
// a mount namespace is being set up), so it is not remembered for ever, but
// a profile's thousands of addresses in one unreadable file must not each
// try again.
const retryOpen = time.Second

// A Process is the model of one process image's executable mappings. It
// starts from /proc/PID/maps (Symbolizer.Process), from nothing after an exec
// (Exec), or as a copy of the parent's (Fork), and the caller adds each new
// mapping with Map as the kernel reports it. Binaries are loaded on first
// lookup into them; a Process keeps symbolizing after its process exited.
type Process struct {
	PID int

	s      *Symbolizer
	parent int    // a pid whose /proc/PID/root may also hold the files: the parent's, or 0
	root   rootID // what the process sees as "/"; zero when not known

	mu    sync.Mutex
	maps  []*mapping         // by address, not overlapping; an element is never changed once stored
	calls map[[2]uint64]bool // CallsInto results
	// Results by address: a profiler asks about the same hot addresses in
	// every window, and a pcvalue walk costs microseconds.
	frames    map[uint64][]Frame
	frameless map[uint64]bool
}

// A mapping is a Mapping with what was found of its file. Mappings are
// shared between a process and its forks, so loading a binary stores a new
// mapping instead of changing this one. The binary is held by reference: the
// Symbolizer's cache decides how many stay in memory.
type mapping struct {
	Mapping
	bin   *binRef   // nil until loaded; cleared when the cache dropped it
	had   bool      // bin was loaded once: when dropped, load it again at once
	retry time.Time // when there is no binary: not before then; zero when never tried
}

// Process reads the memory map of pid from /proc as the starting state of
// its model.
func (s *Symbolizer) Process(pid int) (*Process, error) {
	maps, err := ReadMaps(pid)
	if err != nil {
		return nil, err
	}
	p := &Process{PID: pid, s: s, root: rootOf(pid)}
	for _, m := range maps {
		p.maps = append(p.maps, &mapping{Mapping: m})
	}
	return p, nil
}

// NewProcess returns the model of pid with no mappings yet.
func (s *Symbolizer) NewProcess(pid int) *Process { return &Process{PID: pid, s: s, root: rootOf(pid)} }

// Fork returns the model of child pid just after fork: a copy of p's mappings.
func (p *Process) Fork(pid int) *Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &Process{PID: pid, s: p.s, parent: p.PID, root: p.root, maps: slices.Clone(p.maps)}
}

// Exec returns the model of p's pid after it executed a new program: no
// mappings yet, files still also looked for in the parent's root.
func (p *Process) Exec() *Process {
	root := rootOf(p.PID) // a process entering a container changes its root before exec
	if root == (rootID{}) {
		root = p.root
	}
	return &Process{PID: p.PID, s: p.s, parent: p.parent, root: root}
}

// Map adds the executable mapping m, replacing whatever it overlaps (as mmap
// with MAP_FIXED, or a new library loaded where an unloaded one was).
func (p *Process) Map(m Mapping) {
	if m.Limit <= m.Start {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.insert(m)
}

// insert puts m in p.maps. p.mu must be held.
func (p *Process) insert(m Mapping) {
	i := sort.Search(len(p.maps), func(i int) bool { return p.maps[i].Limit > m.Start })
	j := i
	for j < len(p.maps) && p.maps[j].Start < m.Limit {
		j++
	}
	if j == i+1 {
		if old := p.maps[i]; old.Start == m.Start && old.Limit == m.Limit && old.Offset == m.Offset && old.Path == m.Path {
			return // known already (the starting state and a record of the same mmap)
		}
	}
	repl := make([]*mapping, 0, 3)
	if i < j && p.maps[i].Start < m.Start {
		repl = append(repl, p.maps[i].cut(p.maps[i].Start, m.Start))
	}
	repl = append(repl, &mapping{Mapping: m})
	if i < j && p.maps[j-1].Limit > m.Limit {
		repl = append(repl, p.maps[j-1].cut(m.Limit, p.maps[j-1].Limit))
	}
	p.maps = slices.Replace(p.maps, i, j, repl...)
	if i < j { // cached answers may belong to what was replaced
		p.calls, p.frames, p.frameless = nil, nil, nil
	}
}

// cut returns the part [start, limit) of m.
func (m *mapping) cut(start, limit uint64) *mapping {
	n := *m
	n.Offset += start - m.Start
	n.Start, n.Limit = start, limit
	return &n
}

// Refresh adds the mappings /proc/PID/maps lists now: those made before the
// caller could report them (such as [vdso]). It fails once the process has
// exited.
func (p *Process) Refresh() error {
	maps, err := ReadMaps(p.PID)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range maps {
		p.insert(m)
	}
	return nil
}

// Mappings returns the executable mappings known now, by address.
func (p *Process) Mappings() []Mapping {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Mapping, len(p.maps))
	for i, m := range p.maps {
		out[i] = m.Mapping
	}
	return out
}

// A source is where the file of a mapping may be read: the mapping itself
// (/proc/PID/map_files) or a path in a root directory.
type source struct {
	pid    int    // the process; 0 with !mapped: this process's root
	mapped bool   // the mapping itself
	root   rootID // the root the path is looked up in; zero when not known
}

// sources lists where the file of m may be read, best first: the mapping
// itself and the process's root while it lives, then the same path from
// the parent's root and from ours when either is the process's root too
// (which Symbolizer.load checks against the inode or build ID that was
// mapped). No other root is read: a path from a container means nothing
// outside it.
func (p *Process) sources(m *Mapping) []source {
	c := []source{{pid: p.PID, mapped: true}}
	if m.Deleted {
		return c // the path names another file, or none
	}
	c = append(c, source{pid: p.PID, root: p.root})
	if p.root == (rootID{}) {
		return c
	}
	if p.parent != 0 && rootOf(p.parent) == p.root {
		c = append(c, source{pid: p.parent, root: p.root})
	}
	if p.root == p.s.ownRootID() {
		c = append(c, source{pid: 0, root: p.root})
	}
	return c
}

// Lookup finds the mapping holding the runtime address addr and the frames
// at it, innermost first. m is nil when no executable mapping holds addr;
// frames is empty when the mapping has no symbols for it. Callers that
// symbolize a return address should pass addr-1, so that the call
// instruction, not the next one, is resolved. The Mapping is not changed
// afterwards; a later Lookup may return a newer one for the same range.
func (p *Process) Lookup(addr uint64) (m *Mapping, frames []Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	mm, b, vaddr, ok := p.resolve(addr)
	if mm == nil {
		return nil, nil
	}
	if !ok {
		return &mm.Mapping, nil
	}
	frames, cached := p.frames[addr]
	if !cached {
		frames = b.frames(vaddr)
		if p.frames == nil {
			p.frames = make(map[uint64][]Frame)
		}
		p.frames[addr] = frames
	}
	return &mm.Mapping, frames
}

// ReturnAddressAtSP reports whether, at the runtime address addr, the
// function has not set up its frame: its return address is on top of the
// stack and the frame pointer still points at its caller's frame, so a
// frame-pointer walk started there skips the caller. This holds in the
// frameless leaf functions Go compiles for small loops; it is only known for
// Go binaries (amd64 frame layout).
func (p *Process) ReturnAddressAtSP(addr uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, b, vaddr, ok := p.resolve(addr)
	if !ok || b.gotab == nil {
		return false
	}
	v, cached := p.frameless[addr]
	if !cached {
		v = b.gotab.frameless(vaddr)
		if p.frameless == nil {
			p.frameless = make(map[uint64]bool)
		}
		p.frameless[addr] = v
	}
	return v
}

// CallsInto reports whether the instruction just before the return address
// ret is a direct call (x86-64 CALL rel32) to the entry of the function
// holding pc. A profiler uses it to recognize, in the word on top of the
// stack, the return address of a leaf function that keeps no frame pointer.
// Results are cached per (ret, pc's function); the instruction is read from
// the binary, so this works after the process exited.
func (p *Process) CallsInto(ret, pc uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, b, vaddr, ok := p.resolve(pc)
	if !ok || ret < 5 {
		return false
	}
	start, ok := b.funcStart(vaddr)
	if !ok {
		return false
	}
	entry := pc - (vaddr - start)
	key := [2]uint64{ret, entry}
	if v, ok := p.calls[key]; ok {
		return v
	}
	target, ok := p.readCallTarget(ret)
	if !ok {
		return false // not known: ask again next time
	}
	if p.calls == nil {
		p.calls = make(map[[2]uint64]bool)
	}
	p.calls[key] = target == entry
	return target == entry
}

// readCallTarget decodes the instruction ending at ret from the mapped file:
// the target of a CALL rel32, or 0 for another instruction. ok is false when
// the file cannot be read. p.mu must be held.
func (p *Process) readCallTarget(ret uint64) (target uint64, ok bool) {
	m, b, _, _ := p.resolve(ret - 5)
	if m == nil || ret > m.Limit || b == nil {
		return 0, false
	}
	f := p.s.file(p, &m.Mapping, b)
	if f == nil {
		return 0, false
	}
	var insn [5]byte
	if _, err := f.ReadAt(insn[:], int64(ret-5-m.Start+m.Offset)); err != nil {
		return 0, false
	}
	if insn[0] != 0xe8 {
		return 0, true
	}
	rel := int32(uint32(insn[1]) | uint32(insn[2])<<8 | uint32(insn[3])<<16 | uint32(insn[4])<<24)
	return uint64(int64(ret) + int64(rel)), true
}

// resolve finds the mapping of addr and its binary, loading the binary on
// first use (or again, once the cache dropped it), and the link-time
// address addr corresponds to in it; ok says the binary is loaded and holds
// addr. p.mu must be held.
func (p *Process) resolve(addr uint64) (m *mapping, b *binaryFile, vaddr uint64, ok bool) {
	i := sort.Search(len(p.maps), func(i int) bool { return p.maps[i].Limit > addr })
	if i == len(p.maps) || addr < p.maps[i].Start {
		return nil, nil, 0, false
	}
	m = p.maps[i]
	if m.bin != nil {
		b = m.bin.b.Load()
	}
	if b == nil && (m.File() || m.Path == vdsoPath) {
		if now := time.Now(); m.had || !now.Before(m.retry) {
			n := *m
			var err error
			if b, err = p.s.binary(p, &m.Mapping); err != nil {
				n.bin, n.had, n.retry = nil, false, now.Add(retryOpen)
			} else {
				n.bin, n.had, n.BuildID = b.ref, true, b.buildID
			}
			m = &n
			p.maps[i] = m
		}
	}
	if b == nil {
		return m, nil, 0, false
	}
	p.s.touch(b)
	vaddr, ok = b.fileToVaddr(addr - m.Start + m.Offset)
	return m, b, vaddr, ok
}
