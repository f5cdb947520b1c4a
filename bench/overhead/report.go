package main

import (
	"debug/buildinfo"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"

	"github.com/pyroscope-sdk/pyroscope-go/bench/internal/stats"
)

// A series is one measure over the rounds of a scenario.
type series = stats.Values

// measure extracts one value per round for variant v; the none record of
// the same round is passed so that a measure can be relative to it.
type measure func(rec, none *record) float64

func (res *results) series(key, v string, m measure) series {
	var out series
	for _, rd := range res.rounds[key] {
		if rd[v] == nil {
			continue
		}
		if x := m(rd[v], rd["none"]); !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// sdks are the variants run other than the baseline.
func (res *results) sdks() []string {
	var out []string
	for _, v := range res.plan.variants {
		if v != "none" {
			out = append(out, v)
		}
	}
	return out
}

// ratio is the per-round ratio ours/peer of a measure: pairing runs of the
// same round cancels slow drifts of a shared machine.
func (res *results) ratio(key string, m measure) series {
	var out series
	for _, rd := range res.rounds[key] {
		if rd["ours"] == nil || rd["peer"] == nil {
			continue
		}
		if x := m(rd["ours"], rd["none"]) / m(rd["peer"], rd["none"]); !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

var (
	wallSeconds  measure = func(r, _ *record) float64 { return r.res.Wall }
	childCPU     measure = func(r, _ *record) float64 { return r.childCPU }
	wallOverhead measure = func(r, n *record) float64 { return r.res.Wall/n.res.Wall - 1 }
	cpuOverhead  measure = func(r, n *record) float64 { return r.childCPU/n.childCPU - 1 }
	phaseCPU     measure = func(r, _ *record) float64 { return r.res.UserCPU + r.res.SysCPU }
	// sdkCPU is the idle phase's CPU above the no-profiler run of the round.
	sdkCPU      measure = func(r, n *record) float64 { return phaseCPU(r, nil) - phaseCPU(n, nil) }
	uploaded    measure = func(r, _ *record) float64 { return float64(r.bytesUploaded()) }
	perWindow   measure = func(r, _ *record) float64 { return r.steadyWindowBytes() }
	windowCount measure = func(r, _ *record) float64 { return float64(r.windows()) }
	heapExtra   measure = func(r, n *record) float64 { return float64(r.res.HeapObjects) - float64(n.res.HeapObjects) }
)

func secs(x float64) string  { return fmt.Sprintf("%.2f s", x) }
func msecs(x float64) string { return fmt.Sprintf("%.0f ms", x*1000) }
func pct(x float64) string   { return fmt.Sprintf("%+.1f%%", x*100) }
func times(x float64) string { return fmt.Sprintf("%.2fx", x) }
func count(x float64) string { return fmt.Sprintf("%.0f", x) }
func kib(x float64) string   { return fmt.Sprintf("%.0f KiB", x/1024) }
func mib(x float64) string   { return fmt.Sprintf("%.1f MiB", x/(1<<20)) }

// report renders the results as markdown.
func report(res *results) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# SDK overhead: this SDK (ours) vs github.com/grafana/pyroscope-go (peer)\n\n")
	w("%s\n\n", machine(res.peer))
	w("Each cell is the median over %d rounds with [min – max]; ratios ours/peer are the median of the per-round ratios. ", res.plan.rounds)
	w("Rounds run none, ours, peer back to back for each scenario. The run took %s; ", res.took.Round(1e9))
	var load series
	for _, rds := range res.rounds {
		for _, rd := range rds {
			for _, rec := range rd {
				if !math.IsNaN(rec.load) {
					load = append(load, rec.load)
				}
			}
		}
	}
	w("the machine's 1-minute load average at the start of each run was %s (other work on a shared machine widens the spread, of wall times most).\n\n",
		load.Spread(func(x float64) string { return fmt.Sprintf("%.1f", x) }))
	w("Both SDKs collect every profile type (cpu, the four heap types, goroutines, mutex_count/duration, block_count/duration), ")
	w("upload with the same UploadRate to one receiver on 127.0.0.1 and are built by the same Go toolchain from the same workload source ")
	w("(only the import differs). The workload sets `runtime.SetMutexProfileFraction(10)` and `runtime.SetBlockProfileRate(10000)` itself ")
	w("for all three variants: grafana/pyroscope-go leaves these rates to the application, and this SDK only sets them when they are 0.\n\n")
	targets(&b, res)
	for _, s := range res.plan.scenarios {
		if s.name == "loaded" {
			loadedTable(&b, res, s)
		}
	}
	idleTable(&b, res)
	selfProfileTable(&b, res)
	return b.String()
}

func loadedTable(b *strings.Builder, res *results, s scenario) {
	k := s.key()
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## Loaded: %d units of CPU and allocation work over %d stacks on all cores, UploadRate %s\n\n", s.work, s.stacks, s.uploadRate)
	w("Wall is the work phase; CPU is the rusage of the whole child process (start, work, Stop).\n\n")
	w("| variant | wall | CPU | wall vs none | CPU vs none | windows | bytes/window | bytes total |\n|---|---|---|---|---|---|---|---|\n")
	for _, v := range res.plan.variants {
		row := []string{v, res.series(k, v, wallSeconds).Spread(secs), res.series(k, v, childCPU).Spread(secs)}
		if v == "none" {
			row = append(row, "", "", "", "", "")
		} else {
			row = append(row, res.series(k, v, wallOverhead).Spread(pct), res.series(k, v, cpuOverhead).Spread(pct),
				res.series(k, v, windowCount).Spread(count), res.series(k, v, perWindow).Spread(kib), res.series(k, v, uploaded).Spread(kib))
		}
		w("| %s |\n", strings.Join(row, " | "))
	}
	w("\nours/peer: wall %s, CPU %s, bytes/window %s, bytes total %s.\n\n",
		res.ratio(k, wallSeconds).Spread(times), res.ratio(k, childCPU).Spread(times),
		res.ratio(k, perWindow).Spread(times), res.ratio(k, uploaded).Spread(times))
	familyBytes(b, res, s)
}

func idleTable(b *strings.Builder, res *results) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	var idle []scenario
	for _, s := range res.plan.scenarios {
		if s.name == "idle" {
			idle = append(idle, s)
		}
	}
	if len(idle) == 0 {
		return
	}
	s0 := idle[0]
	w("## Idle-rich: live heap, mutex and block history over N stacks, %d parked goroutines, then %s idle at UploadRate %s\n\n", s0.parked, s0.idle, s0.uploadRate)
	w("SDK CPU is the CPU the process used from Start to Stop minus the no-profiler run of the same round (which sleeps): it is all the profiler's. ")
	w("It includes, for this SDK only, one more window per family than the UploadRate ticks: the one Stop cuts short, which this SDK collects and sends ")
	w("(a forced GC and a full heap profile among it) and grafana/pyroscope-go v1.4 drops (its Stop uploads nothing). ")
	w("Heap is `/memory/classes/heap/objects:bytes` after a forced GC before Stop, minus the no-profiler run. ")
	w("Bytes are request bodies as sent (multipart framing included). Bytes/window is the steady state: per profile family, the uploads ")
	w("other than the first (where grafana/pyroscope-go sends what happened before Start) and the last (cut short by Stop), as bytes per second ")
	w("times UploadRate, summed over the families.\n\n")
	w("| stacks | variant | SDK CPU | windows | bytes/window | bytes total | heap above none |\n|---|---|---|---|---|---|---|\n")
	for _, s := range idle {
		k := s.key()
		for _, v := range res.sdks() {
			w("| %d | %s | %s | %s | %s | %s | %s |\n", s.stacks, v,
				res.series(k, v, sdkCPU).Spread(msecs), res.series(k, v, windowCount).Spread(count),
				res.series(k, v, perWindow).Spread(kib), res.series(k, v, uploaded).Spread(kib),
				res.series(k, v, heapExtra).Spread(mib))
		}
		w("| %d | none | %s of CPU while idle | | | | heap %s |\n", s.stacks,
			res.series(k, "none", phaseCPU).Spread(msecs), res.series(k, "none", func(r, _ *record) float64 { return float64(r.res.HeapObjects) }).Spread(mib))
	}
	w("\n| stacks | SDK CPU ours/peer | bytes/window ours/peer | bytes total ours/peer | heap above none ours/peer |\n|---|---|---|---|---|\n")
	for _, s := range idle {
		k := s.key()
		w("| %d | %s | %s | %s | %s |\n", s.stacks, res.ratio(k, sdkCPU).Spread(times), res.ratio(k, perWindow).Spread(times),
			res.ratio(k, uploaded).Spread(times), res.ratio(k, heapExtra).Spread(times))
	}
	w("\n")
	familyBytes(b, res, idle[len(idle)-1])
	w("![SDK CPU against distinct stacks](overhead.svg)\n\n")
}

// targets is the summary against the goals of the benchmark's issue.
func targets(b *strings.Builder, res *results) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	var loaded, idleBig *scenario
	for i, s := range res.plan.scenarios {
		switch {
		case s.name == "loaded":
			loaded = &res.plan.scenarios[i]
		case s.name == "idle" && (idleBig == nil || s.stacks > idleBig.stacks):
			idleBig = &res.plan.scenarios[i]
		}
	}
	w("## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	// met judges a series' median by ok; with no data it says so.
	met := func(s series, ok func(float64) bool) string {
		switch {
		case len(s) == 0:
			return "n/a"
		case ok(s.Median()):
			return "yes"
		}
		return "**no**"
	}
	atMost := func(limit float64) func(float64) bool { return func(x float64) bool { return x <= limit } }
	if idleBig != nil {
		k := idleBig.key()
		r := res.ratio(k, sdkCPU)
		w("| idle-rich (%d stacks): SDK CPU ours/peer ≤ 0.5x | %s | %s |\n", idleBig.stacks, r.Spread(times), met(r, atMost(0.5)))
		r = res.ratio(k, perWindow)
		w("| idle-rich (%d stacks): bytes per steady window ours/peer ≤ 0.8x | %s | %s |\n", idleBig.stacks, r.Spread(times), met(r, atMost(0.8)))
		r = res.ratio(k, heapExtra)
		w("| idle-rich (%d stacks): heap above none ours/peer ≤ 1x | %s | %s |\n", idleBig.stacks, r.Spread(times), met(r, atMost(1)))
	}
	if loaded != nil {
		k := loaded.key()
		// A 2% effect cannot be told from the baseline's own run-to-run
		// spread when that spread is larger: say so instead of yes or no.
		below2 := func(name string, over series, base measure) {
			b := res.series(k, "none", base)
			noise := (b.Max() - b.Min()) / b.Median()
			verdict := met(over, func(x float64) bool { return x < 0.02 })
			if noise > 0.02 && len(over) > 0 {
				verdict = fmt.Sprintf("inconclusive: none's own spread is %.1f%%", noise*100)
			}
			w("| loaded (UploadRate %s): %s overhead < 2%% | %s | %s |\n", loaded.uploadRate, name, over.Spread(pct), verdict)
		}
		below2("wall", res.series(k, "ours", wallOverhead), wallSeconds)
		below2("CPU", res.series(k, "ours", cpuOverhead), childCPU)
		r := res.ratio(k, wallSeconds)
		noise := res.series(k, "none", wallSeconds)
		nz := (noise.Max() - noise.Min()) / noise.Median()
		w("| loaded: wall within noise of peer or better | ours/peer %s; none's own spread %.1f%% | %s |\n", r.Spread(times), nz*100, met(r, atMost(1+nz)))
		r = res.ratio(k, childCPU)
		cpuNoise := res.series(k, "none", childCPU)
		cz := (cpuNoise.Max() - cpuNoise.Min()) / cpuNoise.Median()
		w("| loaded: CPU within noise of peer or better | ours/peer %s; none's own spread %.1f%% | %s |\n", r.Spread(times), cz*100, met(r, atMost(1+cz)))
		r = res.ratio(k, perWindow)
		w("| loaded: bytes per steady window ours/peer ≤ 0.8x | %s | %s |\n", r.Spread(times), met(r, atMost(0.8)))
	}
	w("\n")
}

// machine describes where the numbers come from.
func machine(peer string) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("Machine: %d cores (%s), %s/%s, %s; peer %s.", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version(), peer)
}

// peerVersion names the grafana/pyroscope-go version linked into bin.
func peerVersion(bin string) string {
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		for _, d := range bi.Deps {
			if d.Path == "github.com/grafana/pyroscope-go" {
				return d.Path + " " + d.Version
			}
		}
	}
	return "github.com/grafana/pyroscope-go (version unknown)"
}

// familyBytes breaks the steady bytes per window of scenario s down by
// profile family, to show where a difference in bytes comes from.
func familyBytes(b *strings.Builder, res *results, s scenario) {
	sdks := res.sdks()
	fmt.Fprintf(b, "Steady bytes per window by profile family (%s):\n\n| family | %s |\n|---|%s\n", s.key(), strings.Join(sdks, " | "), strings.Repeat("---|", len(sdks)))
	for _, f := range []string{"cpu", "heap", "goroutines", "mutex", "block"} {
		row := []string{f}
		for _, v := range sdks {
			row = append(row, res.series(s.key(), v, func(r, _ *record) float64 {
				if b, ok := r.steadyFamilyBytes()[f]; ok {
					return b
				}
				return math.NaN() // too few windows
			}).Spread(kib))
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	b.WriteString("\n")
}
