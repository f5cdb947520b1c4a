package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// A goTable reads a Go binary's pclntab (Go 1.18 and later) directly, so that
// one lookup costs a binary search and a few varint walks, nothing is decoded
// up front, and inlined calls come out as their own frames through the
// inline tree (FUNCDATA_InlTree indexed by PCDATA_InlTreeIndex), as the
// runtime's own tracebacks do.
type goTable struct {
	order     binary.ByteOrder
	go120     bool // Go 1.20+ layouts of _func and inlinedCall
	ptrSize   int
	minLC     uint64
	nfunc     int
	textStart uint64
	funcnames []byte
	cutab     []byte
	filetab   []byte
	pctab     []byte
	pcln      []byte // pclntable: functab followed by the _func records
	// gofunc holds the bytes from the go:func.* symbol to the end of its
	// section; funcdata offsets (the inline trees) are relative to it. Nil
	// when the binary has no symbol table, in which case inlined calls are
	// reported as part of the function they were inlined into.
	gofunc []byte
}

const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

var errPclntab = errors.New("unsupported or corrupt pclntab")

// newGoTable reads the pclntab in the section sec of f.
func newGoTable(f *elf.File, sec *elf.Section) (*goTable, error) {
	data, err := sectionData(sec, maxSectionBytes)
	if err != nil {
		return nil, err
	}
	t, err := parsePclntab(data, f.ByteOrder)
	if err != nil {
		return nil, err
	}
	text, gofuncAddr := goSymbols(f)
	if text != 0 {
		t.textStart = text
	}
	if t.textStart == 0 {
		if text := f.Section(".text"); text != nil {
			t.textStart = text.Addr
		}
	}
	if gofuncAddr != 0 {
		for _, s := range f.Sections {
			if s.Type == elf.SHT_NOBITS || gofuncAddr < s.Addr || gofuncAddr-s.Addr >= s.Size {
				continue
			}
			if d, err := sectionData(s, maxSectionBytes); err == nil && gofuncAddr-s.Addr < uint64(len(d)) {
				t.gofunc = d[gofuncAddr-s.Addr:]
			}
			break
		}
	}
	return t, nil
}

// parsePclntab checks the header of the pclntab data and the offsets it
// holds; what the tables hold is checked as lookups read it.
func parsePclntab(data []byte, order binary.ByteOrder) (*goTable, error) {
	if len(data) < 8 {
		return nil, errPclntab
	}
	t := &goTable{order: order}
	switch magic := t.order.Uint32(data); magic {
	case 0xfffffff1:
		t.go120 = true
	case 0xfffffff0:
	default:
		return nil, fmt.Errorf("%w: magic %#x (Go older than 1.18?)", errPclntab, magic)
	}
	t.minLC = uint64(data[6])
	t.ptrSize = int(data[7])
	if t.ptrSize != 4 && t.ptrSize != 8 || len(data) < 8+8*t.ptrSize || t.minLC == 0 {
		return nil, errPclntab
	}
	word := func(i int) uint64 {
		if t.ptrSize == 4 {
			return uint64(t.order.Uint32(data[8+i*4:]))
		}
		return t.order.Uint64(data[8+i*8:])
	}
	nfunc := word(0)
	t.textStart = word(2)
	offs := [5]uint64{word(3), word(4), word(5), word(6), word(7)}
	for _, o := range offs {
		if o > uint64(len(data)) {
			return nil, errPclntab
		}
	}
	t.funcnames = data[offs[0]:]
	t.cutab = data[offs[1]:]
	t.filetab = data[offs[2]:]
	t.pctab = data[offs[3]:]
	t.pcln = data[offs[4]:]
	// The functab holds nfunc (entry, _func offset) pairs and the end of
	// the last function.
	if nfunc >= uint64(len(t.pcln))/8 {
		return nil, errPclntab
	}
	t.nfunc = int(nfunc)
	return t, nil
}

// goFunc is a decoded view of one runtime._func record.
type goFunc struct {
	entry    uint64
	nameOff  uint32
	pcsp     uint32
	pcfile   uint32
	pcln     uint32
	cuOffset uint32
	pcdata   []byte // [npcdata]uint32
	funcdata []byte // [nfuncdata]uint32
}

func (t *goTable) findFunc(pc uint64) (goFunc, bool) {
	if pc < t.textStart || t.nfunc == 0 {
		return goFunc{}, false
	}
	off := pc - t.textStart
	entryOff := func(i int) uint64 { return uint64(t.order.Uint32(t.pcln[i*8:])) }
	if off >= entryOff(t.nfunc) {
		return goFunc{}, false
	}
	i := sort.Search(t.nfunc, func(i int) bool { return entryOff(i) > off }) - 1
	if i < 0 {
		return goFunc{}, false
	}
	funcOff := uint64(t.order.Uint32(t.pcln[i*8+4:]))
	hdr := 40
	if t.go120 {
		hdr = 44
	}
	if funcOff+uint64(hdr) > uint64(len(t.pcln)) {
		return goFunc{}, false
	}
	rec := t.pcln[funcOff:]
	u32 := func(o int) uint32 { return t.order.Uint32(rec[o:]) }
	fn := goFunc{
		entry:    t.textStart + uint64(u32(0)),
		nameOff:  u32(4),
		pcsp:     u32(16),
		pcfile:   u32(20),
		pcln:     u32(24),
		cuOffset: u32(32),
	}
	npcdata := uint64(u32(28))
	nfuncdata := uint64(rec[hdr-1])
	if uint64(hdr)+4*(npcdata+nfuncdata) > uint64(len(rec)) {
		return goFunc{}, false
	}
	fn.pcdata = rec[hdr : uint64(hdr)+4*npcdata]
	fn.funcdata = rec[uint64(hdr)+4*npcdata : uint64(hdr)+4*(npcdata+nfuncdata)]
	return fn, true
}

