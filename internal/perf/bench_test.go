package perf

import (
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSamplerCPU measures the sampler's own CPU time (this process:
// ring reading, aggregation, symbolization with a warm cache, pprof
// encoding) per 1000 samples of three spinning threads at 1000 Hz. One op
// is 1000 samples followed by a Profile; see the cpu-ns/1000-samples metric
// (wall time per op is mostly waiting and is not reported).
func BenchmarkSamplerCPU(b *testing.B) {
	requirePerf(b)
	w := startWorkload(b, buildGo(b, "testdata/gothreads"))
	s := attach(b, Options{PID: w.cmd.Process.Pid, Frequency: 1000})
	io.WriteString(w.stdin, "go\n")
	w.expect(b, "started")
	cpu := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.Profile(io.Discard, time.Now(), time.Now()) // load the binary: not part of the steady cost
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start, before := s.Stats().Samples, cpu()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for want := start + uint64(i+1)*1000; s.Stats().Samples < want; {
			<-tick.C
		}
		if err := s.Profile(io.Discard, time.Now(), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	samples := s.Stats().Samples - start
	b.ReportMetric(float64(cpu()-before)/float64(samples)*1000, "cpu-ns/1000-samples")
	b.ReportMetric(0, "ns/op")
}
