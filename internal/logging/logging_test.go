package logging

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// recorder is a Printf that keeps each line with the method it came to.
type recorder struct{ lines []string }

func (r *recorder) Debugf(f string, a ...any) { r.add("debug", f, a) }
func (r *recorder) Infof(f string, a ...any)  { r.add("info", f, a) }
func (r *recorder) Errorf(f string, a ...any) { r.add("error", f, a) }
func (r *recorder) add(m, f string, a []any)  { r.lines = append(r.lines, m+": "+fmt.Sprintf(f, a...)) }

// warnRecorder also has Warnf.
type warnRecorder struct{ recorder }

func (r *warnRecorder) Warnf(f string, a ...any) { r.add("warn", f, a) }

func logAll(f Func) {
	for _, l := range []Level{Debug, Info, Warn, Error} {
		f.Logf(l, "%s line", l)
	}
}

func TestToRoutesEachLevelToItsMethod(t *testing.T) {
	var plain recorder
	logAll(To(&plain, Debug))
	if got, want := strings.Join(plain.lines, "|"), "debug: debug line|info: info line|error: warning: warn line|error: error line"; got != want {
		t.Errorf("a logger without Warnf got %q, want %q", got, want)
	}
	var w warnRecorder
	logAll(To(&w, Info))
	if got, want := strings.Join(w.lines, "|"), "info: info line|warn: warn line|error: error line"; got != want {
		t.Errorf("a logger with Warnf at info got %q, want %q", got, want)
	}
	var off recorder
	logAll(To(&off, Off))
	if len(off.lines) != 0 {
		t.Errorf("level off wrote %q", off.lines)
	}
	var nilFunc Func
	nilFunc.Logf(Error, "discarded") // must not panic
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"debug": Debug, " INFO ": Info, "warning": Warn, "warn": Warn, "error": Error, "none": Off, "off": Off} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
		if err == nil && in == strings.TrimSpace(strings.ToLower(in)) && in != "warning" && in != "none" && got.String() != in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), in)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil || !strings.Contains(err.Error(), "use debug, info, warn, error or off") {
		t.Errorf("ParseLevel(verbose) error %v, want one listing the levels", err)
	}
}

// structuredRecorder keeps lines with their attributes.
type structuredRecorder struct {
	recorder
	attrs []string
}

func (r *structuredRecorder) LogAttrs(l Level, msg string, attrs ...slog.Attr) {
	r.lines = append(r.lines, l.String()+": "+msg)
	r.attrs = append(r.attrs, fmt.Sprint(attrs))
}

func TestAttributesReachOnlyAStructuredLogger(t *testing.T) {
	var plain recorder
	To(&plain, Debug).With(slog.String("app", "a")).Logf(Warn, "upload of %s failed", "cpu", slog.Int("status", 503))
	if got, want := strings.Join(plain.lines, "|"), "error: warning: upload of cpu failed"; got != want {
		t.Errorf("printf logger got %q, want %q (no attributes in the text)", got, want)
	}
	var st structuredRecorder
	To(&st, Debug).With(slog.String("app", "a")).Logf(Warn, "upload of %s failed", "cpu", slog.Int("status", 503))
	if got, want := strings.Join(st.lines, "|")+" "+strings.Join(st.attrs, "|"), "warn: upload of cpu failed [status=503 app=a]"; got != want {
		t.Errorf("structured logger got %q, want %q", got, want)
	}
}
