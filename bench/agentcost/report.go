package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/pyroscope-sdk/pyroscope-go/bench/internal/stats"
)

// Targets the issue sets for the agent on a 2-core machine.
const (
	maxCPUShare = 1.0 // percent of one core
	maxRSSMiB   = 100
)

// report formats the results as markdown: one row per target count, the
// medians over the rounds with their range, and whether each bound holds.
func report(res *results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# `pyroscope agent` cost\n\n")
	fmt.Fprintf(&b, "%s; %d CPUs (%s), %s/%s. Agent: %s, default frequency, `--upload-rate %s`, directory sink.\n",
		cpuModel(), runtime.NumCPU(), kernel(), runtime.GOOS, runtime.GOARCH, res.agent, res.plan.uploadRate)
	fmt.Fprintf(&b, "Targets: busy processes in one systemd-named unit (`--systemd-units`), keeping every CPU saturated. "+
		"%d rounds, points interleaved, %s measured after %s of warm-up; median [min – max].\n\n", res.plan.rounds, res.plan.span, res.plan.warmup)
	b.WriteString("| targets | agent CPU, % of one core | RSS at end, MiB | peak RSS, MiB | samples kept / taken at 99 Hz | load avg |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	var worstCPU, worstRSS float64
	for _, n := range res.plan.targets {
		pts := res.points[n]
		cpu, rss, peak, kept, load := collect(pts, func(p point) float64 { return p.cpuShare() }),
			collect(pts, func(p point) float64 { return mib(p.rss) }),
			collect(pts, func(p point) float64 { return mib(p.peak) }),
			collect(pts, func(p point) float64 { return p.coverage() * 100 }),
			collect(pts, func(p point) float64 { return p.loadAvg1 })
		worstCPU, worstRSS = max(worstCPU, cpu.Median()), max(worstRSS, peak.Median())
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", n, cpu.Spread(f2), rss.Spread(f1), peak.Spread(f1), kept.Spread(pct), load.Spread(f1))
	}
	fmt.Fprintf(&b, "\nBounds: CPU ≤ %.0f%% of one core: %s (largest median %.2f%%); RSS ≤ %d MiB: %s (largest median peak %.1f MiB).\n",
		maxCPUShare, met(worstCPU <= maxCPUShare), worstCPU, maxRSSMiB, met(worstRSS <= maxRSSMiB), worstRSS)
	b.WriteString("\n\"samples kept / taken\" compares the samples in the agent's windows with 99 Hz × CPUs × the agent's run: " +
		"what the targets got of the machine, less the agent's start and the window cut at its stop. " +
		"CPU time is read from /proc/PID/stat in 10 ms ticks, so a median is good to about 10 ms over the span. " +
		"The load average counts the busy targets themselves, and whatever else ran on the machine.\n")
	return b.String()
}

// coverage is the share of the samples a saturated machine yields at 99 Hz
// that reached the agent's windows over its whole run.
func (p point) coverage() float64 {
	return float64(p.samples) / (99 * float64(runtime.NumCPU()) * p.run.Seconds())
}

func collect(pts []point, f func(point) float64) stats.Values {
	var v stats.Values
	for _, p := range pts {
		v = append(v, f(p))
	}
	return v
}

func f1(x float64) string  { return fmt.Sprintf("%.1f", x) }
func f2(x float64) string  { return fmt.Sprintf("%.2f", x) }
func pct(x float64) string { return fmt.Sprintf("%.0f%%", x) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func cpuModel() string {
	b, _ := readFile("/proc/cpuinfo")
	for _, line := range strings.Split(b, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	b, _ := readFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(b)
}
