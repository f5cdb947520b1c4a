// Package clocktest has a clock.Clock for tests, Fake, that moves only when
// the test says. Only tests import it.
package clocktest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Fake is a clock.Clock whose time moves only when the test says: Tick
// delivers one tick to whoever reads the ticker; Advance fires the timers
// that are due.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	ticks  chan time.Time
	timers []*fakeTimer
	added  chan struct{} // signalled when a timer is made
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

// NewFake returns a Fake at a fixed time.
func NewFake() *Fake {
	return &Fake{now: time.Unix(1_700_000_000, 0), ticks: make(chan time.Time), added: make(chan struct{}, 1)}
}

func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker returns the Fake's one ticker, whatever d; Tick drives it.
func (c *Fake) NewTicker(time.Duration) (<-chan time.Time, func()) { return c.ticks, func() {} }

// Tick moves the clock by d and delivers one tick, returning once the
// ticker's reader has it.
func (c *Fake) Tick(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	c.ticks <- now
}

func (c *Fake) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	select {
	case c.added <- struct{}{}:
	default:
	}
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		return true
	}
}

// Advance moves time on by d and fires the timers due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		t.c <- c.now
		return true
	})
}

// Waits returns how long each pending timer has left, shortest first.
func (c *Fake) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.timers {
		ds = append(ds, t.at.Sub(c.now))
	}
	slices.Sort(ds)
	return ds
}

// WaitTimers blocks until at least n timers are pending.
func (c *Fake) WaitTimers(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if len(c.Waits()) >= n {
			return
		}
		select {
		case <-c.added:
		case <-deadline:
			t.Fatalf("timed out waiting for %d pending timers, have %d", n, len(c.Waits()))
		}
	}
}

// Drive keeps firing the earliest pending timer until the test ends, so
// that backoff takes no real time.
func (c *Fake) Drive(t testing.TB) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if ws := c.Waits(); len(ws) > 0 {
				c.Advance(max(ws[0], 0))
			}
			select {
			case <-c.added:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// Shift moves the clock by d without firing a timer or a tick, for a test
// that needs time to pass while a timer stays pending.
func (c *Fake) Shift(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
