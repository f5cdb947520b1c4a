// Package pyroscope is a continuous-profiling client for Go services. Start
// collects the runtime's CPU, heap, goroutine, mutex and block profiles in a
// background goroutine and sends one batch every UploadRate to Pyroscope,
// Parca, Polar Signals Cloud or a directory.
//
// The API is a superset of grafana/pyroscope-go v1.4's: a program written for
// it builds with only its import path changed.
package pyroscope

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/clock"
	"github.com/pyroscope-sdk/pyroscope-go/internal/collect"
	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Version is this SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// userAgent names the SDK on every request.
const userAgent = "pyroscope-sdk-go/" + Version

// A Profiler is a running profiling session, made by Start.
type Profiler struct {
	s     *config.Settings
	dst   *upload.Destination
	clock clock.Clock
	sinks []sink

	from    time.Time
	flushCh chan chan struct{}
	stopCh  chan struct{}
	done    chan struct{}

	stopOnce sync.Once
	stopErr  error
	mu       sync.Mutex
	counts   map[ProfileType]int64 // windows collected per type asked for
}

// sink is one collector, the family its windows are sent under and the
// types asked for that its windows hold. A family has one sink, but the
// heap sent to Parca has two: allocations and live memory.
type sink struct {
	name    string
	types   []ProfileType
	c       collect.Collector
	samples []window.SampleType // c.SampleTypes(), put in every window
	last    int                 // bytes of its previous window, to size the next one's buffer
}

// Start reads cfg and the environment, starts the collectors and the
// background goroutine, and returns the running Profiler. It fails with an
// error naming the field or variable at fault when the configuration is
// invalid, and when CPU profiling is asked for while another CPU profile is
// running in the process.
func Start(cfg Config) (*Profiler, error) {
	return start(cfg, os.LookupEnv, clock.Real{})
}

func start(cfg Config, env config.LookupEnv, clk clock.Clock) (*Profiler, error) {
	s, err := cfg.resolve(env)
	if err != nil {
		return nil, err
	}
	dst, err := upload.Open(s, userAgent)
	if err != nil {
		return nil, err
	}
	p := &Profiler{
		s:       s,
		dst:     dst,
		clock:   clk,
		flushCh: make(chan chan struct{}),
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		counts:  map[ProfileType]int64{},
	}
	if p.sinks, err = newSinks(s); err != nil {
		dst.Close(context.Background(), nil)
		return nil, err
	}
	p.from = clk.Now()
	go p.loop()
	if len(s.Types) == 0 {
		s.Log.Logf(logging.Info, "collecting nothing: PYROSCOPE_PROFILE_TYPES=%s asks for no profile", config.NoProfileTypes)
	} else {
		s.Log.Logf(logging.Info, "profiling %s: %v", dst, s.Types)
	}
	if wants(s, ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace, ProfileGoroutines,
		ProfileMutexCount, ProfileMutexDuration, ProfileBlockCount, ProfileBlockDuration) {
		s.Log.Logf(logging.Info, "%s", collect.Path())
	}
	return p, nil
}

// newSinks starts one collector per profile family asked for, in a fixed
// order. On error it closes those already started.
func newSinks(s *config.Settings) ([]sink, error) {
	var sinks []sink
	fail := func(err error) ([]sink, error) {
		for _, k := range sinks {
			k.c.Close()
		}
		return nil, fmt.Errorf("pyroscope: %w", err)
	}
	info := func(format string, args ...any) { s.Log.Logf(logging.Info, format, args...) }
	if wants(s, ProfileCPU) {
		c, err := collect.NewCPU(s.SampleRate)
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, sink{name: window.KindCPU, types: []ProfileType{ProfileCPU}, c: c})
	}
	if heap := asked(s, ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace); heap != nil {
		h := collect.NewHeap(collect.HeapOptions{
			SampleTypes:   sampleTypes(s, ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace),
			DisableGCRuns: s.DisableGCRuns,
			// Parca takes a profile as a change over the window or as a
			// snapshot at its end, never both: live memory goes apart.
			SeparateLive: s.Protocol == config.ProtocolParca,
		})
		if live := h.Live(); live != nil {
			sinks = append(sinks,
				sink{name: window.KindHeap, types: asked(s, ProfileAllocObjects, ProfileAllocSpace), c: h},
				sink{name: window.KindHeap, types: asked(s, ProfileInuseObjects, ProfileInuseSpace), c: live})
		} else {
			sinks = append(sinks, sink{name: window.KindHeap, types: heap, c: h})
		}
	}
	if wants(s, ProfileGoroutines) {
		sinks = append(sinks, sink{name: window.KindGoroutines, types: []ProfileType{ProfileGoroutines}, c: collect.NewGoroutines()})
	}
	if mutex := asked(s, ProfileMutexCount, ProfileMutexDuration); mutex != nil {
		sinks = append(sinks, sink{name: window.KindMutex, types: mutex, c: collect.NewMutex(collect.ContentionOptions{
			SampleTypes: sampleTypes(s, ProfileMutexCount, ProfileMutexDuration),
			Rate:        s.MutexProfileFraction,
			Logger:      info,
		})})
	}
	if block := asked(s, ProfileBlockCount, ProfileBlockDuration); block != nil {
		sinks = append(sinks, sink{name: window.KindBlock, types: block, c: collect.NewBlock(collect.ContentionOptions{
			SampleTypes: sampleTypes(s, ProfileBlockCount, ProfileBlockDuration),
			Rate:        s.BlockProfileRate,
			Logger:      info,
			// The scheduler and the upload workers wait for the next
			// window by design: not the program's blocking.
			Own: []uintptr{reflect.ValueOf((*Profiler).loop).Pointer(), upload.WorkerEntry()},
		})})
	}
	if wants(s, ProfileGoroutineLeak) {
		if c, err := collect.NewGoroutineLeak(); err != nil {
			info("goroutine_leak is not collected: %v", err)
		} else {
			sinks = append(sinks, sink{name: window.KindGoroutineLeak, types: []ProfileType{ProfileGoroutineLeak}, c: c})
		}
	}
	for i := range sinks {
		sinks[i].samples = sinks[i].c.SampleTypes()
	}
	return sinks, nil
}

