// Package logging is the SDK's one notion of a log level and the one way a
// line reaches the user's logger: every part of the SDK and the CLI logs
// through a Func, and To turns a grafana-style Logger into one.
package logging

import (
	"fmt"
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

// A Func writes one log line at a level. A nil Func discards every line:
// call it through Func.Logf.
type Func func(level Level, format string, args ...any)

// Logf calls f, unless f is nil.
func (f Func) Logf(level Level, format string, args ...any) {
	if f != nil {
		f(level, format, args...)
	}
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

// To returns a Func that writes the lines at min or above to out, each to
// the method of its level. Warnings go to out's Warnf when it has one;
// otherwise to Errorf, starting "warning: " so that they still read as
// warnings there.
func To(out Printf, min Level) Func {
	if out == nil || min >= Off {
		return func(Level, string, ...any) {}
	}
	w, hasWarn := out.(Warner)
	return func(level Level, format string, args ...any) {
		if level < min {
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
