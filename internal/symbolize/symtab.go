package symbolize

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// A symtab is an ELF symbol table (.symtab or .dynsym) read in place, for
// 32- and 64-bit files alike. debug/elf's Symbols would build a string and a
// struct for every symbol, of every type: a libc's debug file has 10,000,
// and that doubled the cost of symbolizing in a new C program.
type symtab struct {
	data    []byte // the entries
	strs    []byte // the string table the names are in
	entSize int
	is64    bool
	order   binary.ByteOrder
}

// readSymtab reads the symbol table sec of f and its string table, within
// the limits of limits.go.
func readSymtab(f *elf.File, sec *elf.Section) (*symtab, error) {
	t := &symtab{is64: f.Class == elf.ELFCLASS64, order: f.ByteOrder, entSize: elf.Sym32Size}
	if t.is64 {
		t.entSize = elf.Sym64Size
	}
	if n := sec.Size / uint64(t.entSize); n > maxSymbols {
		return nil, fmt.Errorf("%s has %d symbols, %w of %d", sec.Name, n, ErrLimit, maxSymbols)
	}
	if int(sec.Link) >= len(f.Sections) || sec.Link == 0 {
		return nil, fmt.Errorf("%s links to no string table", sec.Name)
	}
	var err error
	if t.data, err = sectionData(sec, maxSectionBytes); err != nil {
		return nil, err
	}
	if t.strs, err = sectionData(f.Sections[sec.Link], maxSectionBytes); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *symtab) len() int { return len(t.data) / t.entSize }

// entry decodes symbol i: Elf64_Sym {name u32, info u8, other u8, shndx
// u16, value u64, size u64} or Elf32_Sym {name u32, value u32, size u32,
// info u8, other u8, shndx u16}.
func (t *symtab) entry(i int) (name uint32, typ elf.SymType, value, size uint64) {
	e := t.data[i*t.entSize : (i+1)*t.entSize]
	name = t.order.Uint32(e)
	if t.is64 {
		return name, elf.SymType(e[4] & 0xf), t.order.Uint64(e[8:]), t.order.Uint64(e[16:])
	}
	return name, elf.SymType(e[12] & 0xf), uint64(t.order.Uint32(e[4:])), uint64(t.order.Uint32(e[8:]))
}

// nameLen returns the length of the name at off, at most maxNameBytes, or
// false when off is outside the string table.
func (t *symtab) nameLen(off uint32) (uint32, bool) {
	if uint64(off) >= uint64(len(t.strs)) {
		return 0, false
	}
	s := t.strs[off:min(uint64(len(t.strs)), uint64(off)+maxNameBytes)]
	if n := bytes.IndexByte(s, 0); n >= 0 {
		return uint32(n), true
	}
	return uint32(len(s)), true
}

// functionSymbols returns the function symbols of f, sorted by address:
// from .symtab, or from .dynsym (the exported functions only) when f is
// stripped. The names stay in the string table, returned as names.
func functionSymbols(f *elf.File) (syms []symbol, names string, err error) {
	sec := f.SectionByType(elf.SHT_SYMTAB)
	if sec == nil {
		sec = f.SectionByType(elf.SHT_DYNSYM)
	}
	if sec == nil {
		return nil, "", nil
	}
	t, err := readSymtab(f, sec)
	if err != nil {
		return nil, "", err
	}
	n := t.len()
	out := make([]symbol, 0, n)
	for i := 1; i < n; i++ { // entry 0 is reserved
		name, typ, value, size := t.entry(i)
		if (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) || value == 0 {
			continue
		}
		l, ok := t.nameLen(name)
		if !ok {
			continue
		}
		out = append(out, symbol{addr: value, size: size, name: name, len: l})
	}
	slices.SortFunc(out, func(a, b symbol) int { return cmp.Compare(a.addr, b.addr) })
	// The string table was read for this file alone and is not changed
	// again: the names can share it rather than copy it.
	return out, unsafe.String(unsafe.SliceData(t.strs), len(t.strs)), nil
}

// goSymbols finds the values of the symbols a Go line table needs in f's
// symbol table: runtime.text (where the functions' offsets start) and
// go:func.* (what the inline trees' offsets are relative to). Both are 0
// when f has no symbol table.
func goSymbols(f *elf.File) (text, gofunc uint64) {
	sec := f.SectionByType(elf.SHT_SYMTAB)
	if sec == nil {
		sec = f.SectionByType(elf.SHT_DYNSYM)
	}
	if sec == nil {
		return 0, 0
	}
	t, err := readSymtab(f, sec)
	if err != nil {
		return 0, 0
	}
	for i := 1; i < t.len(); i++ {
		name, _, value, _ := t.entry(i)
		switch {
		case t.named(name, "runtime.text"):
			text = value
		case t.named(name, "go:func.*"), t.named(name, "go.func.*"):
			gofunc = value
		}
	}
	return text, gofunc
}

// named reports whether the name at off is s.
func (t *symtab) named(off uint32, s string) bool {
	end := uint64(off) + uint64(len(s))
	return end < uint64(len(t.strs)) && t.strs[end] == 0 && string(t.strs[off:end]) == s
}
