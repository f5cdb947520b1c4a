package delta

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRandomWindowsSumExactlyAndNeverNegative drives a table with synthetic
// cumulative records over 1000 windows: stacks appear, stop changing (and so
// leave the hot table), and come back; some exist before the baseline. The
// records are passed the three ways a table meets them: by hash (Find), as
// an append-only listing (FindAt, like the runtime's profiles), and as a
// listing that breaks that contract halfway, which must fall back to hashing
// without losing or double counting anything.
func TestRandomWindowsSumExactlyAndNeverNegative(t *testing.T) {
	for _, mode := range []string{"hash", "listing", "listing-reordered"} {
		t.Run(mode, func(t *testing.T) { randomWindows(t, mode) })
	}
}

func randomWindows(t *testing.T, mode string) {
	rng := rand.New(rand.NewPCG(1, 2))
	const stacks, windows = 300, 1000
	type rec struct {
		stack []uintptr
		tag   int64
		cum   Values
		base  Values // cumulative at the baseline
	}
	recs := make([]rec, stacks)
	for i := range recs {
		depth := 1 + rng.IntN(40)
		recs[i].stack = make([]uintptr, depth)
		for j := range recs[i].stack {
			recs[i].stack[j] = uintptr(0x400000 + rng.IntN(64)*16) // shared PCs: many near-equal stacks
		}
		recs[i].stack[0] = uintptr(i) // but each distinct
		recs[i].tag = int64(rng.IntN(3))
	}
	tab := NewTable(3)
	// listed holds the records in the order they were first listed, like
	// the runtime's append-only bucket lists.
	var listed []int
	for i := range recs {
		if rng.IntN(2) == 0 {
			recs[i].cum = Values{rng.Int64N(1000), rng.Int64N(1 << 40)}
			recs[i].base = recs[i].cum
			if mode == "hash" {
				tab.Baseline(recs[i].stack, recs[i].tag, recs[i].cum)
			} else {
				tab.BaselineAt(len(listed), recs[i].stack, recs[i].tag, recs[i].cum)
			}
			listed = append(listed, i)
		}
	}
	isListed := make([]bool, stacks)
	for _, i := range listed {
		isListed[i] = true
	}
	sums := make([]Values, stacks)
	for w := range windows {
		for i := range recs {
			// Most stacks are quiet most of the time, so they go cold.
			if rng.IntN(10) == 0 {
				if !isListed[i] {
					isListed[i] = true
					listed = append(listed, i)
				}
				recs[i].cum[0] += rng.Int64N(5)
				recs[i].cum[1] += rng.Int64N(1 << 20)
			}
		}
		order := listed
		if mode == "listing-reordered" && w >= windows/2 && w%2 == 0 {
			order = slices.Clone(listed)
			slices.Reverse(order)
		}
		for k := range order {
			// A window may meet a listing's records in either order:
			// the runtime lists them newest first.
			pos := k
			if w%2 == 1 {
				pos = len(order) - 1 - k
			}
			i := order[pos]
			r := &recs[i]
			var e *Entry
			var created bool
			if mode == "hash" {
				e, created = tab.Find(r.stack, r.tag, r.cum, false)
			} else {
				e, created = tab.FindAt(pos, r.stack, r.tag, r.cum, false)
			}
			if e == nil {
				continue // unchanged and cold
			}
			if created && len(tab.Locs(e)) != 0 {
				t.Fatalf("window %d: created entry kept old locations", w)
			}
			if created {
				tab.SetLocs(e, []uint32{uint32(r.stack[0])}) // the first PC stands for the locations
			} else if l := tab.Locs(e); len(l) != 1 || l[0] != uint32(r.stack[0]) {
				t.Fatalf("window %d stack %d: entry holds locations %v, want [%d]", w, i, l, r.stack[0])
			}
			d := e.Delta(r.cum)
			if d[0] < 0 || d[1] < 0 {
				t.Fatalf("window %d stack %d: negative delta %v", w, i, d)
			}
			if d != (Values{}) {
				tab.Touch(e)
			}
			sums[i][0] += d[0]
			sums[i][1] += d[1]
		}
		tab.EndWindow()
		if dead := tab.deadLocs; dead > len(tab.locs)/2 {
			t.Fatalf("window %d: %d of the %d words of the location arena are dead after EndWindow", w, dead, len(tab.locs))
		}
	}
	for i, r := range recs {
		want := Values{r.cum[0] - r.base[0], r.cum[1] - r.base[1]}
		if sums[i] != want {
			t.Fatalf("stack %d: windows sum to %v, cumulative change is %v", i, sums[i], want)
		}
	}
	if tab.Len() == stacks {
		t.Errorf("no entry left the hot table in %d windows", windows)
	}
	if tab.Len()+tab.ColdLen() > stacks {
		t.Errorf("hot %d + cold %d entries for %d stacks", tab.Len(), tab.ColdLen(), stacks)
	}
	if mode != "hash" {
		if want := mode == "listing-reordered"; tab.unordered != want {
			t.Errorf("listing known by hash: %v, want %v", tab.unordered, want)
		}
	}
}

func TestShrinkingCounterReportsZero(t *testing.T) {
	tab := NewTable(1)
	e, _ := tab.Find([]uintptr{1, 2}, 0, Values{10, 10}, false)
	if d := e.Delta(Values{10, 10}); d != (Values{10, 10}) {
		t.Fatalf("first delta %v", d)
	}
	if d := e.Delta(Values{5, 12}); d != (Values{0, 2}) {
		t.Fatalf("shrunk counter gave %v, want [0 2]", d)
	}
	if d := e.Delta(Values{6, 12}); d != (Values{1, 0}) {
		t.Fatalf("after shrink %v, want [1 0]", d)
	}
}

func TestEvictionKeepsOnlyValues(t *testing.T) {
	tab := NewTable(2)
	stack := []uintptr{7, 8, 9}
	e, _ := tab.Find(stack, 4, Values{3, 30}, false)
	e.Delta(Values{3, 30})
	tab.Touch(e)
	for range 3 {
		tab.EndWindow()
	}
	if tab.Len() != 0 || tab.ColdLen() != 1 {
		t.Fatalf("hot %d cold %d after idle windows, want 0 and 1", tab.Len(), tab.ColdLen())
	}
	if e, _ := tab.Find(stack, 4, Values{3, 30}, false); e != nil {
		t.Fatal("unchanged cold stack made hot again")
	}
	if tab.ColdLen() != 1 {
		t.Fatalf("cold %d after an unchanged lookup, want 1", tab.ColdLen())
	}
	e, created := tab.Find(stack, 4, Values{4, 30}, false)
	if !created {
		t.Fatal("evicted entry still hot")
	}
	if d := e.Delta(Values{4, 30}); d != (Values{1, 0}) {
		t.Fatalf("delta after coming back %v, want [1 0]", d)
	}
	if tab.ColdLen() != 0 {
		t.Fatalf("cold %d after coming back, want 0", tab.ColdLen())
	}
}
