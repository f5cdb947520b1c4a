package collect

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"time"
)

// CPU collects the CPU profile through runtime/pprof, restarting the profiler
// at every window edge. The Go runtime allows one CPU profile per process.
type CPU struct {
	hz      int
	buf     *bytes.Buffer
	spare   *bytes.Buffer
	running bool
}

// NewCPU starts CPU profiling at hz samples per second (100 when 0).
func NewCPU(hz int) (*CPU, error) {
	if hz <= 0 {
		hz = 100
	}
	c := &CPU{hz: hz, buf: new(bytes.Buffer), spare: new(bytes.Buffer)}
	if err := c.start(); err != nil {
		return nil, err
	}
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

// Collect stops the profiler, starts it again at once for the next window,
// and writes the finished window's profile (runtime/pprof's own gzipped
// pprof, with pprof labels on samples) to w.
func (c *CPU) Collect(w io.Writer, from, until time.Time) error {
	if !c.running {
		return fmt.Errorf("CPU profiler is not running")
	}
	pprof.StopCPUProfile()
	c.running = false
	c.buf, c.spare = c.spare, c.buf
	if err := c.start(); err != nil {
		// Still deliver what was collected.
		_, werr := w.Write(c.spare.Bytes())
		return fmt.Errorf("%w (the window ending now was still sent: %v)", err, werr)
	}
	_, err := w.Write(c.spare.Bytes())
	return err
}

// Close stops the CPU profiler, dropping samples since the last Collect.
func (c *CPU) Close() error {
	if c.running {
		pprof.StopCPUProfile()
		c.running = false
	}
	return nil
}
