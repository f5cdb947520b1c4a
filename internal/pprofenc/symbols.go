package pprofenc

import (
	"runtime"
	"strings"
)

// A Mapping is one executable mapping of the process, as /proc/self/maps
// lists it. go tool pprof uses the main binary's mapping and build ID to find
// the binary when it re-symbolizes or disassembles.
type Mapping struct {
	Start, Limit, Offset uint64
	File, BuildID        string
}

// Symbols turns program counters into pprof locations and functions and keeps
// them for the life of the process: the symbols of a PC never change, so each
// PC is resolved through runtime.CallersFrames once, not once per profile as
// runtime/pprof does. It grows with the code that shows up in profiles, which
// is bounded by the size of the binary.
type Symbols struct {
	mappings []Mapping
	mapFail  []bool // a location in this mapping could not be symbolized

	frames   map[uintptr]frameInfo
	funcs    []function
	funcByID map[string]int32
	strs     []string
	strByVal map[string]int32
	locs     []location
	locByKey map[locKey]int32

	scratch   []frameInfo
	expandBuf []uintptr // ExpandPhysical's result
	finalBuf  []uintptr // Stack's copy of its input
}

// frameInfo is what a single PC resolves to: one logical frame.
type frameInfo struct {
	addr    uint64  // the call PC, used as the location address
	entry   uintptr // entry of the physical function the PC is in
	line    int64
	fn      int32 // index in funcs; -1 when the PC did not symbolize
	inlined bool  // the frame is inlined into its caller
	goexit  bool  // runtime.goexit, dropped from stacks as runtime/pprof does
}

type function struct {
	name, file int32 // indexes in strs
	startLine  int64
}

type line struct {
	fn   int32
	line int64
}

type location struct {
	addr    uint64
	mapping uint64 // mapping ID, 0 when outside every known mapping
	lines   []line
}

// locKey names a location by its first PC and the number of PCs (inlined
// frames) it folds together.
type locKey struct {
	pc uintptr
	n  int
}

// NewSymbols returns an empty cache whose locations refer to mappings.
func NewSymbols(mappings []Mapping) *Symbols {
	return &Symbols{
		mappings: mappings,
		mapFail:  make([]bool, len(mappings)),
		frames:   make(map[uintptr]frameInfo),
		funcByID: make(map[string]int32),
		strByVal: make(map[string]int32),
		locByKey: make(map[locKey]int32),
	}
}

// Stack appends to dst the location IDs of stk, a stack of return PCs with
// one PC per logical frame (the form runtime.Callers and the runtime's memory
// and goroutine profiles use). Inlined frames are folded into the location of
// the function they were inlined into, as runtime/pprof folds them.
func (s *Symbols) Stack(dst []uint32, stk []uintptr) []uint32 {
	stk = s.expandFinal(stk)
	frames := s.scratch[:0]
	for _, pc := range stk {
		frames = append(frames, s.frame(pc))
	}
	s.scratch = frames
	for i := 0; i < len(stk); {
		if frames[i].goexit {
			i++
			continue
		}
		j := i + 1
		for j < len(stk) && foldsInto(frames[j-1], frames[j]) {
			j++
		}
		dst = append(dst, s.location(stk[i:j], frames[i:j]))
		i = j
	}
	return dst
}

// HeapStack is Stack for allocation stacks: leading runtime frames (malloc
// internals) are hidden, unless nothing else is left, as runtime/pprof does
// for heap profiles.
func (s *Symbols) HeapStack(dst []uint32, stk []uintptr) []uint32 {
	for i, pc := range stk {
		if f := runtime.FuncForPC(pc); f != nil {
			if name := f.Name(); strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/") {
				continue
			}
		}
		n := len(dst)
		dst = s.Stack(dst, stk[i:])
		if len(dst) > n {
			return dst
		}
		break
	}
	return s.Stack(dst, stk)
}

// ExpandPhysical rewrites a stack of physical return PCs (the form of the
// runtime's block and mutex records) into one PC per logical frame, inlined
// calls included, keeping at most max frames like runtime/pprof.
func (s *Symbols) ExpandPhysical(stk []uintptr, max int) []uintptr {
	out := s.expandBuf[:0]
	if len(stk) == 0 {
		return out
	}
	frames := runtime.CallersFrames(stk)
	for len(out) < max {
		f, more := frames.Next()
		out = append(out, f.PC+1)
		if !more {
			break
		}
	}
	s.expandBuf = out
	return out
}

// foldsInto reports whether next belongs to the same location as prev: prev
// is inlined into the physical function next runs in.
func foldsInto(prev, next frameInfo) bool {
	return prev.inlined && prev.entry != 0 && next.entry == prev.entry &&
		next.fn != prev.fn && !next.goexit
}

func (s *Symbols) expandFinal(stk []uintptr) []uintptr {
	if len(stk) == 0 {
		return stk
	}
	// The runtime appends to the slice it is given: hand it a copy so the
	// caller's stack (possibly the runtime's own bucket) is never written.
	buf := append(s.finalBuf[:0], stk...)
	buf = expandFinalInlineFrame(buf)
	s.finalBuf = buf
	return buf
}

func (s *Symbols) frame(pc uintptr) frameInfo {
	if fi, ok := s.frames[pc]; ok {
		return fi
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	fi := frameInfo{addr: uint64(f.PC), entry: f.Entry, line: int64(f.Line), fn: -1, inlined: f.Func == nil}
	if fi.addr == 0 {
		fi.addr = uint64(pc - 1)
	}
	switch {
	case f.Function == "runtime.goexit":
		fi.goexit = true
	case f.Function != "" && f.File != "" && f.Line != 0:
		fi.fn = s.function(&f)
	}
	s.frames[pc] = fi
	return fi
}

func (s *Symbols) function(f *runtime.Frame) int32 {
	name := frameSymbolName(f)
	if id, ok := s.funcByID[name]; ok {
		return id
	}
	id := int32(len(s.funcs))
	s.funcs = append(s.funcs, function{
		name:      s.intern(name),
		file:      s.intern(f.File),
		startLine: int64(frameStartLine(f)),
	})
	s.funcByID[name] = id
	return id
}

func (s *Symbols) intern(str string) int32 {
	if id, ok := s.strByVal[str]; ok {
		return id
	}
	id := int32(len(s.strs))
	s.strs = append(s.strs, str)
	s.strByVal[str] = id
	return id
}

func (s *Symbols) location(pcs []uintptr, frames []frameInfo) uint32 {
	key := locKey{pcs[0], len(pcs)}
	if id, ok := s.locByKey[key]; ok {
		return uint32(id) + 1
	}
	loc := location{addr: frames[0].addr, lines: make([]line, 0, len(frames))}
	failed := false
	for _, f := range frames {
		if f.fn < 0 {
			failed = true
			continue
		}
		loc.lines = append(loc.lines, line{fn: f.fn, line: f.line})
	}
	for i, m := range s.mappings {
		if m.Start <= uint64(pcs[0]) && uint64(pcs[0]) < m.Limit {
			loc.mapping = uint64(i) + 1
			s.mapFail[i] = s.mapFail[i] || failed
			break
		}
	}
	id := int32(len(s.locs))
	s.locs = append(s.locs, loc)
	s.locByKey[key] = id
	return uint32(id) + 1
}
