// Package stats summarises a benchmark's rounds: medians with their range,
// the way every table under bench/ reports them.
package stats

import (
	"fmt"
	"slices"
)

// Values are one measure, one value per round.
type Values []float64

// Median is the middle value (the mean of the two middle ones for an even
// count); 0 for no values.
func (s Values) Median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// Min is the smallest value; 0 for no values.
func (s Values) Min() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

// Max is the largest value; 0 for no values.
func (s Values) Max() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// Spread formats the median with the range, "m [min – max]", each value
// by f; one value alone, and "–" for none.
func (s Values) Spread(f func(float64) string) string {
	if len(s) == 0 {
		return "–"
	}
	if len(s) == 1 {
		return f(s[0])
	}
	return fmt.Sprintf("%s [%s – %s]", f(s.Median()), f(s.Min()), f(s.Max()))
}
