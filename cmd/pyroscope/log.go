package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// logger writes the CLI's messages to stderr, one line each, prefixed so
// they stand out from the child's own output.
type logger struct {
	mu  sync.Mutex
	out io.Writer
	min int
}

var levels = map[string]int{"debug": 0, "info": 1, "warn": 2, "error": 3, "off": 4}

func newLogger(out io.Writer, level string, quiet bool) *logger {
	l := &logger{out: out, min: levels["info"]}
	if n, ok := levels[strings.ToLower(level)]; ok {
		l.min = n
	}
	if quiet && l.min < levels["error"] {
		l.min = levels["error"]
	}
	return l
}

// logf has the signature upload.QueueOptions.Logf and internal/pull take.
func (l *logger) logf(level, format string, args ...any) {
	n, ok := levels[level]
	if !ok {
		n = levels["info"]
	}
	if n < l.min {
		return
	}
	prefix := "pyroscope: "
	switch level {
	case "warn":
		prefix += "warning: "
	case "error":
		prefix += "error: "
	case "debug":
		prefix += "debug: "
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.out, prefix+msg)
}

func (l *logger) infof(format string, args ...any)  { l.logf("info", format, args...) }
func (l *logger) warnf(format string, args ...any)  { l.logf("warn", format, args...) }
func (l *logger) errorf(format string, args ...any) { l.logf("error", format, args...) }
