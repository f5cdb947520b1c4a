//go:build !go1.25 || go1.28 || pyroscope_publicapi

package collect

import (
	"runtime"
	"strings"
	"testing"
)

// stampsGoroutines is false on this path: the goroutine profile is
// runtime/pprof's, stamped when it was written (with no duration).
const stampsGoroutines = false

// byPosition is true on this path: runtime/pprof's profiles are parsed and
// known by stack, there is no listing whose positions could go stale.
func byPosition(Collector) bool { return true }

func TestCheckedRelease(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"go1.25", true},
		{"go1.25.14", true},
		{"go1.26.8", true},
		{"go1.27rc1", true},
		{"go1.27.4", true},
		{"go1.24.9", false},
		{"go1.28", false},
		{"go1.28.1", false},
		{"go1.250", false},
		{"devel go1.28-3f8a1c2 Tue Dec 1 2026", false},
	} {
		if got := checkedRelease(tc.version); got != tc.want {
			t.Errorf("checkedRelease(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
}

func TestPathSaysWhy(t *testing.T) {
	got := Path()
	if !strings.Contains(got, "runtime/pprof's public API") {
		t.Errorf("Path() = %q, want it to name runtime/pprof's public API", got)
	}
	if checkedRelease(runtime.Version()) && !strings.Contains(got, "pyroscope_publicapi") {
		t.Errorf("Path() = %q on %s, want it to name the build tag", got, runtime.Version())
	}
}
