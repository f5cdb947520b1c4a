package symbolize

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkNewBinary measures the cost of symbolizing in a binary the
// Symbolizer has not seen: reading /proc/PID/maps, opening the ELF file,
// reading its line table or symbols, and resolving a stack's addresses.
func BenchmarkNewBinary(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		c := startChild(b, buildGo(b, "testdata/goinline"))
		var pcs []uint64
		for _, l := range c.lines {
			if v, ok := strings.CutPrefix(l, "pc 0x"); ok {
				pc, _ := strconv.ParseUint(v, 16, 64)
				pcs = append(pcs, pc-1)
			}
		}
		benchLookups(b, c.cmd.Process.Pid, pcs)
	})
	b.Run("c+libc", func(b *testing.B) {
		c := startChild(b, buildC(b, "testdata/cfuncs/main.c"))
		benchLookups(b, c.cmd.Process.Pid, []uint64{c.field(b, "alpha"), c.field(b, "beta"), c.field(b, "getpid")})
	})
}

func benchLookups(b *testing.B, pid int, addrs []uint64) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := New()
		p, err := s.Process(pid)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range addrs {
			if _, frames := p.Lookup(a); len(frames) == 0 {
				b.Fatalf("no frames at %#x", a)
			}
		}
		s.Close()
	}
}

// BenchmarkLookupKnown measures the profiler's common case: an address of a
// binary already read, looked up again in a later window.
func BenchmarkLookupKnown(b *testing.B) {
	c := startChild(b, buildC(b, "testdata/cfuncs/main.c"))
	s := New()
	defer s.Close()
	p, err := s.Process(c.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	addrs := []uint64{c.field(b, "alpha"), c.field(b, "beta"), c.field(b, "getpid")}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, frames := p.Lookup(addrs[i%len(addrs)]); len(frames) == 0 {
			b.Fatal("no frames")
		}
	}
}
