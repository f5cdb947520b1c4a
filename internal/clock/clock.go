// Package clock is where the SDK gets time: the scheduler's ticks and the
// upload queue's backoff timers come from a Clock, so that tests cut windows
// and run backoff with a Fake instead of sleeping.
package clock

import "time"

// A Clock tells the time and makes tickers and timers.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) (c <-chan time.Time, stop func())
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// Real is the system's clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

func (Real) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

func (Real) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
