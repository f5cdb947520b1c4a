package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync/atomic"
)

// A binaryFile is what the symbolizer keeps of one ELF file: enough to turn
// a file offset into a link-time address and that address into frames.
type binaryFile struct {
	buildID  string
	segments []elf.ProgHeader // PT_LOAD segments
	gotab    *goTable         // non-nil for Go binaries with a readable pclntab
	symbols  []symbol         // .symtab, or .dynsym when stripped; sorted by addr
	names    string           // the symbols' names

	// What the cache keeps of it (cache.go).
	keys    []fileKey               // the identities of the files it was read from
	file    atomic.Pointer[os.File] // the file, to read instructions from; nil when closed
	lastUse atomic.Uint64           // the cache's clock at the last use
	ref     *binRef                 // what mappings hold of it
	// reopenAfter is when the file, closed to stay within MaxOpenFiles and
	// not found again, is next looked for (UnixNano).
	reopenAfter atomic.Int64
}

// A binRef is how mappings hold a binary: the cache clears it when it
// drops the binary, so that mappings of processes nobody looks at do not
// keep it in memory, and a mapping that finds it cleared loads the binary
// again. Reading it costs one atomic load.
type binRef struct{ b atomic.Pointer[binaryFile] }

// newRef gives b the reference its mappings hold.
func (b *binaryFile) newRef() {
	b.ref = new(binRef)
	b.ref.b.Store(b)
}

// A symbol is a function in a symbol table. Its name is a range of the
// binaryFile's names, so that a table of thousands holds no pointer: it
// sorts without write barriers and costs the collector nothing.
type symbol struct {
	addr, size uint64
	name, len  uint32 // the name is names[name : name+len]
}

// readELF parses the headers of the ELF file r of size bytes. Every later
// read through the returned file stays within the limits of limits.go.
func readELF(r io.ReaderAt, size int64) (*elf.File, error) {
	if size > maxFileSize {
		return nil, limitError("file", uint64(size), maxFileSize)
	}
	br := newBoundedReader(r, size)
	f, err := elf.NewFile(br)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("ELF headers beyond the end of the file (%d bytes): truncated", size)
	}
	if err != nil {
		return nil, err
	}
	br.sections()
	return f, nil
}

// sectionData reads the whole of sec, or fails when it is larger than limit
// (decompressed, for a compressed section) or not in the file.
func sectionData(sec *elf.Section, limit uint64) ([]byte, error) {
	if sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("section %s has no data in the file", sec.Name)
	}
	if sec.Flags&elf.SHF_COMPRESSED != 0 {
		// Linkers compress only debugging sections, which are not read
		// here; a compressed table could claim any size once inflated.
		return nil, fmt.Errorf("section %s is compressed", sec.Name)
	}
	if sec.Size > limit {
		return nil, limitError("section "+sec.Name, sec.Size, limit)
	}
	data, err := sec.Data()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("section %s ends beyond the end of the file: truncated", sec.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading section %s: %w", sec.Name, err)
	}
	return data, nil
}

// openBinary reads the parts of the ELF file r of size bytes that
// symbolization needs. A stripped file takes its symbols from its separate
// debug file, when debug finds one for its GNU build ID (debugFile).
func openBinary(r io.ReaderAt, size int64, debug func(buildID string) (*elf.File, func())) (*binaryFile, error) {
	f, err := readELF(r, size)
	if err != nil {
		return nil, err
	}
	b := &binaryFile{buildID: readBuildID(f)}
	b.newRef()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			b.segments = append(b.segments, p.ProgHeader)
		}
	}
	if n := len(b.segments); n > maxLoadSegments {
		return nil, fmt.Errorf("%d loadable segments, %w of %d", n, ErrLimit, maxLoadSegments)
	}
	if sec := goLineTable(f); sec != nil {
		gt, err := newGoTable(f, sec)
		if err != nil {
			return nil, fmt.Errorf("reading Go line table: %w", err)
		}
		b.gotab = gt
		return b, nil
	}
	symFile := f
	if f.SectionByType(elf.SHT_SYMTAB) == nil && debug != nil {
		if d, done := debug(gnuBuildID(f)); d != nil {
			defer done()
			symFile = d
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
	data, err := sectionData(sec, maxNoteBytes)
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

func align4(n uint32) uint32 { return uint32((uint64(n) + 3) &^ 3) }

// buildIDOf reads only the build ID note of the ELF file r of size bytes.
func buildIDOf(r io.ReaderAt, size int64) string {
	f, err := readELF(r, size)
	if err != nil {
		return ""
	}
	return readBuildID(f)
}

// GNUBuildID returns the GNU build ID of the ELF file at path in hex, as
// runtime/pprof and the kernel's MMAP2 records report it, or "" when the file
// has none or cannot be read. The path is the caller's own (this process's
// mappings); the symbolizer opens the files of other processes itself.
func GNUBuildID(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	ef, err := readELF(f, fi.Size())
	if err != nil {
		return ""
	}
	return gnuBuildID(ef)
}

// fileToVaddr converts an offset in the file to the link-time virtual address
// of the PT_LOAD segment that holds it. This is where the load bias of PIE
// executables and shared libraries is removed.
func (b *binaryFile) fileToVaddr(off uint64) (uint64, bool) {
	for _, p := range b.segments {
		if off >= p.Off && off-p.Off < p.Filesz {
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
	i, ok := b.symbolAt(pc)
	if !ok {
		return nil
	}
	s := b.symbols[i]
	return []Frame{{Function: b.names[s.name : s.name+s.len]}}
}

// symbolAt returns the index of the symbol holding pc.
func (b *binaryFile) symbolAt(pc uint64) (int, bool) {
	i := sort.Search(len(b.symbols), func(i int) bool { return b.symbols[i].addr > pc }) - 1
	if i < 0 || (b.symbols[i].size != 0 && pc-b.symbols[i].addr >= b.symbols[i].size) {
		return 0, false
	}
	return i, true
}

// funcStart returns the link-time entry address of the function holding pc.
func (b *binaryFile) funcStart(pc uint64) (uint64, bool) {
	if b.gotab != nil {
		fn, ok := b.gotab.findFunc(pc)
		return fn.entry, ok
	}
	i, ok := b.symbolAt(pc)
	if !ok {
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