// A pcWalk evaluates pc-value tables for one lookup, within a budget of
// steps: a crafted table can repeat a zero pc delta for as long as the
// table is, and one lookup walks several tables per inlined frame.
type pcWalk struct {
	t     *goTable
	steps int // left
}

func (t *goTable) walk() *pcWalk { return &pcWalk{t: t, steps: maxPCValueSteps} }

// value evaluates the pc-value table at off for targetpc, as the runtime
// does: pairs of (zigzag value delta, pc delta) varints starting at -1.
func (w *pcWalk) value(off uint32, entry, targetpc uint64) (int32, bool) {
	t := w.t
	if off == 0 || uint64(off) >= uint64(len(t.pctab)) {
		return -1, false
	}
	p := t.pctab[off:]
	val := int32(-1)
	pc := entry
	for first := true; w.steps > 0; first = false {
		w.steps--
		uvdelta, n := binary.Uvarint(p)
		if n <= 0 || (uvdelta == 0 && !first) {
			return -1, false
		}
		p = p[n:]
		if uvdelta&1 != 0 {
			val += int32(^(uvdelta >> 1))
		} else {
			val += int32(uvdelta >> 1)
		}
		pcdelta, n := binary.Uvarint(p)
		if n <= 0 {
			return -1, false
		}
		p = p[n:]
		pc += pcdelta * t.minLC
		if targetpc < pc {
			return val, true
		}
	}
	return -1, false
}

// cstring returns the NUL-terminated string at off in b, cut at
// maxNameBytes.
func cstring(b []byte, off uint64) string {
	if off >= uint64(len(b)) {
		return ""
	}
	b = b[off:min(uint64(len(b)), off+maxNameBytes)]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (w *pcWalk) fileLine(fn goFunc, pc uint64) (string, int) {
	t := w.t
	line, _ := w.value(fn.pcln, fn.entry, pc)
	fileno, ok := w.value(fn.pcfile, fn.entry, pc)
	if !ok || fileno < 0 {
		return "", int(line)
	}
	idx := (uint64(fn.cuOffset) + uint64(fileno)) * 4
	if idx+4 > uint64(len(t.cutab)) {
		return "", int(line)
	}
	fileOff := t.order.Uint32(t.cutab[idx:])
	if fileOff == ^uint32(0) {
		return "", int(line)
	}
	return cstring(t.filetab, uint64(fileOff)), int(line)
}

// inlineTree returns the function's inline tree, or nil.
func (t *goTable) inlineTree(fn goFunc) []byte {
	if t.gofunc == nil || len(fn.funcdata) <= funcdataInlTree*4 || len(fn.pcdata) <= pcdataInlTreeIndex*4 {
		return nil
	}
	off := t.order.Uint32(fn.funcdata[funcdataInlTree*4:])
	if off == ^uint32(0) || uint64(off) >= uint64(len(t.gofunc)) {
		return nil
	}
	return t.gofunc[off:]
}

// frames returns the frames at pc, innermost (most deeply inlined) first.
func (t *goTable) frames(pc uint64) []Frame {
	fn, ok := t.findFunc(pc)
	if !ok {
		return nil
	}
	w := t.walk()
	var frames []Frame
	file, line := w.fileLine(fn, pc)
	if tree := t.inlineTree(fn); tree != nil {
		pcdataOff := t.order.Uint32(fn.pcdata[pcdataInlTreeIndex*4:])
		// Each step moves to the call site of the inlined call, which lies
		// in the same outer function; a well-formed tree ends at -1.
		for range maxInlineDepth {
			ix, ok := w.value(pcdataOff, fn.entry, pc)
			if !ok || ix < 0 {
				break
			}
			nameOff, parentPc, ok := t.inlinedCall(tree, int(ix))
			if !ok {
				break
			}
			frames = append(frames, Frame{Function: cstring(t.funcnames, uint64(nameOff)), File: file, Line: line})
			pc = fn.entry + uint64(parentPc)
			file, line = w.fileLine(fn, pc)
		}
	}
	return append(frames, Frame{Function: cstring(t.funcnames, uint64(fn.nameOff)), File: file, Line: line})
}

// inlinedCall decodes entry ix of an inline tree (runtime.inlinedCall).
func (t *goTable) inlinedCall(tree []byte, ix int) (nameOff uint32, parentPc int32, ok bool) {
	if t.go120 {
		// {funcID uint8; _ [3]byte; nameOff int32; parentPc int32; startLine int32}
		o := uint64(ix) * 16
		if o+16 > uint64(len(tree)) {
			return 0, 0, false
		}
		return t.order.Uint32(tree[o+4:]), int32(t.order.Uint32(tree[o+8:])), true
	}
	// Go 1.18/1.19: {parent int16; funcID uint8; _ byte; file int32; line int32; func_ int32; parentPc int32}
	o := uint64(ix) * 20
	if o+20 > uint64(len(tree)) {
		return 0, 0, false
	}
	return t.order.Uint32(tree[o+12:]), int32(t.order.Uint32(tree[o+16:])), true
}

// frameless reports whether, at pc, the function has not (yet, or at all)
// moved the stack pointer: Go's leaf functions without locals never do, and
// every function is in that state at its first and last instruction. Its
// return address is then on top of the stack, and the frame pointer still
// belongs to its caller.
func (t *goTable) frameless(pc uint64) bool {
	fn, ok := t.findFunc(pc)
	if !ok {
		return false
	}
	sp, ok := t.walk().value(fn.pcsp, fn.entry, pc)
	return ok && sp == 0
}
