package pyroscope

import (
	"fmt"
	"os"
	"strings"
)

// Logger receives the SDK's log lines. Warnings go to Errorf.
type Logger interface {
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
	Errorf(format string, args ...any)
}

type stderrLogger struct{}

func (stderrLogger) Infof(format string, args ...any)  { logTo("INFO", format, args) }
func (stderrLogger) Debugf(format string, args ...any) { logTo("DEBUG", format, args) }
func (stderrLogger) Errorf(format string, args ...any) { logTo("ERROR", format, args) }

func logTo(level, format string, args []any) {
	fmt.Fprintf(os.Stderr, "[pyroscope] %-5s %s\n", level, fmt.Sprintf(format, args...))
}

// StandardLogger writes every line to standard error.
var StandardLogger Logger = stderrLogger{}

// logLevel orders log levels; a line is written when its level is at least
// the configured one.
type logLevel int

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
	levelOff
)

func parseLogLevel(s string) (logLevel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return levelDebug, nil
	case "info":
		return levelInfo, nil
	case "warn", "warning":
		return levelWarn, nil
	case "error":
		return levelError, nil
	case "off", "none":
		return levelOff, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn, error or off", s)
}

// leveledLogger filters lines below min before they reach out.
type leveledLogger struct {
	out Logger
	min logLevel
}

// logf is the one function the SDK's parts log through.
func (l leveledLogger) logf(level, format string, args ...any) {
	lv, err := parseLogLevel(level)
	if err != nil || lv < l.min || l.out == nil {
		return
	}
	switch lv {
	case levelDebug:
		l.out.Debugf(format, args...)
	case levelInfo:
		l.out.Infof(format, args...)
	case levelWarn:
		l.out.Errorf("warning: "+format, args...)
	default:
		l.out.Errorf(format, args...)
	}
}
