// Package delta turns the runtime's cumulative per-stack counters into
// per-window changes. It remembers, for each stack, the cumulative values it
// last reported, so the windows of a run sum exactly to the runtime's change
// over the run; a value that did not grow reports zero, never less.
//
// Entries not touched for a few windows leave the hot table (their stack,
// symbolized locations and bookkeeping) and only their last cumulative values
// stay, keyed by a 64-bit hash of the stack, so that a stack that comes back
// still reports only what is new. The runtime never forgets a stack either;
// this keeps what the SDK holds per such stack to a few words.
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
// names it, in the hot table as in the cold store.
type Entry struct {
	key  uint64
	tag  int64
	prev Values
	locs span
	seen uint32 // last window Touch was called in
	live bool   // in the hot table (false: a free slot)
}

// span locates an entry's part of an arena.
type span struct{ off, n uint32 }

// Key returns the entry's hash key, stable for its stack and tag.
func (e *Entry) Key() uint64 { return e.key }

// Table holds the entries of one profile type.
type Table struct {
	index   map[uint64]int32
	entries []Entry
	free    []int32
	cold    map[uint64]Values
	window  uint32
	keepFor uint32
	seed    maphash.Seed // keys are only compared within the table

	// locs is the arena of the hot entries' location IDs. Entries that
	// leave the hot table leave their words behind as dead; EndWindow
	// compacts the arena once most of it is dead.
	locs     []uint32
	deadLocs int

	// The runtime lists its records in a stable order (new stacks first),
	// so the entry met at a position counted from the end of the previous
	// listing is almost always the one met there now: FindAt checks it
	// before hashing.
	order, prevOrder []int32
}

// NewTable returns a table that moves an entry to the cold store once it
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

// Reserve makes room for hot more hot entries, cold more cold ones and
// words more location IDs, so that a first reading of
// many records (the baseline, the first window) fills maps and arenas sized
// once instead of growing them step by step: each step copies, and fresh
// large allocations cost page faults.
func (t *Table) Reserve(hot, cold, words int) {
	if hot > 0 {
		if len(t.index) == 0 {
			t.index = make(map[uint64]int32, hot)
		}
		t.entries = slices.Grow(t.entries, hot)
	}
	if cold > 0 && len(t.cold) == 0 {
		t.cold = make(map[uint64]Values, cold)
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

// Len returns the number of hot entries.
func (t *Table) Len() int { return len(t.index) }

// ColdLen returns the number of stacks kept only as cumulative values.
func (t *Table) ColdLen() int { return len(t.cold) }

// hash returns the key of stack and tag (tag tells apart records that share
// a stack, such as allocations of different sizes). It hashes the stack's
// memory with the runtime's hash (hardware AES where available), twice as
// fast as a word-by-word loop on the deep stacks profiles hold.
func (t *Table) hash(stack []uintptr, tag int64) uint64 {
	mem := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(stack))), uintptr(len(stack))*unsafe.Sizeof(uintptr(0)))
	h := maphash.Bytes(t.seed, mem) ^ uint64(tag)*0xff51afd7ed558ccd
	return h ^ h>>31
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
	i, created := t.find(t.hash(stack, tag), tag, cum, keep)
	if i < 0 {
		return nil, false
	}
	return &t.entries[i], created
}

// FindAt is Find for the record at position fromEnd, counted from the end of
// the runtime's listing: it first tries the entry met at that position in
// the previous window, which saves a map lookup.
func (t *Table) FindAt(fromEnd int, stack []uintptr, tag int64, cum Values, keep bool) (e *Entry, created bool) {
	key := t.hash(stack, tag)
	if fromEnd < len(t.prevOrder) {
		if i := t.prevOrder[fromEnd]; i >= 0 {
			if e := &t.entries[i]; e.live && e.key == key && e.tag == tag {
				t.remember(fromEnd, i)
				return e, false
			}
		}
	}
	i, created := t.find(key, tag, cum, keep)
	t.remember(fromEnd, i)
	if i < 0 {
		return nil, false
	}
	return &t.entries[i], created
}

func (t *Table) remember(fromEnd int, i int32) {
	for len(t.order) <= fromEnd {
		t.order = append(t.order, -1)
	}
	t.order[fromEnd] = i
}

func (t *Table) find(key uint64, tag int64, cum Values, keep bool) (int32, bool) {
	if i, ok := t.index[key]; ok {
		return i, false
	}
	prev := t.cold[key]
	if prev == cum && !keep {
		return -1, false
	}
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		t.entries = append(t.entries, Entry{})
		i = int32(len(t.entries) - 1)
	}
	e := &t.entries[i]
	e.key, e.tag, e.seen, e.live = key, tag, t.window, true
	e.locs = span{}
	e.prev = prev
	delete(t.cold, key)
	t.index[key] = i
	return i, true
}

// Baseline records cum as the starting point of stack and tag without making
// the entry hot: the first window then holds only what happened after.
func (t *Table) Baseline(stack []uintptr, tag int64, cum Values) {
	if cum != (Values{}) {
		t.cold[t.hash(stack, tag)] = cum
	}
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
		if e.prev != (Values{}) {
			t.cold[e.key] = e.prev
		}
		delete(t.index, e.key)
		e.live = false
		t.deadLocs += int(e.locs.n)
		e.locs = span{}
		t.free = append(t.free, int32(i))
	}
	t.window++
	t.order, t.prevOrder = t.prevOrder[:0], t.order
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
