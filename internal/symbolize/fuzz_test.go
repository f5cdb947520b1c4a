package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"runtime/metrics"
	"testing"
)

// The fuzz targets read what a hostile container could hand the
// symbolizer: any bytes as an ELF file, a pclntab, a build-ID note. Each
// must return (an error or a result) without panicking, and allocate no
// more than a bound proportional to its input: the limits of limits.go are
// far larger than any input the fuzzer makes, so what holds them here is
// that every size a file declares is checked against what it holds.

// seeds returns the bytes of a C and a Go test program: real files for the
// fuzzers to start from, built when the fuzz target starts rather than
// committed.
func seeds(f *testing.F) (c, gobin []byte) {
	f.Helper()
	read := func(path string) []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		return data
	}
	return read(buildC(f, "testdata/cfuncs/main.c")), read(buildGo(f, "testdata/goinline", "-ldflags=-w"))
}

// addELFSeeds adds each binary whole, cut short (the section headers,
// at the end of the file, missing) and as its first 4 KiB.
func addELFSeeds(f *testing.F, bins ...[]byte) {
	for _, b := range bins {
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[:min(len(b), 4096)])
	}
}

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// checkAllocs fails t when the input of n bytes made the reader allocate
// more than a generous multiple of it.
func checkAllocs(t *testing.T, n int) func() {
	before := heapAllocs()
	return func() {
		if got, limit := heapAllocs()-before, uint64(64<<20+32*n); got > limit {
			t.Errorf("reading %d bytes allocated %d bytes, over %d", n, got, limit)
		}
	}
}

func FuzzOpenBinary(f *testing.F) {
	c, gobin := seeds(f)
	addELFSeeds(f, c, gobin)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer checkAllocs(t, len(data))()
		b, err := openBinary(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			return
		}
		exerciseBinary(b)
	})
}

// exerciseBinary looks up addresses at the start of b's segments,
// symbols and functions and just past them.
func exerciseBinary(b *binaryFile) {
	for _, p := range b.segments {
		for _, off := range []uint64{p.Off, p.Off + p.Filesz/2, p.Off + p.Filesz} {
			if v, ok := b.fileToVaddr(off); ok {
				b.frames(v)
				b.funcStart(v)
			}
		}
	}
	for i, s := range b.symbols {
		if i == 64 {
			break
		}
		b.frames(s.addr)
		b.frames(s.addr + s.size)
	}
	if b.gotab != nil {
		exerciseGoTable(b.gotab)
	}
}

// exerciseGoTable looks up the first functions of t, at their entry and a
// few bytes in, as the profiler would.
func exerciseGoTable(t *goTable) {
	for i := 0; i < min(t.nfunc, 64); i++ {
		entry := t.textStart + uint64(t.order.Uint32(t.pcln[i*8:]))
		for _, d := range []uint64{0, 1, 7, 33} {
			t.frames(entry + d)
			t.frameless(entry + d)
		}
	}
	t.frames(t.textStart - 1)
	t.frames(^uint64(0))
}

func FuzzPclntab(f *testing.F) {
	_, gobin := seeds(f)
	ef, err := elf.NewFile(bytes.NewReader(gobin))
	if err != nil {
		f.Fatal(err)
	}
	tab, err := goLineTable(ef).Data()
	if err != nil {
		f.Fatal(err)
	}
	gt, err := newGoTable(ef, goLineTable(ef))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tab, gt.gofunc, false)
	f.Add(tab, gt.gofunc, true)
	f.Add(tab[:len(tab)/3], gt.gofunc[:len(gt.gofunc)/3], false)
	f.Add(tab[:64], []byte(nil), false)
	f.Fuzz(func(t *testing.T, pclntab, gofunc []byte, bigEndian bool) {
		defer checkAllocs(t, len(pclntab)+len(gofunc))()
		var order binary.ByteOrder = binary.LittleEndian
		if bigEndian {
			order = binary.BigEndian
		}
		gt, err := parsePclntab(pclntab, order)
		if err != nil {
			return
		}
		gt.gofunc = gofunc
		exerciseGoTable(gt)
	})
}

func FuzzBuildID(f *testing.F) {
	c, gobin := seeds(f)
	addELFSeeds(f, c, gobin)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer checkAllocs(t, len(data))()
		buildIDOf(bytes.NewReader(data), int64(len(data)))
	})
}
