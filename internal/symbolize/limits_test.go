package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// sparseReader reads data followed by zeros up to size bytes, as a sparse
// file does: a crafted file can be large without taking room.
type sparseReader struct {
	data []byte
	size int64
}

func (r sparseReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.size-off)
	clear(p[:n])
	if off < int64(len(r.data)) {
		copy(p[:n], r.data[off:])
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// TestCraftedSizesAreRefused patches the headers of a real binary to claim
// what a crafted file can claim, and checks that each is refused with an
// error naming what and which limit, before anything of that size is read.
func TestCraftedSizesAreRefused(t *testing.T) {
	orig := mustRead(t, buildC(t, "testdata/cfuncs/main.c"))
	f, err := elf.NewFile(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	shoff := le.Uint64(orig[0x28:])
	// header returns the offset of the section header of the named section.
	header := func(name string) uint64 {
		for i, s := range f.Sections {
			if s.Name == name {
				return shoff + uint64(i)*64
			}
		}
		t.Fatalf("no section %s", name)
		return 0
	}
	for _, tc := range []struct {
		name  string
		patch func(b []byte)
		size  int64 // of the file, when larger than its bytes
		want  string
		limit bool // errors.Is ErrLimit
	}{{
		name:  "billions of symbols",
		patch: func(b []byte) { le.PutUint64(b[header(".symtab")+32:], 24<<32) },
		want:  ".symtab has 4294967296 symbols", limit: true,
	}, {
		name:  "huge string table",
		patch: func(b []byte) { le.PutUint64(b[header(".strtab")+32:], 1<<40) },
		want:  "section .strtab of 1024 GiB", limit: true,
	}, {
		name: "string table past the end",
		patch: func(b []byte) {
			le.PutUint64(b[header(".strtab")+24:], uint64(len(b)-16))
			le.PutUint64(b[header(".strtab")+32:], 100<<20)
		},
		want: "section .strtab ends beyond the end of the file: truncated",
	}, {
		name: "compressed symbol table",
		patch: func(b []byte) {
			h := header(".symtab")
			le.PutUint64(b[h+8:], le.Uint64(b[h+8:])|uint64(elf.SHF_COMPRESSED))
		},
		want: "compressed",
	}, {
		name: "a billion section headers",
		patch: func(b []byte) {
			le.PutUint16(b[0x3c:], 0)         // e_shnum: see section 0
			le.PutUint64(b[shoff+32:], 1<<30) // sh_size of section 0: the count
			le.PutUint16(b[0x3e:], 1)         // e_shstrndx
		},
		size: maxFileSize,
		want: "ELF headers of", limit: true,
	}, {
		name: "hundreds of loadable segments",
		patch: func(b []byte) {
			// Fill the file after its header with PT_LOAD entries.
			n := (len(b) - 64) / 56
			le.PutUint64(b[0x20:], 64)        // e_phoff
			le.PutUint16(b[0x38:], uint16(n)) // e_phnum
			for i := range n {
				clear(b[64+i*56 : 64+(i+1)*56])
				le.PutUint32(b[64+i*56:], uint32(elf.PT_LOAD))
			}
			le.PutUint64(b[0x28:], 0) // e_shoff: no sections
			le.PutUint16(b[0x3c:], 0)
			le.PutUint16(b[0x3e:], 0)
		},
		want: "loadable segments, over the symbolizer's limit of 256", limit: true,
	}, {
		name:  "oversized file",
		patch: func([]byte) {},
		size:  maxFileSize + 1,
		want:  "file of 4294967297 bytes is over the symbolizer's limit of 4 GiB", limit: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			tc.patch(b)
			size := tc.size
			if size == 0 {
				size = int64(len(b))
			}
			before := heapAllocs()
			_, err := openBinary(sparseReader{b, size}, size, nil)
			if allocated := heapAllocs() - before; allocated > 64<<20 {
				t.Errorf("refusing it allocated %d bytes", allocated)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrLimit) != tc.limit {
				t.Errorf("openBinary = %v; want an error with %q, errors.Is(ErrLimit) %v", err, tc.want, tc.limit)
			}
		})
	}
}

// TestPCValueWalkIsBounded walks a crafted pc-value table that never
// reaches the address (every pc delta zero) for as long as it is: the walk
// stops when the lookup's budget is spent, and later walks of the lookup
// do not start.
func TestPCValueWalkIsBounded(t *testing.T) {
	tab := []byte{0} // offset 0 means "no table"
	for len(tab) < 4*maxPCValueSteps {
		tab = append(tab, 2, 0) // value +1, pc +0
	}
	short := uint32(len(tab))
	tab = append(tab, 2, 5) // a table that answers in one step
	gt := &goTable{order: binary.LittleEndian, minLC: 1, pctab: tab}
	if v, ok := gt.walk().value(short, 0x1000, 0x1001); !ok || v != 0 {
		t.Fatalf("value of the short table = %d, %v; want 0, true", v, ok)
	}
	w := gt.walk()
	if v, ok := w.value(1, 0x1000, 0x1001); ok || w.steps != 0 {
		t.Errorf("value = %d, %v with %d steps left; want not found, the budget spent", v, ok, w.steps)
	}
	if _, ok := w.value(short, 0x1000, 0x1001); ok {
		t.Error("a walk after the budget was spent found a value")
	}
}
