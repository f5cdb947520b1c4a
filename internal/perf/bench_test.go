package perf

import (
	"io"
	"strconv"
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
	benchmarkWindows(b, s, func() {
		if err := s.Profile(io.Discard, time.Now(), time.Now()); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkSystemCPU is BenchmarkSamplerCPU for AttachSystem: every task
// of the machine at 1000 Hz (both CPUs kept busy by three spinning threads
// in a cgroup of their own), each window split by cgroup as a node agent
// does, with the group function's answers cached by cgroup ID.
//
// whole-node profiles every task, so whatever else runs on the machine is
// symbolized too, and each binary new to the sampler (a build's fresh test
// executables) is read in the window that first holds it. one-cgroup keeps
// only the workload's cgroup, as an agent given a few units does: the cost
// of following the rest of the machine without profiling it.
func BenchmarkSystemCPU(b *testing.B) {
	cg := makeTestCgroups(b)
	dir, id := cg.make(b, "bench.scope")
	w := startIn(b, dir, buildGo(b, "testdata/gothreads"))
	s := attachSystem(b, SystemOptions{Frequency: 1000})
	io.WriteString(w.stdin, "go\n")
	w.expect(b, "started")
	for _, mode := range []string{"whole-node", "one-cgroup"} {
		b.Run(mode, func(b *testing.B) {
			keys := map[uint64]string{}
			group := func(t Task) (string, bool) {
				k, ok := keys[t.Cgroup]
				if !ok {
					k = strconv.FormatUint(t.Cgroup, 10)
					keys[t.Cgroup] = k
				}
				return k, mode == "whole-node" || t.Cgroup == id
			}
			benchmarkWindows(b, s, func() {
				if _, err := s.ProfileGroups(time.Now(), time.Now(), group); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(s.Stats().Processes), "processes")
		})
	}
}

// benchmarkWindows runs b.N windows of 1000 samples each and reports the
// CPU time this process spent per 1000 samples.
func benchmarkWindows(b *testing.B, s *Sampler, window func()) {
	cpu := func() time.Duration {
		var ru unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	window() // load the binaries: not part of the steady cost
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start, before := s.Stats().Samples, cpu()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for want := start + uint64(i+1)*1000; s.Stats().Samples < want; {
			<-tick.C
		}
		window()
	}
	b.StopTimer()
	samples := s.Stats().Samples - start
	b.ReportMetric(float64(cpu()-before)/float64(samples)*1000, "cpu-ns/1000-samples")
	b.ReportMetric(0, "ns/op")
}
