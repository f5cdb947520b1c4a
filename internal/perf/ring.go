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

// A ring is the mmap'd buffer the kernel writes one CPU's records into.
type ring struct {
	mem     []byte
	meta    *unix.PerfEventMmapPage
	data    []byte
	scratch []byte // for records that wrap around the end of data
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

// read calls fn with every complete record the kernel has written since the
// last read, then hands the space back. The slice is only valid during fn.
func (r *ring) read(fn func(typ uint32, misc uint16, body []byte)) {
	head := atomic.LoadUint64(&r.meta.Data_head) // acquire: records before head are complete
	tail := r.meta.Data_tail
	size := uint64(len(r.data))
	for tail < head {
		off := tail % size
		// Records are 8-byte aligned and the size is a power of two, so the
		// 8-byte header never wraps; the body may.
		typ := binary.NativeEndian.Uint32(r.data[off:])
		misc := binary.NativeEndian.Uint16(r.data[off+4:])
		n := uint64(binary.NativeEndian.Uint16(r.data[off+6:]))
		if n < 8 || tail+n > head {
			break // corrupt; drop what is left below
		}
		var rec []byte
		if off+n <= size {
			rec = r.data[off : off+n]
		} else {
			r.scratch = append(r.scratch[:0], r.data[off:]...)
			r.scratch = append(r.scratch, r.data[:off+n-size]...)
			rec = r.scratch
		}
		fn(typ, misc, rec[8:])
		tail += n
	}
	atomic.StoreUint64(&r.meta.Data_tail, head) // release the space to the kernel
}

func (r *ring) unmap() error { return unix.Munmap(r.mem) }
