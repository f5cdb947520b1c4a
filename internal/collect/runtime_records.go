//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package collect

import (
	"runtime"
	"unsafe"
)

// This file mirrors runtime internals that did not change from Go 1.25
// through Go 1.27 (checked against go1.25.14, go1.26.11 and go1.27.4): the
// block and stack records of internal/profilerecord/profilerecord.go, the
// label map of runtime/pprof/label.go (internal/runtime/pprof/label from Go
// 1.26, the same layout), and the functions the runtime keeps for
// runtime/pprof (runtime/mprof.go, runtime/proc.go, runtime/cpuprof.go). The
// memory record, which Go 1.27 changed, is in runtime_go125.go and
// runtime_go127.go. A release this file was not checked against builds
// profiles_public.go instead.

// checkedReleases names the Go releases whose runtime sources the mirrors
// were checked against; the start-up log line names it.
const checkedReleases = "Go 1.25 to 1.27"

type blockRecord struct {
	Count  int64
	Cycles int64
	Stack  []uintptr
}

type stackRecord struct {
	Stack []uintptr
}

// labelSet mirrors runtime/pprof's labelMap: a sorted list of key/value
// pairs, shared by goroutines created under one pprof.Do.
type labelSet struct {
	list []struct{ key, value string }
}

// These runtime functions are pushed by the runtime for runtime/pprof with
// go:linkname. They give full-depth stacks, unlike the 32-frame
// runtime.MemProfile records.

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

// Path says how the heap, mutex, block and goroutine profiles are read, for
// the line Start logs.
func Path() string {
	return "heap, mutex, block and goroutine profiles are read from the runtime's profile records, whose layout this SDK checked for " +
		checkedReleases + " (this program: " + runtime.Version() + ")"
}
