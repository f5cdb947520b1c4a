// Package delta turns the runtime's cumulative per-stack counters into
// per-window changes. It remembers, for each stack, the cumulative values it
// last reported, so the windows of a run sum exactly to the runtime's change
// over the run; a value that did not grow reports zero, never less.
//
// Entries not touched for a few windows leave the hot table (their
// symbolized locations and bookkeeping) and only their last cumulative values
// stay, so that a stack that comes back still reports only what is new. The
// runtime never forgets a stack either; this keeps what the SDK holds per
// such stack to a few words.
//
// A table knows a stack in one of two ways. Records of an append-only
// listing (the runtime's heap, mutex and block profiles: FindAt, BaselineAt,
// SkipAt) are known by their position in it, checked against the address of
// the runtime's copy of the stack, so an unchanged record costs two
// comparisons and no hashing. Other records (Find, Baseline) are known by a
// 64-bit hash of the stack.
package delta

import (
	"hash/maphash"
	"slices"
	"unsafe"
)

// Values are the cumulative counters of one stack, already scaled the way the
// profile reports them.
type Values [2]int64

// Entry is the hot state of one stack. It holds no pointers: its locations
// live in an arena shared by the whole table, so a table of many thousand
// entries is a few large allocations the garbage collector need not scan,
// not one small one per stack. The stack itself is not kept: its 64-bit hash
// names it.
type Entry struct {
	key  uint64
	tag  int64
	prev Values
	locs span
	slot int32  // position in the listing (FindAt), or -1 (Find)
	seen uint32 // last window Touch was called in
	live bool   // in the hot table (false: a free slot)

	// Skip is the caller's mark, kept while the entry stays hot and
	// cleared when it is made again: a collector sets it on stacks it
	// leaves out of its profile, so it decides once per stack.
	Skip bool
}

// Key returns the entry's hash key, stable for its stack and tag.
func (e *Entry) Key() uint64 { return e.key }

// span locates an entry's part of an arena.
type span struct{ off, n uint32 }

// slot is what a table remembers of the record at one position of a
// listing. The runtime keeps each profile's records in a list it only ever
// prepends to and never frees, and lists them newest first with their stacks
// pointing into the records themselves: counted from the oldest, a position
// always holds the same record, whose stack stays at the same address.
// TestRuntimeListingIsAppendOnly (internal/collect) checks this; the address
// and first PC are checked on every lookup as well, and a table that finds
// them changed falls back to hashing (unorder).
type slot struct {
	stk  uintptr // address of the stack's first PC
	pc0  uintptr // the first PC
	key  uint64  // hash of stack and tag; 0 until the tag is known (SkipAt)
	prev Values  // cumulative values while the record is cold
	n    int32   // stack length
	hot  int32   // 1 + index of its entry while hot, else 0
}

// Table holds the entries of one profile type.
type Table struct {
	entries []Entry
	free    []int32
	hot     int // live entries
	window  uint32
	keepFor uint32
	seed    maphash.Seed // keys are only compared within the table

	// Records known by position (FindAt). unordered is set once a listing
	// broke the positional contract; its records are then moved to index
	// and cold and known by hash from then on.
	slots     []slot
	unordered bool

	// Records known by hash (Find): hot entries by key, and the
	// cumulative values of stacks that left the hot table.
	index map[uint64]int32
	cold  map[uint64]Values

	// locs is the arena of the hot entries' location IDs. Entries that
	// leave the hot table leave their words behind as dead; EndWindow
	// compacts the arena once most of it is dead.
	locs     []uint32
	deadLocs int
}

// NewTable returns a table that moves an entry out of the hot table once it
// has not been touched for keepFor windows.
func NewTable(keepFor int) *Table {
	if keepFor < 1 {
		keepFor = 1
	}
	return &Table{
		index:   make(map[uint64]int32),
		cold:    make(map[uint64]Values),
		window:  1,
		keepFor: uint32(keepFor),
		seed:    maphash.MakeSeed(),
	}
}

// Reserve makes room for hot more hot entries, listed more listing
// positions and words more location IDs, so that a first reading of many
// records (the baseline, the first window) fills arrays sized once instead
// of growing them step by step: each step copies, and fresh large
// allocations cost page faults.
func (t *Table) Reserve(hot, listed, words int) {
	if hot > 0 {
		t.entries = slices.Grow(t.entries, hot)
	}
	if listed > 0 {
		t.slots = slices.Grow(t.slots, listed)
	}
	if words > 0 {
		t.locs = slices.Grow(t.locs, words)
	}
}

