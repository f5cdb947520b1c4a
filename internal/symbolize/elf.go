package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
)

// A binaryFile is what the symbolizer keeps of one ELF file: enough to turn
// a file offset into a link-time address and that address into frames.
type binaryFile struct {
	buildID  string
	segments []elf.ProgHeader // PT_LOAD segments
	gotab    *goTable         // non-nil for Go binaries with a readable pclntab
	symbols  []symbol         // .symtab, or .dynsym when stripped; sorted by addr
	names    string           // the symbols' names
	file     *os.File         // the file itself, to read instructions from; nil when not opened by load
}

// A symbol is a function in a symbol table. Its name is a range of the
// binaryFile's names, so that a table of thousands holds no pointer: it
// sorts without write barriers and costs the collector nothing.
type symbol struct {
	addr, size uint64
	name, len  uint32 // the name is names[name : name+len]
}

// openBinary reads the parts of the ELF file r that symbolization needs. A
// stripped file takes its symbols from its separate debug file in debugDir
// when one is installed (see debugFile).
func openBinary(r io.ReaderAt, debugDir string) (*binaryFile, error) {
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
	if sec := goLineTable(f); sec != nil {
		syms, _ := f.Symbols()
		if len(syms) == 0 {
			syms, _ = f.DynamicSymbols()
		}
		gt, err := newGoTable(f, sec, syms)
		if err != nil {
			return nil, fmt.Errorf("reading Go line table: %w", err)
		}
		b.gotab = gt
		return b, nil
	}
	symFile := f
	if f.SectionByType(elf.SHT_SYMTAB) == nil {
		if debug := debugFile(debugDir, gnuBuildID(f)); debug != nil {
			defer debug.Close()
			symFile = debug
		}
	}
	b.symbols, b.names, err = functionSymbols(symFile)
	return b, err
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
	return []Frame{{Function: b.names[s.name : s.name+s.len]}}
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

// goLineTable returns the section holding a Go binary's pclntab: .gopclntab,
// or .data.rel.ro.gopclntab where the Go 1.25 linker (and earlier ones)
// made a position-independent executable with the system linker.
func goLineTable(f *elf.File) *elf.Section {
	if sec := f.Section(".gopclntab"); sec != nil {
		return sec
	}
	return f.Section(".data.rel.ro.gopclntab")
}
