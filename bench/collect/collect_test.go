// Package collect benchmarks one collection cycle of the SDK's heap, mutex
// and block collectors against godeltaprof and runtime/pprof's own writer,
// on the same runtime state in the same run.
package collect

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/grafana/pyroscope-go/godeltaprof"
	sdk "github.com/pyroscope-sdk/pyroscope-go/internal/collect"
)

// defaultMemProfileRate is the runtime's default, restored for the timed
// part so the writers' own allocations are sampled as in production.
var defaultMemProfileRate = runtime.MemProfileRate

func init() {
	// Before any workload allocation, so that every workload stack is
	// sampled; ensureHeapStacks sets it back while it is not running.
	runtime.MemProfileRate = 1
}

// profiler is one way of producing a profile, under a name for the table.
type profiler struct {
	name string
	make func() func(w io.Writer) error
}

var heapProfilers = []profiler{
	{"sdk", func() func(io.Writer) error {
		h := sdk.NewHeap(sdk.HeapOptions{DisableGCRuns: true})
		return func(w io.Writer) error { return h.Collect(w, time.Now(), time.Now()) }
	}},
	// The cycle for Parca: one reading written as two profiles,
	// allocations and live memory.
	{"sdk-live-apart", func() func(io.Writer) error {
		h := sdk.NewHeap(sdk.HeapOptions{DisableGCRuns: true, SeparateLive: true})
		live := h.Live()
		return func(w io.Writer) error {
			now := time.Now()
			if err := h.Collect(w, now, now); err != nil {
				return err
			}
			return live.Collect(w, now, now)
		}
	}},
	{"godeltaprof", func() func(io.Writer) error { return godeltaprof.NewHeapProfiler().Profile }},
	{"pprof", func() func(io.Writer) error { return writeTo("heap") }},
}

func BenchmarkHeap(b *testing.B) {
	for _, n := range []int{1 << 10, 8 << 10, 32 << 10} {
		ensureHeapStacks(n)
		for _, p := range heapProfilers {
			b.Run(fmt.Sprintf("stacks=%dk/%s", n>>10, p.name), func(b *testing.B) {
				cycle(b, p.make(), nil)
			})
		}
	}
}

func BenchmarkMutex(b *testing.B) { benchContention(b, "mutex") }
func BenchmarkBlock(b *testing.B) { benchContention(b, "block") }

// benchContention measures a cycle after fresh contention on all 1k stacks,
// so the delta profilers have every stack to write, as runtime/pprof does.
func benchContention(b *testing.B, name string) {
	const n = 1 << 10
	// Sample the profilers' own allocations as in production, also when
	// BenchmarkHeap (which sets this back after its workload) did not run.
	runtime.MemProfileRate = defaultMemProfileRate
	defer runtime.SetMutexProfileFraction(runtime.SetMutexProfileFraction(1))
	runtime.SetBlockProfileRate(1)
	defer runtime.SetBlockProfileRate(0)
	contendStacks(n)
	ps := []profiler{
		{"sdk", func() func(io.Writer) error {
			var c *sdk.Contention
			if name == "mutex" {
				c = sdk.NewMutex(sdk.ContentionOptions{})
			} else {
				c = sdk.NewBlock(sdk.ContentionOptions{})
			}
			return func(w io.Writer) error { return c.Collect(w, time.Now(), time.Now()) }
		}},
		{"godeltaprof", func() func(io.Writer) error {
			if name == "mutex" {
				return godeltaprof.NewMutexProfiler().Profile
			}
			return godeltaprof.NewBlockProfiler().Profile
		}},
		{"pprof", func() func(io.Writer) error { return writeTo(name) }},
	}
	for _, p := range ps {
		b.Run(fmt.Sprintf("stacks=1k/%s", p.name), func(b *testing.B) {
			cycle(b, p.make(), func() { contendStacks(n) })
		})
	}
}

// cycle runs one collection per iteration, with refresh (untimed) before
// each, and reports the size of the last output. An extra first window,
// untimed, warms caches like a running SDK's earlier windows; it follows a
// refresh too, from the same call site, so that it meets the same stacks as
// the timed windows and allocs/op is the steady state's.
func cycle(b *testing.B, collect func(io.Writer) error, refresh func()) {
	// One OS thread throughout, so that the goroutine's work stays on the
	// thread callgrind sees it enter measuredCycle on (instructions.sh).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	var buf bytes.Buffer
	for i := range b.N + 1 {
		if refresh != nil {
			b.StopTimer()
			refresh()
			b.StartTimer()
		}
		buf.Reset()
		if i == 0 {
			if err := collect(&buf); err != nil {
				b.Fatal(err)
			}
			// The runtime publishes heap records at the end of a GC
			// cycle: finish one so that every profiler reads the same,
			// settled records, not whatever the last background GC left.
			runtime.GC()
			b.ResetTimer()
			continue
		}
		err := measuredCycle(collect, &buf)
		cycleDone()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "out-bytes")
}

// measuredCycle is the timed collection and cycleDone marks its end, both
// kept out of line so that valgrind --tool=callgrind can dump its counters
// on entering each (instructions.sh): the instructions between the two
// dumps are one cycle's.
//
//go:noinline
func measuredCycle(collect func(io.Writer) error, w io.Writer) error {
	return collect(w)
}

//go:noinline
func cycleDone() {}

// writeTo is runtime/pprof's own protobuf writer for a profile.
func writeTo(name string) func(io.Writer) error {
	p := pprof.Lookup(name)
	return func(w io.Writer) error { return p.WriteTo(w, 0) }
}
