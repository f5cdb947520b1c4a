// Command workload is the program the overhead driver measures. It is built
// three times from the same source: with -tags ours (this SDK), -tags peer
// (github.com/grafana/pyroscope-go) and with no tag (no profiler). Only the
// profiler_*.go file differs between the three.
//
// It runs one scenario and prints one JSON line (a Result) on stdout:
//
//   - loaded: a fixed amount of CPU- and allocation-heavy work spread over
//     -stacks distinct call stacks, on every core;
//   - idle: builds a live heap, mutex and block contention over -stacks
//     distinct stacks and parks -parked goroutines, then does nothing for
//     -idle while the profiler runs, so all CPU used is the profiler's.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"time"
)

// Runtime profiling rates, the same for every variant. grafana/pyroscope-go
// leaves the mutex and block rates to the application and this SDK only sets
// them when they are 0, so setting them here gives both the same input.
const (
	mutexFraction  = 10     // runtime.SetMutexProfileFraction: 1 event in 10
	blockRateNanos = 10_000 // runtime.SetBlockProfileRate: 1 blocked 10µs sampled
	// buildMemRate is the heap sampling rate while the idle scenario builds
	// its live heap: low enough that each of its stacks is sampled, so the
	// heap profile really holds -stacks stacks. The default is restored
	// before the profiler starts.
	buildMemRate = 512
)

// profilerOptions is what the profiler_*.go files need to start an SDK.
type profilerOptions struct {
	app        string
	server     string
	uploadRate time.Duration
}

// Result is the one line the workload prints; the driver decodes it.
type Result struct {
	Variant  string  `json:"variant"`
	Scenario string  `json:"scenario"`
	Stacks   int     `json:"stacks"`
	Wall     float64 `json:"wall_seconds"` // the measured phase
	UserCPU  float64 `json:"user_cpu_seconds"`
	SysCPU   float64 `json:"sys_cpu_seconds"`
	// HeapObjects is /memory/classes/heap/objects:bytes right after a
	// forced GC at the end of the measured phase, before Stop.
	HeapObjects uint64 `json:"heap_objects_bytes"`
	Goroutines  int    `json:"goroutines"`
	Checksum    uint64 `json:"checksum"` // keeps the work from being optimized away
}

func main() {
	var (
		scenario   = flag.String("scenario", "idle", "loaded or idle")
		stacks     = flag.Int("stacks", 1<<10, "distinct call stacks the scenario spreads over")
		work       = flag.Int("work", 200_000, "loaded: units of work (each a hash and some allocations)")
		idle       = flag.Duration("idle", 5*time.Second, "idle: how long the profiler runs on the idle program")
		parked     = flag.Int("parked", 300, "idle: goroutines parked at distinct stacks")
		server     = flag.String("server", "", "profile server address (empty: no upload, only for the none variant)")
		app        = flag.String("app", "overhead", "application name")
		uploadRate = flag.Duration("upload-rate", 15*time.Second, "SDK UploadRate")
	)
	flag.Parse()
	if err := run(*scenario, *stacks, *work, *idle, *parked, profilerOptions{app: *app, server: *server, uploadRate: *uploadRate}); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func run(scenario string, stacks, work int, idle time.Duration, parked int, o profilerOptions) error {
	if stacks < 1 {
		return fmt.Errorf("-stacks must be at least 1, got %d", stacks)
	}
	runtime.SetMutexProfileFraction(mutexFraction)
	runtime.SetBlockProfileRate(blockRateNanos)
	res := Result{Variant: variant, Scenario: scenario, Stacks: stacks}
	var err error
	switch scenario {
	case "loaded":
		err = runLoaded(&res, stacks, work, o)
	case "idle":
		err = runIdle(&res, stacks, idle, parked, o)
	default:
		return fmt.Errorf("-scenario must be loaded or idle, got %q", scenario)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// measure runs phase between two readings of the process's CPU time and
// wall clock, reads the heap after a forced GC, then calls after (the
// profiler's Stop, outside the heap reading but inside the CPU reading).
func measure(res *Result, phase func(), after func() error) error {
	u0, s0 := cpuTimes()
	t0 := time.Now()
	phase()
	res.Wall = time.Since(t0).Seconds()
	runtime.GC()
	res.HeapObjects = heapObjectBytes()
	res.Goroutines = runtime.NumGoroutine()
	if err := after(); err != nil {
		return fmt.Errorf("stopping the profiler: %w", err)
	}
	u1, s1 := cpuTimes()
	res.UserCPU, res.SysCPU = u1-u0, s1-s0
	return nil
}

func cpuTimes() (user, sys float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return tv(ru.Utime), tv(ru.Stime)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func heapObjectBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// runLoaded does work units on GOMAXPROCS goroutines, unit i at stack
// i % stacks: hash a buffer and allocate a few short-lived slices, some of
// which survive in a ring so the GC has a live heap to mark.
func runLoaded(res *Result, stacks, work int, o profilerOptions) error {
	stop, err := startProfiler(o)
	if err != nil {
		return fmt.Errorf("starting the profiler: %w", err)
	}
	depth := depthFor(stacks)
	workers := runtime.GOMAXPROCS(0)
	sums := make([]uint64, workers)
	err = measure(res, func() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				lw := newLoadedWorker()
				for i := w; i < work; i += workers {
					lw.code = uint32(i % stacks)
					walk(lw.code, depth, lw.leaf)
				}
				sums[w] = lw.sum
			})
		}
		wg.Wait()
	}, stop)
	for _, s := range sums {
		res.Checksum += s
	}
	return err
}

