package pyroscope

import "time"

// clock is where the scheduler gets time, so tests can cut windows without
// sleeping.
type clock interface {
	Now() time.Time
	NewTicker(d time.Duration) (c <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
