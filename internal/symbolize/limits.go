package symbolize

import (
	"errors"
	"fmt"
	"io"
)

// The limits on what the symbolizer reads of one file. The files belong to
// programs it does not trust, so a file's headers may claim any size; these
// keep a crafted file from costing more than a real large binary does. A
// file over a limit is refused whole (see ErrLimit).
const (
	// maxFileSize is the largest file considered at all.
	maxFileSize = 4 << 30
	// maxHeaderBytes bounds what parsing the ELF headers reads: the
	// program and section headers and the section names.
	maxHeaderBytes = 16 << 20
	// maxSectionBytes bounds any one section read: a Go pclntab, the
	// read-only data holding its inline trees, a symbol or string table.
	// A Go binary's pclntab is about a quarter of it, so this allows Go
	// binaries of about 500 MB. Compressed sections are not read.
	maxSectionBytes = 128 << 20
	// maxReadBytes bounds all the sections read from one file together.
	maxReadBytes = 256 << 20
	// maxNoteBytes bounds a build-ID note section.
	maxNoteBytes = 64 << 10
	// maxSymbols bounds the entries of a symbol table (.symtab, .dynsym).
	maxSymbols = 4 << 20
	// maxNameBytes bounds a function or file name; longer ones are cut.
	maxNameBytes = 16 << 10
	// maxPCValueSteps bounds the pc-value table steps of one lookup (all
	// its tables and inlined frames): a real table reaches an address of
	// a common function in tens, of a huge generated one in thousands.
	maxPCValueSteps = 1 << 16
	// maxInlineDepth bounds the inlined frames of one address.
	maxInlineDepth = 100
	// maxLoadSegments bounds a file's PT_LOAD segments, which every
	// lookup searches; linkers write two to five.
	maxLoadSegments = 256
)

// ErrLimit is wrapped by the errors of files refused for a size over one of
// the symbolizer's limits (see the package documentation).
var ErrLimit = errors.New("over the symbolizer's limit")

// limitError says what went over which limit, as "section .symtab of 3 GiB
// is over the symbolizer's limit of 256 MiB".
func limitError(what string, n, limit uint64) error {
	return fmt.Errorf("%s of %s is %w of %s", what, sizeString(n), ErrLimit, sizeString(limit))
}

// sizeString writes a byte count the way the limits are documented.
func sizeString(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n < 1<<20 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// A boundedReader reads a file of a known size and no more than budget
// bytes of it in all: every read of a parse goes through one, so that no
// header or table a file declares can make the parse read (and allocate)
// more than the limits allow, whatever the file's own sizes say. Reads past
// size fail as at the end of the file.
type boundedReader struct {
	r      io.ReaderAt
	size   int64
	budget int64  // bytes that may still be read
	phase  string // what is being read, for the error: "ELF headers", "sections"
	limit  uint64 // the phase's limit, for the error
}

func newBoundedReader(r io.ReaderAt, size int64) *boundedReader {
	return &boundedReader{r: r, size: size, budget: maxHeaderBytes, phase: "ELF headers", limit: maxHeaderBytes}
}

// sections ends the headers' phase: from now on the sections are read,
// within their own budget.
func (b *boundedReader) sections() {
	b.budget, b.phase, b.limit = maxReadBytes, "sections read", maxReadBytes
}

func (b *boundedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= b.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if want > b.size-off {
		want = b.size - off
	}
	if want > b.budget {
		return 0, limitError(b.phase, uint64(b.limitUsed()+want), b.limit)
	}
	b.budget -= want
	n, err := b.r.ReadAt(p[:want], off)
	if err == nil && int64(n) < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// limitUsed is what the phase read so far.
func (b *boundedReader) limitUsed() int64 { return int64(b.limit) - b.budget }
