package pprofenc

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

func inlinedLeaf(pcs []uintptr) int { return runtime.Callers(1, pcs) }

//go:noinline
func stackHere(pcs []uintptr) int {
	return inlinedLeaf(pcs) // inlined: folded into stackHere's location
}

// startLineOf finds the line of "func name(" in this file.
func startLineOf(t *testing.T, name string) int64 {
	src, err := os.ReadFile("builder_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "func "+name+"(") {
			return int64(i + 1)
		}
	}
	t.Fatalf("no func %s in builder_test.go", name)
	return 0
}

func build(t *testing.T, b *Builder, samples func(b *Builder)) *profile.Profile {
	t.Helper()
	b.Begin(Header{
		SampleTypes: []ValueType{{"samples", "count"}, {"delay", "nanoseconds"}},
		PeriodType:  ValueType{"samples", "count"},
		Period:      1, TimeNanos: 42, DurationNanos: 7,
	})
	samples(b)
	var buf bytes.Buffer
	if err := b.Finish(&buf); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("invalid profile: %v", err)
	}
	return p
}

func TestSymbolsOfInlinedStack(t *testing.T) {
	pcs := make([]uintptr, 64)
	pcs = pcs[:stackHere(pcs)]
	sym := NewSymbols(nil)
	locs := sym.Stack(nil, pcs)
	p := build(t, NewBuilder(sym), func(b *Builder) {
		b.Sample(locs, []int64{3, 1000}, []Label{{Key: "k", Str: "v"}, {Key: "bytes", Num: 64}})
	})
	if len(p.Sample) != 1 || p.Sample[0].Value[1] != 1000 || p.Sample[0].Label["k"][0] != "v" || p.Sample[0].NumLabel["bytes"][0] != 64 {
		t.Fatalf("sample %v", p.Sample)
	}
	leaf := p.Sample[0].Location[0]
	if len(leaf.Line) != 2 {
		t.Fatalf("leaf location lines %v, want inlinedLeaf folded into stackHere", leaf.Line)
	}
	for i, name := range []string{"inlinedLeaf", "stackHere"} {
		ln := leaf.Line[i]
		if !strings.HasSuffix(ln.Function.Name, "."+name) || !strings.HasSuffix(ln.Function.Filename, "builder_test.go") {
			t.Errorf("line %d: %s in %s, want %s", i, ln.Function.Name, ln.Function.Filename, name)
		}
		if want := startLineOf(t, name); startLinesKnown && ln.Function.StartLine != want {
			t.Errorf("%s start line %d, want %d", name, ln.Function.StartLine, want)
		}
	}
	if p.TimeNanos != 42 || p.DurationNanos != 7 {
		t.Errorf("time %d duration %d", p.TimeNanos, p.DurationNanos)
	}
}

// TestLongMessagesAndReuse writes samples longer than 127 bytes (their length
// takes two bytes) and checks the next profile holds only what it uses.
func TestLongMessagesAndReuse(t *testing.T) {
	pcs := make([]uintptr, 64)
	pcs = pcs[:stackHere(pcs)]
	sym := NewSymbols([]Mapping{{Start: 0, Limit: 1 << 62, File: "/bin/x", BuildID: "abc"}})
	b := NewBuilder(sym)
	locs := sym.Stack(nil, pcs)
	long := make([]uint32, 0, 100)
	for range 50 {
		long = append(long, locs...)
	}
	p := build(t, b, func(b *Builder) { b.Sample(long, []int64{1, 1 << 40}, nil) })
	if got := len(p.Sample[0].Location); got != len(long) {
		t.Fatalf("locations %d, want %d", got, len(long))
	}
	if len(p.Mapping) != 1 || p.Mapping[0].BuildID != "abc" || p.Location[0].Mapping != p.Mapping[0] {
		t.Fatalf("mapping %v", p.Mapping)
	}
	p = build(t, b, func(b *Builder) { b.Sample(locs[:1], []int64{1, 2}, nil) })
	if len(p.Location) != 1 || len(p.Function) != 2 {
		t.Fatalf("second profile: %d locations, %d functions; want 1 and 2", len(p.Location), len(p.Function))
	}
}

// Parca rejects a profile whose location, function and mapping IDs are not
// their 1-based positions in its tables ("function id is not sequential"),
// so every profile numbers what it uses from 1, even when it uses a
// different subset of the shared Symbols cache than the profile before it.
func TestIDsAreSequentialInEveryProfile(t *testing.T) {
	sym := NewSymbols([]Mapping{{Start: 0, Limit: 1 << 62, File: "/bin/x", BuildID: "abc"}})
	pcs := make([]uintptr, 64)
	deep := sym.Stack(nil, pcs[:stackHere(pcs)])
	shallow := sym.Stack(nil, pcs[:inlinedLeaf(pcs)])
	b := NewBuilder(sym)
	for _, stacks := range [][][]uint32{{deep}, {shallow}, {shallow, deep}} {
		p := build(t, b, func(b *Builder) {
			for _, s := range stacks {
				b.Sample(s, []int64{1, 1}, nil)
			}
		})
		for i, l := range p.Location {
			if l.ID != uint64(i+1) {
				t.Fatalf("location %d has ID %d", i, l.ID)
			}
		}
		for i, f := range p.Function {
			if f.ID != uint64(i+1) {
				t.Fatalf("function %d has ID %d", i, f.ID)
			}
		}
		for i, m := range p.Mapping {
			if m.ID != uint64(i+1) {
				t.Fatalf("mapping %d has ID %d", i, m.ID)
			}
		}
	}
}

// TestBuildersShareCompressorsSafely finishes profiles from several Builders
// at once (as the collectors of two profilers in one process do): each
// profile must hold its own samples, whichever compressor wrote it.
func TestBuildersShareCompressorsSafely(t *testing.T) {
	pcs := make([]uintptr, 64)
	pcs = pcs[:stackHere(pcs)]
	errs := make(chan string, 4)
	for w := range 4 {
		go func() {
			sym := NewSymbols(nil)
			b := NewBuilder(sym)
			locs := sym.Stack(nil, pcs)
			for i := range 20 {
				want := int64(w*1000 + i)
				b.Begin(Header{SampleTypes: []ValueType{{"samples", "count"}}})
				b.Sample(locs, []int64{want}, nil)
				var buf bytes.Buffer
				if err := b.Finish(&buf); err != nil {
					errs <- err.Error()
					return
				}
				p, err := profile.Parse(&buf)
				if err != nil {
					errs <- err.Error()
					return
				}
				if len(p.Sample) != 1 || p.Sample[0].Value[0] != want {
					errs <- fmt.Sprintf("builder %d profile %d: samples %v, want one of value %d", w, i, p.Sample, want)
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