type loadedWorker struct {
	code uint32
	sum  uint64
	buf  []byte
	ring [][]byte
	next int
	leaf func()
}

func newLoadedWorker() *loadedWorker {
	lw := &loadedWorker{buf: make([]byte, 4096), ring: make([][]byte, 2048)}
	for i := range lw.buf {
		lw.buf[i] = byte(i * 7)
	}
	lw.leaf = lw.unit
	return lw
}

// unit is one unit of loaded work: about 40µs of hashing and 4 allocations
// whose sizes depend on the stack.
func (lw *loadedWorker) unit() {
	h := uint64(14695981039346656037) ^ uint64(lw.code)
	for range 8 {
		for _, b := range lw.buf {
			h = (h ^ uint64(b)) * 1099511628211
		}
	}
	for k := range 4 {
		size := 64 << ((lw.code + uint32(k)) % 8) // 64 B .. 8 KiB
		b := make([]byte, size)
		b[0] = byte(h)
		lw.ring[lw.next] = b
		lw.next = (lw.next + 1) % len(lw.ring)
	}
	lw.sum += h
}

// runIdle builds the state a real service carries (live heap, contention
// history, parked goroutines) over many stacks, then idles while the
// profiler runs for the idle duration.
func runIdle(res *Result, stacks int, idle time.Duration, parked int, o profilerOptions) error {
	depth := depthFor(max(stacks, parked))
	heap := buildHeap(stacks, depth)
	contend(stacks, depth)
	release := park(parked, depth)
	defer release()

	stop, err := startProfiler(o)
	if err != nil {
		return fmt.Errorf("starting the profiler: %w", err)
	}
	err = measure(res, func() { time.Sleep(idle) }, stop)
	res.Checksum = uint64(len(heap))
	runtime.KeepAlive(heap)
	return err
}

// buildHeap keeps 8 objects of 512 bytes alive per stack. At a sampling
// rate of 512 bytes a stack is missed with probability e^-8 (3 in 10⁴).
func buildHeap(stacks, depth int) [][]byte {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = buildMemRate
	defer func() { runtime.MemProfileRate = old }()
	live := make([][]byte, 0, 8*stacks)
	leaf := func() {
		for range 8 {
			live = append(live, make([]byte, 512))
		}
	}
	for code := range stacks {
		heapRoot(uint32(code), depth, leaf)
	}
	return live
}

//go:noinline
func heapRoot(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }

// contend records one mutex contention (at the unlocking stack) and one
// block event (at the waiting stack) per code, with every event sampled,
// on 64 goroutines at once. The rates are set back afterwards.
func contend(stacks, depth int) {
	defer runtime.SetMutexProfileFraction(runtime.SetMutexProfileFraction(1))
	defer runtime.SetBlockProfileRate(blockRateNanos)
	runtime.SetBlockProfileRate(1)
	const lanes = 64
	var wg sync.WaitGroup
	for lane := range lanes {
		wg.Go(func() {
			var mu sync.Mutex
			start, done := make(chan uint32), make(chan struct{})
			go func() {
				for code := range start {
					blockRoot(code, depth, func() { mu.Lock(); mu.Unlock() })
					done <- struct{}{}
				}
			}()
			for code := lane; code < stacks; code += lanes {
				mutexRoot(uint32(code), depth, func() {
					mu.Lock()
					start <- uint32(code)
					time.Sleep(50 * time.Microsecond) // the waiter parks on mu meanwhile
					mu.Unlock()
				})
				<-done
			}
			close(start)
		})
	}
	wg.Wait()
}

//go:noinline
func mutexRoot(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }

//go:noinline
func blockRoot(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }

// park starts n goroutines blocked at distinct stacks until release.
func park(n, depth int) (release func()) {
	ch := make(chan struct{})
	var started sync.WaitGroup
	for code := range n {
		started.Add(1)
		go parkRoot(uint32(code), depth, func() { started.Done(); <-ch })
	}
	started.Wait()
	return func() { close(ch) }
}

//go:noinline
func parkRoot(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }
