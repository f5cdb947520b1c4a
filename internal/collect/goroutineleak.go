package collect

import (
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"time"
)

// GoroutineLeak collects runtime/pprof's goroutineleak profile: the
// goroutines blocked for good on a channel, mutex or other primitive that no
// running goroutine can reach any more. Each reading runs the special GC
// cycle that finds them. It is a snapshot, like the goroutine profile, and
// carries pprof labels.
type GoroutineLeak struct {
	p *pprof.Profile
}

// NewGoroutineLeak returns a collector of the goroutine leak profile, or an
// error where the runtime has none: Go 1.27 has it, Go 1.26 only when the
// program is built with GOEXPERIMENT=goroutineleakprofile.
func NewGoroutineLeak() (*GoroutineLeak, error) {
	p := pprof.Lookup("goroutineleak")
	if p == nil {
		return nil, errors.New("this Go runtime has no goroutine leak profile (Go 1.27 and later have it; Go 1.26 only when built with GOEXPERIMENT=goroutineleakprofile)")
	}
	return &GoroutineLeak{p: p}, nil
}

// Collect writes the goroutines found leaked at the time of the call.
func (g *GoroutineLeak) Collect(w io.Writer, from, until time.Time) error {
	if err := g.p.WriteTo(w, 0); err != nil {
		return fmt.Errorf("goroutine leak profile: %w", err)
	}
	return nil
}

// Close releases nothing: the collector changes no runtime setting.
func (g *GoroutineLeak) Close() error { return nil }
