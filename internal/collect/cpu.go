package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// CPU collects the CPU profile through runtime/pprof, restarting the profiler
// at every window edge. The Go runtime allows one CPU profile per process.
type CPU struct {
	hz int

	mu      sync.Mutex // Collect and Tap both stop and restart the profiler
	buf     *bytes.Buffer
	spare   *bytes.Buffer
	running bool
	parts   [][]byte      // earlier parts of the current window, cut by a Tap
	merge   MergeFunc     // joins parts; set by the Tap that cut them
	tap     *[][]byte     // parts of the Tap in progress, if any
	tapping atomic.Bool   // a Tap is in progress
	stopped chan struct{} // closed by Close: a Tap in progress ends early
}

// MergeFunc joins gzipped CPU profiles of consecutive spans into one.
type MergeFunc func(parts [][]byte) ([]byte, error)

// running is the process's CPU collector while one runs, for Tap: the
// runtime allows one CPU profiler per process, and this is it.
var running atomic.Pointer[CPU]

// RunningCPU returns the CPU collector running in this process, or nil.
func RunningCPU() *CPU { return running.Load() }

// NewCPU starts CPU profiling at hz samples per second (100 when 0).
func NewCPU(hz int) (*CPU, error) {
	if hz <= 0 {
		hz = 100
	}
	c := &CPU{hz: hz, buf: new(bytes.Buffer), spare: new(bytes.Buffer), stopped: make(chan struct{})}
	if err := c.start(); err != nil {
		return nil, err
	}
	running.Store(c)
	return c, nil
}

func (c *CPU) start() error {
	if c.hz != 100 {
		// StartCPUProfile sets 100 Hz unless a rate is already set; setting
		// it first is the only way runtime/pprof offers to change it.
		runtime.SetCPUProfileRate(c.hz)
	}
	c.buf.Reset()
	if err := pprof.StartCPUProfile(c.buf); err != nil {
		return fmt.Errorf("cannot start CPU profiling: another CPU profile is already running in this process (the Go runtime allows one; stop it, or leave cpu out of the profile types): %w", err)
	}
	c.running = true
	return nil
}

// cut stops the profiler, starts it again at once, and returns the profile
// of the span that ended, which a Tap in progress shares. c.mu is held.
func (c *CPU) cut() ([]byte, error) {
	pprof.StopCPUProfile()
	c.running = false
	c.buf, c.spare = c.spare, c.buf
	part := bytes.Clone(c.spare.Bytes())
	if c.tap != nil {
		*c.tap = append(*c.tap, part)
	}
	if err := c.start(); err != nil {
		return part, err
	}
	return part, nil
}

// Collect stops the profiler, starts it again at once for the next window,
// and writes the finished window's profile (runtime/pprof's own gzipped
// pprof, with pprof labels on samples) to w. A window that a Tap cut into
// parts is written as one profile, joined by the Tap's MergeFunc.
func (c *CPU) Collect(w io.Writer, from, until time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return errors.New("CPU profiler is not running")
	}
	part, startErr := c.cut()
	data := part
	if len(c.parts) > 0 {
		merged, err := c.merge(append(c.parts, part))
		c.parts = nil
		if err != nil {
			return fmt.Errorf("joining the window's CPU profile cut by an HTTP profile request: %w", err)
		}
		data = merged
	}
	_, err := w.Write(data)
	if startErr != nil {
		// Still deliver what was collected.
		return fmt.Errorf("%w (the window ending now was still sent: %v)", startErr, err)
	}
	return err
}

// Tap returns the CPU profile of the next d (or until ctx ends) while the
// collector keeps running: the span is cut out of the profiler's stream and
// belongs to the collector's window as well. merge joins the parts when a
// window ends during the span. One Tap runs at a time; another gets an error
// at once, as net/http/pprof refuses a second CPU profile.
func (c *CPU) Tap(ctx context.Context, d time.Duration, merge MergeFunc) ([]byte, error) {
	if !c.tapping.CompareAndSwap(false, true) {
		return nil, errors.New("another CPU profile request is in progress (one at a time, as with net/http/pprof)")
	}
	defer c.tapping.Store(false)
	var parts [][]byte
	if err := c.cutWindowPart(merge, &parts); err != nil {
		return nil, err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-c.stopped:
	}
	if err := c.cutWindowPart(merge, nil); err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return merge(parts)
}

// Tapping reports whether a Tap is collecting now.
func (c *CPU) Tapping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tap != nil
}

// cutWindowPart ends the span running now, which stays a part of the
// collector's window, and makes tap (nil: none) the list that the spans cut
// from now on are also added to.
func (c *CPU) cutWindowPart(merge MergeFunc, tap *[][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		c.tap = nil
		return errors.New("the profiler stopped")
	}
	part, err := c.cut()
	c.tap = tap
	c.parts = append(c.parts, part)
	c.merge = merge
	return err
}

// Close stops the CPU profiler, dropping samples since the last Collect, and
// ends a Tap in progress.
func (c *CPU) Close() error {
	running.CompareAndSwap(c, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		pprof.StopCPUProfile()
		c.running = false
	}
	select {
	case <-c.stopped:
	default:
		close(c.stopped)
	}
	return nil
}
