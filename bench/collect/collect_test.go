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

// cycle runs one collection per iteration, with refresh (untimed) between
// them, and reports the size of the last output.
func cycle(b *testing.B, collect func(io.Writer) error, refresh func()) {
	var buf bytes.Buffer
	if err := collect(&buf); err != nil { // first window: warms caches, like a running SDK
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if refresh != nil {
			b.StopTimer()
			refresh()
			b.StartTimer()
		}
		buf.Reset()
		if err := collect(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "out-bytes")
}

// writeTo is runtime/pprof's own protobuf writer for a profile.
func writeTo(name string) func(io.Writer) error {
	p := pprof.Lookup(name)
	return func(w io.Writer) error { return p.WriteTo(w, 0) }
}
