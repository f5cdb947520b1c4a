package pyroscope

import "github.com/pyroscope-sdk/pyroscope-go/internal/logging"

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
