// Package symbolize turns addresses sampled in another process into
// functions, files and lines, reading /proc/PID/maps and the mapped ELF files
// through /proc/PID/root, so that processes in other mount namespaces
// (containers) resolve against their own files.
//
// Go binaries are read through their pclntab, inlined calls included; other
// files through .symtab, or .dynsym when stripped. Files are read once per
// Symbolizer and shared by build ID, so a long session does not re-read them.
// Addresses that fall in [vdso], anonymous memory or unreadable files are
// kept as bare addresses by the caller.
package symbolize

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// A Frame is one function activation at an address. Addresses inside inlined
// calls yield several frames.
type Frame struct {
	Function string
	File     string // empty when the file has no line table (C via .symtab)
	Line     int
}

// A Symbolizer caches what it read from binaries. It is safe for concurrent use.
type Symbolizer struct {
	mu      sync.Mutex
	byID    map[string]*binaryFile  // by build ID
	byFile  map[fileKey]*binaryFile // by identity on disk, to skip re-opening
	loadErr map[fileKey]error
}

// fileKey identifies a file's content without reading it.
type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// New returns an empty Symbolizer.
func New() *Symbolizer {
	return &Symbolizer{
		byID:    make(map[string]*binaryFile),
		byFile:  make(map[fileKey]*binaryFile),
		loadErr: make(map[fileKey]error),
	}
}

// A Process is a snapshot of one process's executable mappings. Binaries are
// loaded on first lookup into them.
type Process struct {
	PID      int
	Mappings []Mapping // executable mappings, by address

	s      *Symbolizer
	mu     sync.Mutex // guards the lazy loading below
	loaded []bool
	bins   []*binaryFile
	calls  map[[2]uint64]bool // CallsInto results
	// Results by address: a profiler asks about the same hot addresses in
	// every window, and a pcvalue walk costs microseconds.
	frames    map[uint64][]Frame
	frameless map[uint64]bool
}

// Process reads the memory map of pid. The snapshot stays valid for
// symbolization after the process exits, as long as its files remain.
func (s *Symbolizer) Process(pid int) (*Process, error) {
	maps, err := readMaps(pid)
	if err != nil {
		return nil, err
	}
	return &Process{PID: pid, Mappings: maps, s: s, loaded: make([]bool, len(maps)), bins: make([]*binaryFile, len(maps))}, nil
}

// Lookup finds the mapping holding the runtime address addr and the frames
// at it, innermost first. m is nil when no executable mapping holds addr;
// frames is empty when the mapping has no symbols for it. Callers that
// symbolize a return address should pass addr-1, so that the call
// instruction, not the next one, is resolved.
func (p *Process) Lookup(addr uint64) (m *Mapping, frames []Frame) {
	m, b, vaddr := p.resolve(addr)
	if b == nil {
		return m, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	frames, ok := p.frames[addr]
	if !ok {
		frames = b.frames(vaddr)
		if p.frames == nil {
			p.frames = make(map[uint64][]Frame)
		}
		p.frames[addr] = frames
	}
	return m, frames
}

// ReturnAddressAtSP reports whether, at the runtime address addr, the
// function has not set up its frame: its return address is on top of the
// stack and the frame pointer still points at its caller's frame, so a
// frame-pointer walk started there skips the caller. This holds in the
// frameless leaf functions Go compiles for small loops; it is only known for
// Go binaries (amd64 frame layout).
func (p *Process) ReturnAddressAtSP(addr uint64) bool {
	_, b, vaddr := p.resolve(addr)
	if b == nil || b.gotab == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.frameless[addr]
	if !ok {
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
// Results are cached per (ret, pc's function).
func (p *Process) CallsInto(ret, pc uint64) bool {
	_, b, vaddr := p.resolve(pc)
	if b == nil || ret < 5 {
		return false
	}
	start, ok := b.funcStart(vaddr)
	if !ok {
		return false
	}
	entry := pc - (vaddr - start)
	key := [2]uint64{ret, entry}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.calls[key]; ok {
		return v
	}
	v := p.readCallTarget(ret) == entry
	if p.calls == nil {
		p.calls = make(map[[2]uint64]bool)
	}
	p.calls[key] = v
	return v
}

// readCallTarget decodes a CALL rel32 ending at ret, from the mapped file;
// 0 when there is none. p.mu must be held.
func (p *Process) readCallTarget(ret uint64) uint64 {
	i := sort.Search(len(p.Mappings), func(i int) bool { return p.Mappings[i].Limit > ret-5 })
	if i == len(p.Mappings) || ret-5 < p.Mappings[i].Start || ret > p.Mappings[i].Limit {
		return 0
	}
	m := &p.Mappings[i]
	if !m.File() {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/root%s", p.PID, m.Path))
	if err != nil {
		return 0
	}
	defer f.Close()
	var insn [5]byte
	if _, err := f.ReadAt(insn[:], int64(ret-5-m.Start+m.Offset)); err != nil || insn[0] != 0xe8 {
		return 0
	}
	rel := int32(uint32(insn[1]) | uint32(insn[2])<<8 | uint32(insn[3])<<16 | uint32(insn[4])<<24)
	return uint64(int64(ret) + int64(rel))
}

// resolve finds the mapping of addr, its binary (loading it on first use)
// and the link-time address addr corresponds to in it.
func (p *Process) resolve(addr uint64) (*Mapping, *binaryFile, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := sort.Search(len(p.Mappings), func(i int) bool { return p.Mappings[i].Limit > addr })
	if i == len(p.Mappings) || addr < p.Mappings[i].Start {
		return nil, nil, 0
	}
	m := &p.Mappings[i]
	if !p.loaded[i] {
		p.loaded[i] = true
		p.bins[i] = p.s.binary(p.PID, m)
		if p.bins[i] != nil {
			m.BuildID = p.bins[i].buildID
		}
	}
	b := p.bins[i]
	if b == nil {
		return m, nil, 0
	}
	vaddr, ok := b.fileToVaddr(addr - m.Start + m.Offset)
	if !ok {
		return m, nil, 0
	}
	return m, b, vaddr
}

// binary returns the parsed file behind m, or nil when it cannot be read.
func (s *Symbolizer) binary(pid int, m *Mapping) *binaryFile {
	if !m.File() {
		return nil
	}
	path := fmt.Sprintf("/proc/%d/root%s", pid, m.Path)
	if strings.HasSuffix(m.Path, " (deleted)") {
		// The file is gone from its directory but still mapped: read it
		// through the mapping itself.
		path = fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, m.Start, m.Limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	key := fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.dev, key.ino = uint64(st.Dev), st.Ino
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.byFile[key]; ok {
		return b
	}
	if _, failed := s.loadErr[key]; failed {
		return nil
	}
	// Reading the build ID first lets two paths to the same build (a
	// container's copy of libc and the host's) share one parsed file.
	if id := buildIDOf(f); id != "" {
		if b, ok := s.byID[id]; ok {
			s.byFile[key] = b
			return b
		}
	}
	b, err := openBinary(f)
	if err != nil {
		s.loadErr[key] = err
		return nil
	}
	s.byFile[key] = b
	if b.buildID != "" {
		s.byID[b.buildID] = b
	}
	return b
}

// Refresh reads the process's memory map again, keeping the binaries already
// loaded. It fails once the process has exited.
func (p *Process) Refresh() (*Process, error) { return p.s.Process(p.PID) }