// wants reports whether any of types was asked for.
func wants(s *config.Settings, types ...ProfileType) bool {
	for _, t := range types {
		if slices.Contains(s.Types, string(t)) {
			return true
		}
	}
	return false
}

// asked is the types of family that were asked for.
func asked(s *config.Settings, family ...ProfileType) []ProfileType {
	var out []ProfileType
	for _, t := range family {
		if wants(s, t) {
			out = append(out, t)
		}
	}
	return out
}

// sampleTypes maps the asked-for types of one family to the pprof sample
// type names the runtime uses (mutex_count is contentions, and so on).
func sampleTypes(s *config.Settings, family ...ProfileType) []string {
	var out []string
	for _, t := range asked(s, family...) {
		switch t {
		case ProfileMutexCount, ProfileBlockCount:
			out = append(out, "contentions")
		case ProfileMutexDuration, ProfileBlockDuration:
			out = append(out, "delay")
		default:
			out = append(out, string(t))
		}
	}
	return out
}

// loop is the one goroutine that cuts windows: every UploadRate, on Flush,
// and a last time on Stop.
func (p *Profiler) loop() {
	defer close(p.done)
	var tick <-chan time.Time
	if !p.s.Manual {
		c, stop := p.clock.NewTicker(p.s.UploadRate)
		defer stop()
		tick = c
	}
	for {
		select {
		case <-tick:
			p.cut()
		case reply := <-p.flushCh:
			p.cut()
			close(reply)
		case <-p.stopCh:
			if wants(p.s, ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace) && !p.s.DisableGCRuns {
				// The runtime publishes allocations at the end of a GC
				// cycle: without one now, the last window's allocations
				// would never be sent.
				runtime.GC()
			}
			p.cut()
			for _, k := range p.sinks {
				if err := k.c.Close(); err != nil {
					p.s.Log.Logf(logging.Error, "stopping %s profile: %v", k.name, err, slog.String("type", k.name))
				}
			}
			return
		}
	}
}

// cut ends the current window for every collector and queues the result.
func (p *Profiler) cut() {
	until := p.clock.Now()
	ws := make([]window.Window, 0, len(p.sinks))
	var collected []ProfileType
	for i := range p.sinks {
		k := &p.sinks[i]
		data, err := p.collectOne(k, until)
		if err != nil {
			p.s.Log.Logf(logging.Error, "collecting %s profile: %v", k.name, err, slog.String("type", k.name))
			continue
		}
		w := window.Window{Name: k.name, From: p.from, Until: until, Data: data, SampleTypes: k.samples}
		if k.name == window.KindCPU {
			w.SampleRate = p.s.SampleRate
		}
		ws = append(ws, w)
		collected = append(collected, k.types...)
	}
	p.from = until
	p.mu.Lock()
	for _, t := range collected {
		p.counts[t]++
	}
	p.mu.Unlock()
	p.dst.Push(nil, ws...)
}

// collectOne runs one collector, turning a panic into an error: nothing the
// SDK does may crash the host program.
func (p *Profiler) collectOne(k *sink, until time.Time) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	// One allocation of about the last window's size: the window's bytes
	// belong to the queue until delivered, so the buffer is not reused.
	buf := bytes.NewBuffer(make([]byte, 0, k.last+k.last/8))
	if err := k.c.Collect(buf, p.from, until); err != nil {
		return nil, err
	}
	k.last = buf.Len()
	return buf.Bytes(), nil
}

// Flush cuts the current window of every profile type now and queues it. With
// wait, it returns when the queue has been delivered or StopTimeout has
// passed. After Stop it returns at once.
func (p *Profiler) Flush(wait bool) {
	reply := make(chan struct{})
	select {
	case p.flushCh <- reply:
	case <-p.done:
		return
	}
	select {
	case <-reply:
	case <-p.done:
		return
	}
	if wait {
		ctx, cancel := context.WithTimeout(context.Background(), p.s.StopTimeout)
		defer cancel()
		if err := p.dst.Flush(ctx); err != nil {
			p.s.Log.Logf(logging.Warn, "flush: %v", err)
		}
	}
}

// Stop ends profiling: it stops the CPU profiler, cuts the last window of
// every type, restores runtime rates it changed, and delivers what is queued
// within StopTimeout. It returns an error saying how many windows were not
// delivered, if any; Stop as a whole returns within StopTimeout. Calls after
// the first return the first's result at once.
func (p *Profiler) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.s.StopTimeout)
	defer cancel()
	return p.StopContext(ctx)
}

// StopContext is Stop with the delivery deadline taken from ctx.
func (p *Profiler) StopContext(ctx context.Context) error {
	p.stopOnce.Do(func() {
		lastCut := func() { close(p.stopCh); <-p.done }
		// Not logged: the queue has said each failure once already (the
		// drop summary on Close), and the caller gets the error.
		p.stopErr = p.dst.Close(ctx, lastCut)
	})
	return p.stopErr
}
