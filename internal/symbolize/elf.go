package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// A binaryFile is what the symbolizer keeps of one ELF file: enough to turn
// a file offset into a link-time address and that address into frames.
type binaryFile struct {
	buildID  string
	segments []elf.ProgHeader // PT_LOAD segments
	gotab    *goTable         // non-nil for Go binaries with a readable pclntab
	symbols  []symbol         // .symtab, or .dynsym when stripped; sorted by addr
	file     *os.File         // the file itself, to read instructions from; nil when not opened by load
	stripped bool             // symbols come from .dynsym: the exported functions only
}

type symbol struct {
	addr, size uint64
	name       string
}

// openBinary reads the parts of the ELF file at path that symbolization needs.
func openBinary(r io.ReaderAt) (*binaryFile, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := &binaryFile{buildID: readBuildID(f)}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			b.segments = append(b.segments, p.ProgHeader)
		}
	}
	syms, symErr := f.Symbols()
	if len(syms) == 0 {
		syms, _ = f.DynamicSymbols()
		b.stripped = true
	}
	if sec := f.Section(".gopclntab"); sec != nil {
		gt, err := newGoTable(f, sec, syms)
		if err != nil {
			return nil, fmt.Errorf("reading Go line table: %w", err)
		}
		b.gotab = gt
		return b, nil
	}
	if len(syms) == 0 && symErr != nil && !errors.Is(symErr, elf.ErrNoSymbols) {
		return nil, symErr
	}
	b.symbols = functions(syms)
	return b, nil
}

// functions keeps the function symbols of syms, sorted by address.
func functions(syms []elf.Symbol) []symbol {
	var out []symbol
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) || s.Value == 0 {
			continue
		}
		out = append(out, symbol{addr: s.Value, size: s.Size, name: s.Name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	return out
}

// addDebugSymbols replaces the .dynsym symbols of a stripped b with the
// full symbol table of its separate debug file, when one is installed in
// dir under its GNU build ID (.build-id/ab/cdef....debug: Debian's -dbgsym
// and Fedora's -debuginfo packages, where gdb and perf look too). Only the
// exported functions of a stripped binary have a name otherwise.
func (b *binaryFile) addDebugSymbols(dir string) {
	if !b.stripped || b.gotab != nil || len(b.buildID) < 3 {
		return
	}
	if _, err := hex.DecodeString(b.buildID); err != nil {
		return // a Go build ID: Go binaries keep their pclntab
	}
	f, err := elf.Open(filepath.Join(dir, ".build-id", b.buildID[:2], b.buildID[2:]+".debug"))
	if err != nil {
		return
	}
	defer f.Close()
	if gnuBuildID(f) != b.buildID {
		return
	}
	if syms, err := f.Symbols(); err == nil && len(syms) > 0 {
		b.symbols, b.stripped = functions(syms), false
	}
}

// readBuildID returns the GNU build ID in hex, else the Go build ID, else "".
func readBuildID(f *elf.File) string {
	if id := gnuBuildID(f); id != "" {
		return id
	}
	if desc := note(f, ".note.go.buildid"); desc != nil {
		return string(bytes.TrimRight(desc, "\x00"))
	}
	return ""
}

// gnuBuildID returns the GNU build ID note of f in hex, or "".
func gnuBuildID(f *elf.File) string {
	if desc := note(f, ".note.gnu.build-id"); desc != nil {
		return hex.EncodeToString(desc)
	}
	return ""
}

// note returns the descriptor of the first note in the named section, or nil.
func note(f *elf.File, section string) []byte {
	sec := f.Section(section)
	if sec == nil {
		return nil
	}
	data, err := sec.Data()
	if err != nil || len(data) < 12 {
		return nil
	}
	namesz := f.ByteOrder.Uint32(data[0:])
	descsz := f.ByteOrder.Uint32(data[4:])
	off := 12 + uint64(align4(namesz))
	if off+uint64(descsz) > uint64(len(data)) {
		return nil
	}
	return data[off : off+uint64(descsz)]
}

// GNUBuildID returns the GNU build ID of the ELF file at path in hex, as
// runtime/pprof and the kernel's MMAP2 records report it, or "" when the file
// has none or cannot be read.
func GNUBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	return gnuBuildID(f)
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }

// fileToVaddr converts an offset in the file to the link-time virtual address
// of the PT_LOAD segment that holds it. This is where the load bias of PIE
// executables and shared libraries is removed.
func (b *binaryFile) fileToVaddr(off uint64) (uint64, bool) {
	for _, p := range b.segments {
		if off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// frames symbolizes the link-time address pc, innermost frame first.
func (b *binaryFile) frames(pc uint64) []Frame {
	if b.gotab != nil {
		return b.gotab.frames(pc)
	}
	i := sort.Search(len(b.symbols), func(i int) bool { return b.symbols[i].addr > pc }) - 1
	if i < 0 {
		return nil
	}
	s := b.symbols[i]
	if s.size != 0 && pc >= s.addr+s.size {
		return nil
	}
	return []Frame{{Function: s.name}}
}

// readVaddr reads n bytes at link-time address addr from the file.
func readVaddr(f *elf.File, addr uint64, n uint64) ([]byte, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr+n > p.Vaddr+p.Filesz {
			continue
		}
		buf := make([]byte, n)
		if _, err := p.ReadAt(buf, int64(addr-p.Vaddr)); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return nil, fmt.Errorf("address %#x is not in a loaded segment", addr)
}

// buildIDOf reads only the build ID note of the ELF file r.
func buildIDOf(r io.ReaderAt) string {
	f, err := elf.NewFile(r)
	if err != nil {
		return ""
	}
	defer f.Close()
	return readBuildID(f)
}

// funcStart returns the link-time entry address of the function holding pc.
func (b *binaryFile) funcStart(pc uint64) (uint64, bool) {
	if b.gotab != nil {
		fn, ok := b.gotab.findFunc(pc)
		return fn.entry, ok
	}
	i := sort.Search(len(b.symbols), func(i int) bool { return b.symbols[i].addr > pc }) - 1
	if i < 0 || (b.symbols[i].size != 0 && pc >= b.symbols[i].addr+b.symbols[i].size) {
		return 0, false
	}
	return b.symbols[i].addr, true
}
