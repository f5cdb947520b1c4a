// Package pprof serves a CPU profile over HTTP that works while the SDK
// profiles the CPU. net/http/pprof's /debug/pprof/profile answers "cpu
// profiling already in use" then, since the Go runtime allows one CPU
// profiler per process; Profile instead takes its span from the SDK's
// profiler, whose own windows stay complete.
//
// It is registered on no mux: net/http/pprof, often imported by a
// dependency, already claims /debug/pprof/profile on http.DefaultServeMux,
// and a second registration there panics. Choose a path:
//
//	mux.HandleFunc("/debug/pprof/cpu", pprof.Profile)
package pprof

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/collect"
)

// Profile responds with a gzipped pprof CPU profile of the next "seconds"
// seconds (a query parameter; 30 by default), as net/http/pprof's Profile
// does. While the SDK profiles the CPU the samples come from its profiler;
// otherwise Profile runs runtime/pprof itself.
func Profile(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	sec, err := strconv.ParseInt(r.FormValue("seconds"), 10, 64)
	if sec <= 0 || err != nil {
		sec = 30
	}
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && srv.WriteTimeout != 0 && float64(sec) >= srv.WriteTimeout.Seconds() {
		serveError(w, http.StatusBadRequest, "profile duration exceeds server's WriteTimeout")
		return
	}
	d := time.Duration(sec) * time.Second
	data, err := cpuProfile(r.Context(), d)
	if err != nil {
		serveError(w, http.StatusInternalServerError, "Could not enable CPU profiling: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	w.Write(data)
}

// cpuProfile returns the CPU profile of the next d, or until ctx ends.
func cpuProfile(ctx context.Context, d time.Duration) ([]byte, error) {
	if c := collect.RunningCPU(); c != nil {
		return c.Tap(ctx, d, merge)
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		if c := collect.RunningCPU(); c != nil { // the SDK started meanwhile
			return c.Tap(ctx, d, merge)
		}
		return nil, err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	pprof.StopCPUProfile()
	return buf.Bytes(), nil
}

// merge joins CPU profiles of consecutive spans into one covering them all.
func merge(parts [][]byte) ([]byte, error) {
	ps := make([]*profile.Profile, 0, len(parts))
	var start, end int64
	for i, data := range parts {
		p, err := profile.ParseData(data)
		if err != nil {
			return nil, fmt.Errorf("part %d of %d: %w", i+1, len(parts), err)
		}
		if i == 0 || p.TimeNanos < start {
			start = p.TimeNanos
		}
		end = max(end, p.TimeNanos+p.DurationNanos)
		ps = append(ps, p)
	}
	m, err := profile.Merge(ps)
	if err != nil {
		return nil, err
	}
	m.TimeNanos, m.DurationNanos = start, end-start
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func serveError(w http.ResponseWriter, status int, txt string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Go-Pprof", "1")
	w.Header().Del("Content-Disposition")
	w.WriteHeader(status)
	fmt.Fprintln(w, txt)
}
