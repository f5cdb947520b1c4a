package pyroscope

import (
	"context"
	"net/http"
	"runtime/pprof"
)

// ProfileType names one series the SDK sends. The string values are those
// Pyroscope shows in its UI (app.cpu, app.alloc_space, ...).
type ProfileType string

// The profile types. Heap, mutex and block types of the same family are
// collected together and sent only for the sample types asked for.
const (
	ProfileCPU           ProfileType = "cpu"
	ProfileInuseObjects  ProfileType = "inuse_objects"
	ProfileAllocObjects  ProfileType = "alloc_objects"
	ProfileInuseSpace    ProfileType = "inuse_space"
	ProfileAllocSpace    ProfileType = "alloc_space"
	ProfileGoroutines    ProfileType = "goroutines"
	ProfileMutexCount    ProfileType = "mutex_count"
	ProfileMutexDuration ProfileType = "mutex_duration"
	ProfileBlockCount    ProfileType = "block_count"
	ProfileBlockDuration ProfileType = "block_duration"
	// ProfileGoroutineLeak is the goroutines blocked for good on something
	// no running goroutine can reach, found by a special GC cycle at each
	// window's end (runtime/pprof's goroutineleak profile), sent as a
	// snapshot. Go 1.27 has it, Go 1.26 only with
	// GOEXPERIMENT=goroutineleakprofile; elsewhere Start logs so at info
	// and carries on without it.
	ProfileGoroutineLeak ProfileType = "goroutine_leak"

	// DefaultSampleRate is the CPU sampling frequency in Hz.
	DefaultSampleRate = 100
)

// DefaultProfileTypes are collected when Config.ProfileTypes is empty.
var DefaultProfileTypes = []ProfileType{
	ProfileCPU,
	ProfileAllocObjects,
	ProfileAllocSpace,
	ProfileInuseObjects,
	ProfileInuseSpace,
}

// HTTPClient sends the SDK's HTTP requests. *http.Client satisfies it.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// LabelSet is a set of pprof labels; see runtime/pprof.
type LabelSet = pprof.LabelSet

// Labels takes an even number of strings, key then value, and returns a
// LabelSet for TagWrapper.
var Labels = pprof.Labels

// TagWrapper runs cb with labels added to the goroutine's pprof labels, so CPU
// and goroutine samples taken while cb runs carry them. Heap, mutex and block
// samples do not: the Go runtime records no labels for them.
func TagWrapper(ctx context.Context, labels LabelSet, cb func(context.Context)) {
	pprof.Do(ctx, labels, func(c context.Context) { cb(c) })
}
