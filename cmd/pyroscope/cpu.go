package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// cpuWindows cuts the perf sampler's samples into windows and queues them.
type cpuWindows struct {
	s    *perf.Sampler
	dst  *destination
	log  *logger
	rate int
	from time.Time
}

func newCPUWindows(s *perf.Sampler, dst *destination, log *logger, rate int) *cpuWindows {
	return &cpuWindows{s: s, dst: dst, log: log, rate: rate, from: time.Now()}
}

// cut ends the current window at until and queues it.
func (c *cpuWindows) cut(until time.Time) {
	var buf bytes.Buffer
	if err := c.s.Profile(&buf, c.from, until); err != nil {
		c.log.Errorf("cutting the CPU window: %v", err)
		return
	}
	c.dst.push(nil, window.Window{Name: window.KindCPU, From: c.from, Until: until, Data: buf.Bytes(),
		SampleTypes: c.s.SampleTypes(), SampleRate: c.rate})
	c.from = until
	st := c.s.Stats()
	c.log.Debugf("cpu window: %d samples so far, %d records lost, %d mappings, %d threads in %d processes", st.Samples, st.Lost, st.Mappings, st.Threads, st.Processes)
}

// close stops the sampler and reports lost records once.
func (c *cpuWindows) close() {
	st := c.s.Stats()
	if st.Lost > 0 {
		c.log.Warnf("the kernel dropped %d perf records (buffers full) besides the %d samples read: samples are missing, or unsymbolized where a mapping was lost; try a lower --sample-rate", st.Lost, st.Samples)
	}
	if err := c.s.Close(); err != nil {
		c.log.Errorf("stopping the sampler: %v", err)
	}
}

// attachError turns perf.Attach's error into one line for a user.
func attachError(pid int, err error) error {
	switch {
	case errors.Is(err, perf.ErrNoProcess):
		return fmt.Errorf("no process with PID %d: check the number with ps", pid)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("perf events are not permitted: %w", err)
	}
	return err
}

// agentWindows cuts the system-wide sampler's samples into one window per
// series (target and command) and queues each under its service name and
// labels.
type agentWindows struct {
	s      *perf.Sampler
	dst    *destination
	groups *seriesGrouper
	log    *logger
	rate   int
	from   time.Time
}

func newAgentWindows(s *perf.Sampler, dst *destination, g *seriesGrouper, log *logger, rate int) *agentWindows {
	return &agentWindows{s: s, dst: dst, groups: g, log: log, rate: rate, from: time.Now()}
}

// cut ends the current windows at until and queues them.
func (c *agentWindows) cut(until time.Time) {
	groups, err := c.s.ProfileGroups(c.from, until, c.groups.group)
	if err != nil {
		c.log.Errorf("cutting the CPU windows: %v", err)
		return
	}
	for _, g := range groups {
		s, ok := c.groups.seriesOf(g.Key)
		if !ok {
			continue // cannot happen: every key came from group
		}
		c.dst.PushAs(s.app, s.labels, window.Window{Name: window.KindCPU, From: c.from, Until: until, Data: g.Data,
			SampleTypes: c.s.SampleTypes(), SampleRate: c.rate})
	}
	c.from = until
	c.groups.startWindow()
	st := c.s.Stats()
	c.log.Debugf("cpu windows: %d series; %d samples so far (%d outside the targets), %d records lost, %d mappings, %d threads in %d processes", len(groups), st.Samples, st.Dropped, st.Lost, st.Mappings, st.Threads, st.Processes)
}

// close stops the sampler and reports lost records once.
func (c *agentWindows) close() {
	st := c.s.Stats()
	if st.Lost > 0 {
		c.log.Warnf("the kernel dropped %d perf records (buffers full) besides the %d samples read: samples are missing, or unsymbolized where a mapping was lost; try a lower --sample-rate", st.Lost, st.Samples)
	}
	if err := c.s.Close(); err != nil {
		c.log.Errorf("stopping the sampler: %v", err)
	}
}