// Locs returns the location IDs stored for the entry with SetLocs (none for
// an entry just created); callers must not modify them. They stay valid
// until the next EndWindow.
func (t *Table) Locs(e *Entry) []uint32 {
	return t.locs[e.locs.off : e.locs.off+e.locs.n : e.locs.off+e.locs.n]
}

// SetLocs stores a copy of locs, what the entry's stack symbolized to.
func (t *Table) SetLocs(e *Entry, locs []uint32) {
	t.deadLocs += int(e.locs.n)
	e.locs = span{uint32(len(t.locs)), uint32(len(locs))}
	t.locs = append(t.locs, locs...)
}

// ByPosition reports whether the table still knows the records of a
// listing by their position: false once a listing broke the append-only
// contract of FindAt and the table fell back to hashing.
func (t *Table) ByPosition() bool { return !t.unordered }

// Len returns the number of hot entries.
func (t *Table) Len() int { return t.hot }

// ColdLen returns the number of stacks kept only as cumulative values.
func (t *Table) ColdLen() int {
	n := len(t.cold)
	for i := range t.slots {
		if t.slots[i].hot == 0 && t.slots[i].prev != (Values{}) {
			n++
		}
	}
	return n
}

// hash returns the key of stack and tag (tag tells apart records that share
// a stack, such as allocations of different sizes). It hashes the stack's
// memory with the runtime's hash (hardware AES where available), twice as
// fast as a word-by-word loop on the deep stacks profiles hold.
func (t *Table) hash(stack []uintptr, tag int64) uint64 {
	mem := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(stack))), uintptr(len(stack))*unsafe.Sizeof(uintptr(0)))
	h := maphash.Bytes(t.seed, mem) ^ uint64(tag)*0xff51afd7ed558ccd
	return (h ^ h>>31) | 1 // never 0, which a slot uses for "not hashed yet"
}

// Find returns the entry of stack and tag, whose cumulative values are now
// cum. When the stack is not hot and cum equals what is remembered for it
// (zero for a stack never seen), nothing changed: Find returns nil and the
// stack stays cold, unless keep is set (the caller writes the stack anyway,
// such as a heap stack with live memory). created reports a new hot entry,
// whose locations the caller must store with SetLocs; it starts from the
// remembered values.
//
// Stacks are told apart by their 64-bit hash: two stacks share an entry only
// if their hashes collide, which for a million stacks happens with odds of
// about one in 10^7.
func (t *Table) Find(stack []uintptr, tag int64, cum Values, keep bool) (e *Entry, created bool) {
	key := t.hash(stack, tag)
	if i, ok := t.index[key]; ok {
		return &t.entries[i], false
	}
	prev := t.cold[key]
	if prev == cum && !keep {
		return nil, false
	}
	delete(t.cold, key)
	i := t.newEntry(key, tag, prev, -1)
	t.index[key] = i
	return &t.entries[i], true
}

// Baseline records cum as the starting point of stack and tag without making
// the entry hot: the first window then holds only what happened after.
func (t *Table) Baseline(stack []uintptr, tag int64, cum Values) {
	if cum != (Values{}) {
		t.cold[t.hash(stack, tag)] = cum
	}
}

// FindAt is Find for the record at position pos of an append-only listing,
// counted from its oldest record, in any order within a window. A record is
// known by its position, so an unchanged cold one is skipped without hashing
// its stack.
func (t *Table) FindAt(pos int, stack []uintptr, tag int64, cum Values, keep bool) (e *Entry, created bool) {
	s := t.slotAt(pos, stack)
	if s == nil {
		return t.Find(stack, tag, cum, keep)
	}
	if s.key == 0 {
		s.key = t.hash(stack, tag)
	}
	if s.hot > 0 {
		return &t.entries[s.hot-1], false
	}
	if s.prev == cum && !keep {
		return nil, false
	}
	i := t.newEntry(s.key, tag, s.prev, int32(pos))
	t.slots[pos].hot = i + 1
	return &t.entries[i], true
}

// BaselineAt is Baseline for the record at position pos of a listing, as
// FindAt takes it.
func (t *Table) BaselineAt(pos int, stack []uintptr, tag int64, cum Values) {
	if s := t.slotAt(pos, stack); s != nil {
		s.key = t.hash(stack, tag)
		s.prev = cum
		return
	}
	t.Baseline(stack, tag, cum)
}

