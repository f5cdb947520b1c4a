package pyroscope

import (
	"bytes"
	"runtime/pprof"
	"testing"
)

// goroutineProfile is this process's goroutine profile as gzipped pprof.
func goroutineProfile(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
