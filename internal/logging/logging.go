// Package logging is the SDK's one notion of a log level and the one way a
// line reaches the user's logger: every part of the SDK and the CLI logs
// through a Func, and To turns a grafana-style Logger into one.
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// A Level orders log lines; a line is written when its level is at least
// the configured one.
type Level int8

// The levels, lowest first. Off is above every line's level: nothing is
// written.
const (
	Debug Level = iota
	Info
	Warn
	Error
	Off
)

// String is the level's name as PYROSCOPE_LOG_LEVEL spells it.
func (l Level) String() string {
	switch l {
	case Debug:
		return "debug"
	case Info:
		return "info"
	case Warn:
		return "warn"
	case Error:
		return "error"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Level(%d)", int8(l))
}

// ParseLevel reads a level name: debug, info, warn (or warning), error, or
// off (or none), in any case.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return Debug, nil
	case "info":
		return Info, nil
	case "warn", "warning":
		return Warn, nil
	case "error":
		return Error, nil
	case "off", "none":
		return Off, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn, error or off", s)
}

// A Func writes one log line at a level. args are format's arguments,
// followed by any number of slog.Attr: the line's structured attributes
// (app, type, attempts, status), which a slog logger receives as such and a
// printf-style one does not see (the message says what matters in words).
// A nil Func discards every line: call it through Func.Logf.
type Func func(level Level, format string, args ...any)

// Logf calls f, unless f is nil.
func (f Func) Logf(level Level, format string, args ...any) {
	if f != nil {
		f(level, format, args...)
	}
}

// With returns a Func that adds attrs to every line f writes.
func (f Func) With(attrs ...slog.Attr) Func {
	if f == nil || len(attrs) == 0 {
		return f
	}
	return func(level Level, format string, args ...any) {
		all := make([]any, 0, len(args)+len(attrs))
		all = append(all, args...)
		for _, a := range attrs {
			all = append(all, a)
		}
		f(level, format, all...)
	}
}

// Split separates a line's trailing slog.Attr values from format's
// arguments.
func Split(args []any) (fmtArgs []any, attrs []slog.Attr) {
	i := len(args)
	for i > 0 {
		if _, ok := args[i-1].(slog.Attr); !ok {
			break
		}
		i--
	}
	for _, a := range args[i:] {
		attrs = append(attrs, a.(slog.Attr))
	}
	return args[:i], attrs
}

// Printf is the logger the SDK's Config takes, the interface of
// grafana/pyroscope-go: it has no method for warnings.
type Printf interface {
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
	Errorf(format string, args ...any)
}

// A Warner is a Printf that also takes warnings.
type Warner interface {
	Warnf(format string, args ...any)
}

// A Structured logger takes a line's message and attributes apart, as
// log/slog does; Slog is one.
type Structured interface {
	LogAttrs(level Level, msg string, attrs ...slog.Attr)
}

// To returns a Func that writes the lines at min or above to out. A
// Structured out gets the message and the attributes; any other gets each
// line at the method of its level, without the attributes. Warnings go to
// out's Warnf when it has one; otherwise to Errorf, starting "warning: "
// so that they still read as warnings there.
func To(out Printf, min Level) Func {
	if out == nil || min >= Off {
		return func(Level, string, ...any) {}
	}
	st, structured := out.(Structured)
	w, hasWarn := out.(Warner)
	return func(level Level, format string, args ...any) {
		if level < min {
			return
		}
		args, attrs := Split(args)
		if structured {
			st.LogAttrs(level, fmt.Sprintf(format, args...), attrs...)
			return
		}
		switch {
		case level == Debug:
			out.Debugf(format, args...)
		case level == Info:
			out.Infof(format, args...)
		case level == Warn && hasWarn:
			w.Warnf(format, args...)
		case level == Warn:
			out.Errorf("warning: "+format, args...)
		default:
			out.Errorf(format, args...)
		}
	}
}

// Stderr writes each line once to standard error, at its level:
// "[pyroscope] WARN  message".
type Stderr struct{}

func (Stderr) Debugf(format string, args ...any) { writeStderr("DEBUG", format, args) }
func (Stderr) Infof(format string, args ...any)  { writeStderr("INFO", format, args) }
func (Stderr) Warnf(format string, args ...any)  { writeStderr("WARN", format, args) }
func (Stderr) Errorf(format string, args ...any) { writeStderr("ERROR", format, args) }

func writeStderr(level, format string, args []any) {
	fmt.Fprintf(os.Stderr, "[pyroscope] %-5s %s\n", level, fmt.Sprintf(format, args...))
}

// Slog hands the SDK's lines to a *slog.Logger, with their attributes. Its
// printf-style methods serve callers that format a line themselves.
type Slog struct{ L *slog.Logger }

// LogAttrs writes msg at level with attrs.
func (s Slog) LogAttrs(level Level, msg string, attrs ...slog.Attr) {
	s.L.LogAttrs(context.Background(), level.slog(), msg, attrs...)
}

func (s Slog) Debugf(format string, args ...any) { s.logf(Debug, format, args) }
func (s Slog) Infof(format string, args ...any)  { s.logf(Info, format, args) }
func (s Slog) Warnf(format string, args ...any)  { s.logf(Warn, format, args) }
func (s Slog) Errorf(format string, args ...any) { s.logf(Error, format, args) }

func (s Slog) logf(level Level, format string, args []any) {
	args, attrs := Split(args)
	s.LogAttrs(level, fmt.Sprintf(format, args...), attrs...)
}

// slog is the slog level of l.
func (l Level) slog() slog.Level {
	switch l {
	case Debug:
		return slog.LevelDebug
	case Info:
		return slog.LevelInfo
	case Warn:
		return slog.LevelWarn
	}
	return slog.LevelError
}
