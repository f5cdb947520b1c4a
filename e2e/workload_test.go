//go:build e2e

package e2e

import (
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

// allTypes is every profile type the SDK sends; each must land on the server.
var allTypes = []pyroscope.ProfileType{
	pyroscope.ProfileCPU,
	pyroscope.ProfileAllocSpace,
	pyroscope.ProfileAllocObjects,
	pyroscope.ProfileInuseSpace,
	pyroscope.ProfileInuseObjects,
	pyroscope.ProfileGoroutines,
	pyroscope.ProfileMutexCount,
	pyroscope.ProfileMutexDuration,
	pyroscope.ProfileBlockCount,
	pyroscope.ProfileBlockDuration,
}

// Functions of the workload, by profile type: each type's profile on the
// server must contain its function.
const (
	fnCPU   = "e2eBurnCPU"
	fnAlloc = "e2eAllocate"
	fnPark  = "e2eParked"
	fnMutex = "e2eHoldMutex"
	fnBlock = "e2eWaitOnChannel"
	fnLeak  = "e2eLeaked"
)

// goroutine_leak is sent where the runtime has the profile (Go 1.27 and
// later, or Go 1.26 with GOEXPERIMENT=goroutineleakprofile).
func init() {
	// One heap sample per allocChunk bytes on average instead of 512 KiB:
	// the runtime then records about 63% of e2eAllocate's chunks, so the
	// scaled-up alloc_space of a run is within ~1% (one standard deviation)
	// of what it allocated, not ~5%, which made the [0.5, 1.1] check fail
	// about once in five runs. Set before the tests allocate, as the
	// runtime asks.
	runtime.MemProfileRate = allocChunk
	if pprof.Lookup("goroutineleak") != nil {
		allTypes = append(allTypes, pyroscope.ProfileGoroutineLeak)
		workloadFunc[pyroscope.ProfileGoroutineLeak] = fnLeak
		currentTypeIDs[pyroscope.ProfileGoroutineLeak] = "goroutine_leak:goroutineleak:count:"
		parcaTypes[pyroscope.ProfileGoroutineLeak] = struct{ name, sampleType string }{"goroutine_leak", "goroutineleak"}
	}
}

// families is how many profile families a run sends per window.
func families() int {
	if slices.Contains(allTypes, pyroscope.ProfileGoroutineLeak) {
		return 6
	}
	return 5
}

var workloadFunc = map[pyroscope.ProfileType]string{
	pyroscope.ProfileCPU:           fnCPU,
	pyroscope.ProfileAllocSpace:    fnAlloc,
	pyroscope.ProfileAllocObjects:  fnAlloc,
	pyroscope.ProfileInuseSpace:    fnAlloc,
	pyroscope.ProfileInuseObjects:  fnAlloc,
	pyroscope.ProfileGoroutines:    fnPark,
	pyroscope.ProfileMutexCount:    fnMutex,
	pyroscope.ProfileMutexDuration: fnMutex,
	pyroscope.ProfileBlockCount:    fnBlock,
	pyroscope.ProfileBlockDuration: fnBlock,
}

const (
	parkedGoroutines = 25
	allocChunk       = 64 << 10 // bytes per allocation of e2eAllocate
	liveChunks       = 64       // chunks e2eAllocate keeps alive
)

// run is what one profiled run did, for the server-side totals to be
// checked against.
type run struct {
	app        string
	start, end time.Time
	allocated  int64 // bytes allocated by e2eAllocate while profiled
	windows    int
	uploadRate time.Duration
	stopErr    error
	stats      pyroscope.Stats
}

// appName returns a series name unique to this test run, so that queries
// see only what this run sent.
func appName(t *testing.T, protocol string) string {
	return "sdk_e2e_" + protocol + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// windowsPerRun is how many upload windows a run spans; E2E_WINDOWS
// overrides it.
func windowsPerRun() int {
	if n, err := strconv.Atoi(os.Getenv("PYROSCOPE_E2E_WINDOWS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// profileWorkload starts the SDK with cfg (all types, 1s windows), runs a
// workload that exercises every profile type for a few windows, and stops the
// SDK, which delivers the last window. Windows are counted through
// Profiler.Stats, not by sleeping.
func profileWorkload(t *testing.T, cfg pyroscope.Config) run {
	t.Helper()
	// e2eLeaked goroutines are leaked on purpose: no one can wake them.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/pyroscope-sdk/pyroscope-go/e2e.e2eLeaked"))

	cfg.ProfileTypes = allTypes
	if slices.Contains(allTypes, pyroscope.ProfileGoroutineLeak) {
		e2eLeak()
	}
	if cfg.UploadRate == 0 {
		cfg.UploadRate = time.Second
	}
	r := run{app: cfg.ApplicationName, uploadRate: cfg.UploadRate, windows: windowsPerRun()}
	r.start = time.Now()
	p, err := pyroscope.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var allocated atomic.Int64
	wg.Add(1)
	go func() { defer wg.Done(); e2eBurnCPU(stop) }()
	wg.Add(1)
	go func() { defer wg.Done(); e2eAllocate(stop, &allocated) }()
	for range parkedGoroutines {
		wg.Add(1)
		go func() { defer wg.Done(); e2eParked(stop) }()
	}
	var mu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); e2eHoldMutex(stop, &mu) }()
	}
	ch := make(chan int)
	wg.Add(2)
	go func() { defer wg.Done(); e2eWaitOnChannel(stop, ch) }()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				select {
				case ch <- 1:
				case <-stop:
					return
				}
			}
		}
	}()

	// Let the SDK cut and deliver r.windows windows of each profile family
	// (cpu, heap, goroutines, mutex, block, and goroutine_leak where the
	// runtime has it; Parca gets the heap as two) while the workload runs; a rejected window counts as
	// done too, so that the checks below report it instead of the wait
	// timing out.
	perCut := families()
	if cfg.Protocol == "parca" {
		perCut++ // the heap as two windows, allocations and live memory
	}
	want := int64(perCut * r.windows)
	deadline := time.Now().Add(time.Duration(r.windows)*cfg.UploadRate + 60*time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	for time.Now().Before(deadline) {
		if s := p.Stats(); s.Uploaded+s.Dropped >= want {
			break
		}
		<-tick.C
	}
	tick.Stop()
	// Stop before the workload ends, so that the last window too holds the
	// parked goroutines; the allocation counter is read after Stop, so it
	// bounds what the windows can hold from above.
	r.stopErr = p.Stop()
	r.end = time.Now()
	close(stop)
	wg.Wait()
	r.allocated = allocated.Load()
	r.stats = p.Stats()
	t.Logf("run %s: %s, %d windows, stats %+v, e2eAllocate allocated %d bytes", r.app, r.end.Sub(r.start).Round(time.Millisecond), r.windows, r.stats, r.allocated)
	return r
}

