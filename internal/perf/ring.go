package perf

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ringDataSize is the data area of each per-CPU ring buffer: 256 KiB holds
// over two seconds of 100 Hz samples with 127-frame stacks, and stays within
// the default unprivileged perf_event_mlock_kb budget (516 KiB per CPU).
const ringDataSize = 64 << 12

// A ring is the mmap'd buffer the kernel writes one CPU's records into. It
// is read in rounds (begin, then next until !ok, then end), so that the
// rings of all CPUs can be read together in time order.
type ring struct {
	mem     []byte
	meta    *unix.PerfEventMmapPage
	data    []byte
	scratch []byte // for records that wrap around the end of data

	head, tail uint64 // of the round in progress
	ok         bool   // cur holds the record at tail
	cur        rawRecord
}

// A rawRecord is one record as the kernel wrote it, its body valid until the
// ring moves on.
type rawRecord struct {
	typ  uint32
	misc uint16
	body []byte // after the 8-byte header
	time uint64 // perf clock; 0 when the record carries none
}

func mapRing(fd int) (*ring, error) {
	page := unix.Getpagesize()
	mem, err := unix.Mmap(fd, 0, page+ringDataSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("perf: mapping the sample buffer (kernel.perf_event_mlock_kb may be too low): %w", err)
	}
	return &ring{
		mem:  mem,
		meta: (*unix.PerfEventMmapPage)(unsafe.Pointer(&mem[0])),
		data: mem[page:],
	}, nil
}

// begin starts a round over the records the kernel has written so far.
func (r *ring) begin() {
	r.head = atomic.LoadUint64(&r.meta.Data_head) // acquire: records before head are complete
	r.tail = r.meta.Data_tail
	r.load()
}

// next moves to the following record of the round.
func (r *ring) next() {
	r.tail += uint64(len(r.cur.body) + 8)
	r.load()
}

// end hands the space read in this round back to the kernel.
func (r *ring) end() {
	atomic.StoreUint64(&r.meta.Data_tail, r.head) // release
	r.ok = false
}

// load decodes the record at tail into cur.
func (r *ring) load() {
	r.ok = false
	if r.tail >= r.head {
		return
	}
	size := uint64(len(r.data))
	off := r.tail % size
	// Records are 8-byte aligned and the size is a power of two, so the
	// 8-byte header never wraps; the body may.
	typ := binary.NativeEndian.Uint32(r.data[off:])
	misc := binary.NativeEndian.Uint16(r.data[off+4:])
	n := uint64(binary.NativeEndian.Uint16(r.data[off+6:]))
	if n < 8 || r.tail+n > r.head {
		r.tail = r.head // corrupt; drop what is left
		return
	}
	var rec []byte
	if off+n <= size {
		rec = r.data[off : off+n]
	} else {
		r.scratch = append(r.scratch[:0], r.data[off:]...)
		r.scratch = append(r.scratch, r.data[:off+n-size]...)
		rec = r.scratch
	}
	r.cur = rawRecord{typ: typ, misc: misc, body: rec[8:], time: recordTime(typ, rec[8:])}
	r.ok = true
}

// recordTime returns the time of a record with sample_type TID|TIME...: in
// a sample it follows pid and tid; other records end with the sample_id
// trailer (pid, tid, time) that sample_id_all adds.
func recordTime(typ uint32, body []byte) uint64 {
	if typ == unix.PERF_RECORD_SAMPLE {
		if len(body) < 16 {
			return 0
		}
		return binary.NativeEndian.Uint64(body[8:])
	}
	if len(body) < 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(body[len(body)-8:])
}

func (r *ring) unmap() error { return unix.Munmap(r.mem) }
