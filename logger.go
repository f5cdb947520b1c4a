package pyroscope

import (
	"log/slog"

	"github.com/pyroscope-sdk/pyroscope-go/internal/logging"
)

// Logger receives the SDK's log lines, the interface of grafana's SDK. A
// Logger that also has a Warnf(format string, args ...any) method gets the
// warnings there; without one, warnings go to Errorf, starting "warning: ".
type Logger interface {
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
	Errorf(format string, args ...any)
}

// StandardLogger writes each line once to standard error, at its level:
// "[pyroscope] WARN  message". It is the default Logger.
var StandardLogger Logger = logging.Stderr{}

// SlogLogger returns a Logger that writes to l, each line at its level
// (warnings at slog.LevelWarn) with structured attributes: "app" on every
// line, and where they apply "type" (the profile family), "attempts" (failed
// uploads in a row) and "status" (what the server answered). The handler's
// level filters as usual; PYROSCOPE_LOG_LEVEL, when set, filters first.
func SlogLogger(l *slog.Logger) Logger { return logging.Slog{L: l} }