var cpuSink atomic.Uint64

//go:noinline
func e2eBurnCPU(stop <-chan struct{}) {
	x := uint64(1)
	for {
		select {
		case <-stop:
			cpuSink.Add(x)
			return
		default:
		}
		for i := range 200_000 {
			x = x*6364136223846793005 + uint64(i)
		}
	}
}

var liveHeap [liveChunks][]byte

//go:noinline
func e2eAllocate(stop <-chan struct{}, allocated *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		liveHeap[i%liveChunks] = make([]byte, allocChunk)
		allocated.Add(allocChunk)
		if i%2 == 1 {
			time.Sleep(time.Millisecond) // pace: at most 128 KiB per ms
		}
	}
}

//go:noinline
func e2eParked(stop <-chan struct{}) { <-stop }

//go:noinline
func e2eHoldMutex(stop <-chan struct{}, mu *sync.Mutex) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		mu.Lock()
		time.Sleep(500 * time.Microsecond)
		mu.Unlock()
	}
}

//go:noinline
func e2eWaitOnChannel(stop <-chan struct{}, ch <-chan int) {
	for {
		select {
		case <-stop:
			return
		case <-ch:
		}
	}
}

// e2eLeaked receives from a channel only it references: a goroutine leak.
//
//go:noinline
func e2eLeaked(ch chan int) { <-ch }

//go:noinline
func e2eLeak() {
	ch := make(chan int)
	go e2eLeaked(ch)
}
