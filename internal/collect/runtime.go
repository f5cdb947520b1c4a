package collect

import (
	"unsafe"
)

// The record types mirror internal/profilerecord, which the runtime fills
// through the functions below. TestRuntimeRecordsMatchPprof compares what
// they return with runtime/pprof's own profiles, so a runtime that changes
// their shape fails that test instead of producing wrong profiles.

type memRecord struct {
	AllocBytes, FreeBytes     int64
	AllocObjects, FreeObjects int64
	Stack                     []uintptr
}

type blockRecord struct {
	Count  int64
	Cycles int64
	Stack  []uintptr
}

type stackRecord struct {
	Stack []uintptr
}

// labelSet mirrors runtime/pprof's labelMap (Go 1.24 and later): a sorted
// list of key/value pairs, shared by goroutines created under one pprof.Do.
type labelSet struct {
	list []struct{ key, value string }
}

// These runtime functions are pushed by the runtime for runtime/pprof with
// go:linkname (runtime/mprof.go, runtime/proc.go, runtime/cpuprof.go). They
// give full-depth stacks, unlike the 32-frame runtime.MemProfile records.

//go:linkname memProfileInternal runtime.pprof_memProfileInternal
func memProfileInternal(p []memRecord, inuseZero bool) (n int, ok bool)

//go:linkname blockProfileInternal runtime.pprof_blockProfileInternal
func blockProfileInternal(p []blockRecord) (n int, ok bool)

//go:linkname mutexProfileInternal runtime.pprof_mutexProfileInternal
func mutexProfileInternal(p []blockRecord) (n int, ok bool)

//go:linkname goroutineProfileWithLabels runtime.pprof_goroutineProfileWithLabels
func goroutineProfileWithLabels(p []stackRecord, labels []unsafe.Pointer) (n int, ok bool)

//go:linkname cyclesPerSecond runtime/pprof.runtime_cyclesPerSecond
func cyclesPerSecond() int64

//go:linkname makeProfStack runtime.pprof_makeProfStack
func makeProfStack() []uintptr

// readMem returns every memory profile record, reusing buf.
func readMem(buf []memRecord) []memRecord {
	for {
		n, ok := memProfileInternal(buf[:cap(buf)], true)
		if ok {
			return buf[:n]
		}
		buf = make([]memRecord, n+n/8+64)
	}
}

// readBlock returns every record of a block or mutex profile, reusing buf.
func readBlock(read func([]blockRecord) (int, bool), buf []blockRecord) []blockRecord {
	for {
		n, ok := read(buf[:cap(buf)])
		if ok {
			return buf[:n]
		}
		buf = make([]blockRecord, n+n/8+64)
	}
}

// readGoroutines returns the stack and label set of every goroutine,
// reusing the buffers.
func readGoroutines(recs []stackRecord, labels []unsafe.Pointer) ([]stackRecord, []unsafe.Pointer) {
	for {
		recs, labels = recs[:cap(recs)], labels[:cap(recs)]
		clear(recs) // the runtime allocates each stack; do not keep old ones alive
		n, ok := goroutineProfileWithLabels(recs, labels)
		if ok {
			return recs[:n], labels[:n]
		}
		recs = make([]stackRecord, n+n/8+16)
		labels = make([]unsafe.Pointer, len(recs))
	}
}
