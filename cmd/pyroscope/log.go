package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
)

// logger writes the CLI's messages to stderr, one line each, prefixed so
// they stand out from the child's own output. It is also the Logger the
// SDK's destination writes to, Warnf included, so every line has its level
// from where it was written.
type logger struct {
	mu  sync.Mutex
	out io.Writer
	min logging.Level
}

// newLogger writes lines at level or above (info when level does not
// parse; flags checked it), and only errors when quiet.
func newLogger(out io.Writer, level string, quiet bool) *logger {
	l := &logger{out: out, min: logging.Info}
	if lv, err := logging.ParseLevel(level); err == nil {
		l.min = lv
	}
	if quiet && l.min < logging.Error {
		l.min = logging.Error
	}
	return l
}

// logf is a logging.Func, the form internal/pull and the upload queue take.
func (l *logger) logf(level logging.Level, format string, args ...any) {
	if level < l.min {
		return
	}
	prefix := "pyroscope: "
	switch level {
	case logging.Warn:
		prefix += "warning: "
	case logging.Error:
		prefix += "error: "
	case logging.Debug:
		prefix += "debug: "
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.out, prefix+msg)
}

func (l *logger) Debugf(format string, args ...any) { l.logf(logging.Debug, format, args...) }
func (l *logger) Infof(format string, args ...any)  { l.logf(logging.Info, format, args...) }
func (l *logger) Warnf(format string, args ...any)  { l.logf(logging.Warn, format, args...) }
func (l *logger) Errorf(format string, args ...any) { l.logf(logging.Error, format, args...) }

// slog returns a *slog.Logger writing to l, for the parts that log with
// log/slog (discovery's pod watch): each record is one line, its message
// followed by its attributes as key=value.
func (l *logger) slog() *slog.Logger { return slog.New(&slogHandler{l: l}) }

type slogHandler struct {
	l     *logger
	attrs []slog.Attr
}

func (h *slogHandler) Enabled(_ context.Context, level slog.Level) bool {
	return slogLevel(level) >= h.l.min
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.l.logf(slogLevel(r.Level), "%s", b.String())
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &slogHandler{l: h.l, attrs: append(slices.Clip(h.attrs), attrs...)}
}

// WithGroup is not needed by the callers: attributes stay ungrouped.
func (h *slogHandler) WithGroup(string) slog.Handler { return h }

func slogLevel(level slog.Level) logging.Level {
	switch {
	case level >= slog.LevelError:
		return logging.Error
	case level >= slog.LevelWarn:
		return logging.Warn
	case level >= slog.LevelInfo:
		return logging.Info
	}
	return logging.Debug
}
