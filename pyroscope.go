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
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/collect"
	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
)

// Version is this SDK's version, sent in the User-Agent header.
const Version = "0.1.0"

// A Profiler is a running profiling session, made by Start.
type Profiler struct {
	s     *settings
	dst   *Destination
	log   leveledLogger
	clock clock
	sinks []sink

	from    time.Time
	flushCh chan chan struct{}
	stopCh  chan struct{}
	done    chan struct{}

	stopOnce sync.Once
	stopErr  error
	mu       sync.Mutex
	counts   map[string]int64 // windows collected per profile family
}

// sink is one collector and the family its windows are sent under.
type sink struct {
	name string
	c    collect.Collector
	last int // bytes of its previous window, to size the next one's buffer
}

// Start reads cfg and the environment, starts the collectors and the
// background goroutine, and returns the running Profiler. It fails with an
// error naming the field or variable at fault when the configuration is
// invalid, and when CPU profiling is asked for while another CPU profile is
// running in the process.
func Start(cfg Config) (*Profiler, error) {
	return start(cfg, os.LookupEnv, realClock{})
}

func start(cfg Config, env lookupEnv, clk clock) (*Profiler, error) {
	dst, err := newDestination(cfg, env)
	if err != nil {
		return nil, err
	}
	p := &Profiler{
		s:       dst.s,
		dst:     dst,
		log:     dst.log,
		clock:   clk,
		flushCh: make(chan chan struct{}),
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		counts:  map[string]int64{},
	}
	if p.sinks, err = newSinks(p.s, p.log.logf); err != nil {
		dst.Close(context.Background())
		return nil, err
	}
	p.from = clk.Now()
	go p.loop()
	p.log.logf("info", "profiling %s: %v", dst, p.s.types)
	return p, nil
}

// newSinks starts one collector per profile family asked for, in a fixed
// order. On error it closes those already started.
func newSinks(s *settings, logf func(level, format string, args ...any)) ([]sink, error) {
	var sinks []sink
	fail := func(err error) ([]sink, error) {
		for _, k := range sinks {
			k.c.Close()
		}
		return nil, fmt.Errorf("pyroscope: %w", err)
	}
	info := func(format string, args ...any) { logf("info", format, args...) }
	if s.wants(ProfileCPU) {
		c, err := collect.NewCPU(int(s.SampleRate))
		if err != nil {
			return fail(err)
		}
		sinks = append(sinks, sink{name: upload.KindCPU, c: c})
	}
	if s.wants(ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace) {
		sinks = append(sinks, sink{name: upload.KindHeap, c: collect.NewHeap(collect.HeapOptions{
			SampleTypes:   s.sampleTypes(ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace),
			DisableGCRuns: s.DisableGCRuns,
		})})
	}
	if s.wants(ProfileGoroutines) {
		sinks = append(sinks, sink{name: upload.KindGoroutines, c: collect.NewGoroutines()})
	}
	if s.wants(ProfileMutexCount, ProfileMutexDuration) {
		sinks = append(sinks, sink{name: upload.KindMutex, c: collect.NewMutex(collect.ContentionOptions{
			SampleTypes: s.sampleTypes(ProfileMutexCount, ProfileMutexDuration),
			Rate:        s.MutexProfileFraction,
			Logger:      info,
		})})
	}
	if s.wants(ProfileBlockCount, ProfileBlockDuration) {
		sinks = append(sinks, sink{name: upload.KindBlock, c: collect.NewBlock(collect.ContentionOptions{
			SampleTypes: s.sampleTypes(ProfileBlockCount, ProfileBlockDuration),
			Rate:        s.BlockProfileRate,
			Logger:      info,
			// The scheduler and the upload workers wait for the next
			// window by design: not the program's blocking.
			Own: []uintptr{reflect.ValueOf((*Profiler).loop).Pointer(), upload.WorkerEntry()},
		})})
	}
	if s.wants(ProfileGoroutineLeak) {
		info("goroutine_leak is not collected: it needs a runtime built with GOEXPERIMENT=goroutineleakprofile, and this SDK does not read it yet")
	}
	return sinks, nil
}

// sampleTypes maps the asked-for types of one family to the pprof sample
// type names the runtime uses (mutex_count is contentions, and so on).
func (s *settings) sampleTypes(family ...ProfileType) []string {
	var out []string
	for _, t := range family {
		if !s.wants(t) {
			continue
		}
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
	if !p.s.DisableAutomaticResets {
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
			if p.s.wants(ProfileAllocObjects, ProfileAllocSpace, ProfileInuseObjects, ProfileInuseSpace) && !p.s.DisableGCRuns {
				// The runtime publishes allocations at the end of a GC
				// cycle: without one now, the last window's allocations
				// would never be sent.
				runtime.GC()
			}
			p.cut()
			for _, k := range p.sinks {
				if err := k.c.Close(); err != nil {
					p.log.logf("error", "stopping %s profile: %v", k.name, err)
				}
			}
			return
		}
	}
}

// cut ends the current window for every collector and queues the result.
func (p *Profiler) cut() {
	until := p.clock.Now()
	ws := make([]upload.Window, 0, len(p.sinks))
	for i := range p.sinks {
		k := &p.sinks[i]
		data, err := p.collectOne(k, until)
		if err != nil {
			p.log.logf("error", "collecting %s profile: %v", k.name, err)
			continue
		}
		w := upload.Window{App: p.s.app, Tags: p.s.tags, Name: k.name, From: p.from, Until: until, Data: data}
		if k.name == upload.KindCPU {
			w.SampleRate = int(p.s.SampleRate)
		}
		ws = append(ws, w)
	}
	p.from = until
	p.mu.Lock()
	for _, w := range ws {
		p.counts[w.Name]++
	}
	p.mu.Unlock()
	p.dst.queue.Push(ws...)
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
			p.log.logf("warn", "flush: %v", err)
		}
	}
}

// Stop ends profiling: it stops the CPU profiler, cuts the last window of
// every type, restores runtime rates it changed, and delivers what is queued
// within StopTimeout. It returns an error saying how many windows were not
// delivered, if any. Calls after the first return the first's result at once.
func (p *Profiler) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.s.StopTimeout)
	defer cancel()
	return p.StopContext(ctx)
}

// StopContext is Stop with the delivery deadline taken from ctx.
func (p *Profiler) StopContext(ctx context.Context) error {
	p.stopOnce.Do(func() {
		p.dst.MarkFinal() // before the last cut: its refusals count even if quick
		close(p.stopCh)
		<-p.done
		if err := p.dst.Close(ctx); err != nil {
			p.stopErr = err
			p.log.logf("error", "stop: %v", err)
		}
	})
	return p.stopErr
}

// Stats says what the SDK has done since Start, so that a user can see that
// profiling works: windows collected per profile family, and the delivery
// counters (uploaded, retried, dropped, bytes sent, last error).
type Stats struct {
	Collected map[string]int64
	upload.Stats
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (p *Profiler) Stats() Stats {
	p.mu.Lock()
	collected := make(map[string]int64, len(p.counts))
	for k, v := range p.counts {
		collected[k] = v
	}
	p.mu.Unlock()
	return Stats{Collected: collected, Stats: p.dst.Stats()}
}
