package symbolize

import (
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// functionSymbols returns the function symbols of f, sorted by address:
// from .symtab, or from .dynsym (the exported functions only) when f is
// stripped.
func functionSymbols(f *elf.File) (syms []symbol, names string, err error) {
	sec := f.SectionByType(elf.SHT_SYMTAB)
	if sec == nil {
		sec = f.SectionByType(elf.SHT_DYNSYM)
	}
	if sec == nil {
		return nil, "", nil
	}
	if f.Class != elf.ELFCLASS64 {
		syms, names, err = symbolsOf32(f, sec.Type)
	} else {
		syms, names, err = readSymbols64(f, sec)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", sec.Name, err)
	}
	slices.SortFunc(syms, func(a, b symbol) int { return cmp.Compare(a.addr, b.addr) })
	return syms, names, nil
}

// readSymbols64 reads the function symbols of the 64-bit symbol table sec
// in place. debug/elf's Symbols would build a string and a struct for every
// symbol, of every type: a libc's debug file has 10,000, and that doubled
// the cost of symbolizing in a new C program. The names stay in the string
// table, returned as names.
func readSymbols64(f *elf.File, sec *elf.Section) ([]symbol, string, error) {
	const entSize = 24 // Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64
	if int(sec.Link) >= len(f.Sections) {
		return nil, "", errors.New("symbol table links to no string table")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, "", err
	}
	strs, err := f.Sections[sec.Link].Data()
	if err != nil {
		return nil, "", err
	}
	names := string(strs)
	order := f.ByteOrder
	out := make([]symbol, 0, len(data)/entSize)
	for off := entSize; off+entSize <= len(data); off += entSize { // entry 0 is reserved
		typ := elf.SymType(data[off+4] & 0xf)
		value := order.Uint64(data[off+8:])
		if (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) || value == 0 {
			continue
		}
		name := order.Uint32(data[off:])
		if int(name) >= len(names) {
			continue
		}
		n := strings.IndexByte(names[name:], 0)
		if n < 0 {
			n = len(names) - int(name)
		}
		out = append(out, symbol{addr: value, size: order.Uint64(data[off+16:]), name: name, len: uint32(n)})
	}
	return out, names, nil
}

// symbolsOf32 reads the function symbols of a 32-bit file through debug/elf.
func symbolsOf32(f *elf.File, typ elf.SectionType) ([]symbol, string, error) {
	read := f.Symbols
	if typ == elf.SHT_DYNSYM {
		read = f.DynamicSymbols
	}
	syms, err := read()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, "", err
	}
	var out []symbol
	var names strings.Builder
	for _, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if (typ == elf.STT_FUNC || typ == elf.STT_GNU_IFUNC) && s.Value != 0 {
			out = append(out, symbol{addr: s.Value, size: s.Size, name: uint32(names.Len()), len: uint32(len(s.Name))})
			names.WriteString(s.Name)
		}
	}
	return out, names.String(), nil
}

// debugFile opens the separate debug file of the GNU build ID id installed
// in dir (.build-id/ab/cdef....debug: Debian's -dbgsym and Fedora's
// -debuginfo packages, where gdb and perf look too), or returns nil. A
// stripped file names only its exported functions otherwise.
func debugFile(dir, id string) *elf.File {
	if dir == "" || len(id) < 3 {
		return nil
	}
	f, err := elf.Open(filepath.Join(dir, ".build-id", id[:2], id[2:]+".debug"))
	if err != nil {
		return nil
	}
	if gnuBuildID(f) != id || f.SectionByType(elf.SHT_SYMTAB) == nil {
		f.Close()
		return nil
	}
	return f
}