// SkipAt passes over the record at position pos of a listing, which has
// nothing to report yet and whose tag is not known (a heap record whose
// allocations the runtime has not published), keeping the positions of
// the records after it.
func (t *Table) SkipAt(pos int, stack []uintptr) {
	t.slotAt(pos, stack)
}

// slotAt returns the slot of the record at pos, making it if the table
// has not met pos yet. It returns nil if the table knows records by hash,
// and switches to that if the record is not the one it met at pos before.
func (t *Table) slotAt(pos int, stack []uintptr) *slot {
	if t.unordered || len(stack) == 0 {
		return nil // an empty stack has no address to know it by
	}
	stk := uintptr(unsafe.Pointer(unsafe.SliceData(stack)))
	if pos >= len(t.slots) {
		// Positions after the known ones are new records; a window may
		// meet them newest first, so the ones before pos are made empty
		// here and filled when met.
		known := len(t.slots)
		t.slots = slices.Grow(t.slots, pos+1-known)[:pos+1]
		clear(t.slots[known:])
	}
	s := &t.slots[pos]
	if s.stk == 0 {
		*s = slot{stk: stk, pc0: stack[0], n: int32(len(stack))}
		return s
	}
	if s.stk == stk && s.pc0 == stack[0] && s.n == int32(len(stack)) {
		return s
	}
	t.unorder()
	return nil
}

// unorder moves what the table knows by position to what it knows by hash,
// for good: the listing was not the append-only one FindAt takes.
func (t *Table) unorder() {
	t.unordered = true
	for i := range t.slots {
		s := &t.slots[i]
		switch {
		case s.hot > 0:
			t.entries[s.hot-1].slot = -1
			t.index[s.key] = s.hot - 1
		case s.key != 0 && s.prev != (Values{}):
			t.cold[s.key] = s.prev
		}
	}
	t.slots = nil
}

// newEntry makes a hot entry for key, starting from prev.
func (t *Table) newEntry(key uint64, tag int64, prev Values, pos int32) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.entries = append(t.entries, Entry{})
		i = int32(len(t.entries) - 1)
	}
	t.entries[i] = Entry{key: key, tag: tag, prev: prev, slot: pos, seen: t.window, live: true}
	t.hot++
	return i
}

// Delta returns what grew since the entry's last reading and remembers cum.
// A counter that shrank (only possible if the runtime's scale changed)
// reports zero and restarts from the new value.
func (e *Entry) Delta(cum Values) Values {
	var d Values
	for i := range cum {
		if cum[i] > e.prev[i] {
			d[i] = cum[i] - e.prev[i]
		}
	}
	e.prev = cum
	return d
}

// Touch marks the entry as used in the current window, keeping it hot.
func (t *Table) Touch(e *Entry) { e.seen = t.window }

// EndWindow closes the current window: entries untouched for keepFor
// windows leave the hot table, keeping only their cumulative values.
func (t *Table) EndWindow() {
	for i := range t.entries {
		e := &t.entries[i]
		if !e.live || t.window-e.seen < t.keepFor {
			continue
		}
		if e.slot >= 0 {
			s := &t.slots[e.slot]
			s.prev, s.hot = e.prev, 0
		} else {
			if e.prev != (Values{}) {
				t.cold[e.key] = e.prev
			}
			delete(t.index, e.key)
		}
		e.live = false
		t.hot--
		t.deadLocs += int(e.locs.n)
		e.locs = span{}
		t.free = append(t.free, int32(i))
	}
	t.window++
	if t.deadLocs > len(t.locs)/2 {
		t.compact()
	}
}

// compact copies the hot entries' locations into an arena of their own
// size, dropping the dead words. Entries churn in and out of the hot table,
// so an arena compacted once half of it is dead holds at most about twice
// what the hot entries need, and each word copied was preceded by a dead
// word appended.
func (t *Table) compact() {
	locs := make([]uint32, 0, len(t.locs)-t.deadLocs)
	for i := range t.entries {
		e := &t.entries[i]
		if !e.live {
			continue
		}
		off := uint32(len(locs))
		locs = append(locs, t.Locs(e)...)
		e.locs.off = off
	}
	t.locs = locs
	t.deadLocs = 0
}
