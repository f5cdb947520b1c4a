// Command overhead measures what continuous profiling costs a Go program,
// for this SDK and for github.com/grafana/pyroscope-go side by side.
//
// It builds ./workload three times (no profiler, this SDK, the peer), runs
// each scenario in interleaved rounds (none, ours, peer, none, ours, peer,
// ...) with both SDKs uploading to one receiver on 127.0.0.1, and prints a
// markdown table of medians with min-max and the paired ratios ours/peer.
//
//	cd bench && go run ./overhead -full   # ~12 minutes; writes overhead/RESULTS.md and overhead/overhead.svg
//	cd bench && go run ./overhead         # a smoke run of a few seconds
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	var (
		full   = flag.Bool("full", false, "run the full benchmark (about 12 minutes) instead of the smoke run")
		rounds = flag.Int("rounds", 0, "rounds of (none, ours, peer) per scenario (default 5 with -full, 1 otherwise)")
		only   = flag.String("variants", strings.Join(allVariants(), ","), "comma-separated variants to run (none must be among them)")
		out    = flag.String("out", "", "directory to write RESULTS.md, overhead.svg and the SDKs' merged CPU profiles into (default overhead with -full, none otherwise)")
		idle   = flag.Int("idle", 0, "run only the full plan's idle-rich scenario at this many stacks (5 rounds unless -rounds): for working on the SDK's idle cost")
	)
	flag.Parse()
	p := smokePlan()
	if *full {
		p = fullPlan()
		if *out == "" {
			*out = "overhead"
		}
	}
	if *idle > 0 {
		p = fullPlan()
		p.scenarios = slices.DeleteFunc(p.scenarios, func(s scenario) bool { return s.name != "idle" })[:1]
		p.scenarios[0].stacks = *idle
	}
	p.variants = strings.Split(*only, ",")
	if !slices.Contains(p.variants, "none") {
		fmt.Fprintln(os.Stderr, "overhead: -variants must include none, the baseline")
		os.Exit(2)
	}
	if *rounds > 0 {
		p.rounds = *rounds
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, p, *out, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

// A plan is what one invocation runs.
type plan struct {
	variants  []string // run in this order in every round; none is the baseline
	scenarios []scenario
	rounds    int
}

// fullPlan is the published benchmark: the loaded scenario at the default
// UploadRate, and the idle-rich one at three stack counts (for the plot)
// with a short UploadRate so the profiler works often.
func fullPlan() plan {
	p := plan{variants: allVariants(), rounds: 5, scenarios: []scenario{
		{name: "loaded", stacks: 1 << 10, work: 600_000, uploadRate: 15 * time.Second},
	}}
	for _, n := range []int{1 << 10, 1 << 12, 1 << 14} {
		p.scenarios = append(p.scenarios, scenario{name: "idle", stacks: n, idle: 5 * time.Second, parked: 300, uploadRate: time.Second})
	}
	return p
}

// smokePlan runs every variant once on small scenarios: enough to show each
// builds, runs and uploads profiles that parse.
func smokePlan() plan {
	return plan{variants: allVariants(), rounds: 1, scenarios: []scenario{
		{name: "loaded", stacks: 1 << 8, work: 4000, uploadRate: 250 * time.Millisecond},
		{name: "idle", stacks: 1 << 8, idle: time.Second, parked: 50, uploadRate: 250 * time.Millisecond},
	}}
}

// run builds the workloads, runs the plan, checks every run's uploads and
// writes the report to stdout (and files to outDir when set).
func run(ctx context.Context, p plan, outDir string, stdout, progress io.Writer) error {
	res, err := measureAll(ctx, p, progress)
	if err != nil {
		return err
	}
	for _, s := range p.scenarios {
		for _, rd := range res.rounds[s.key()] {
			for _, v := range p.variants {
				if err := checkRecord(rd[v], s); err != nil {
					return err
				}
			}
		}
	}
	md := report(res)
	fmt.Fprint(stdout, md)
	if outDir == "" {
		return nil
	}
	if err := os.WriteFile(filepath.Join(outDir, "RESULTS.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing RESULTS.md: %w (run from bench/ or set -out)", err)
	}
	if err := os.WriteFile(filepath.Join(outDir, "overhead.svg"), []byte(plot(res)), 0o644); err != nil {
		return fmt.Errorf("writing overhead.svg: %w", err)
	}
	return writeSelfProfiles(res, outDir)
}

// results holds, per scenario key, one map variant → record per round.
type results struct {
	plan   plan
	peer   string // the peer's module version
	start  time.Time
	took   time.Duration
	rounds map[string][]map[string]*record
}

func measureAll(ctx context.Context, p plan, progress io.Writer) (*results, error) {
	tmp, err := os.MkdirTemp("", "overhead-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(progress, "building the workload for", p.variants)
	bins, err := buildWorkloads(ctx, tmp, p.variants)
	if err != nil {
		return nil, err
	}
	rcv, err := newReceiver()
	if err != nil {
		return nil, err
	}
	defer rcv.close()

	res := &results{plan: p, peer: peerVersion(bins["peer"]), start: time.Now(), rounds: map[string][]map[string]*record{}}
	id := 0
	for _, s := range p.scenarios {
		for r := range p.rounds {
			rd := map[string]*record{}
			for _, v := range p.variants {
				id++
				rec, err := runOne(ctx, bins[v], v, s, rcv, fmt.Sprint(id))
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(progress, "%-12s round %d/%d %-4s wall %6.2fs cpu %6.2fs uploads %3d bytes %9d\n",
					s.key(), r+1, p.rounds, v, rec.res.Wall, rec.res.UserCPU+rec.res.SysCPU, len(rec.uploads), rec.bytesUploaded())
				rd[v] = rec
			}
			res.rounds[s.key()] = append(res.rounds[s.key()], rd)
		}
	}
	res.took = time.Since(res.start)
	return res, nil
}

// checkRecord fails when an SDK run did not deliver what a server needs:
// every profile family, each upload parsed (done by runOne), and the
// workload's own functions in the heap and goroutine profiles.
func checkRecord(rec *record, s scenario) error {
	if rec.variant == "none" {
		if len(rec.uploads) != 0 {
			return fmt.Errorf("%s: the none variant uploaded %d profiles", s.key(), len(rec.uploads))
		}
		return nil
	}
	fams := rec.families()
	required := []string{"cpu", "heap", "goroutines", "mutex", "block"}
	if rec.variant == "peer" && time.Duration(rec.res.Wall*float64(time.Second)) < 2*s.uploadRate {
		// grafana/pyroscope-go sends only CPU at Stop: its other types
		// arrive once a window has been cut on its timer, which a run
		// shorter than two upload periods may never see.
		required = required[:1]
	}
	for _, f := range required {
		if fams[f] == 0 {
			return fmt.Errorf("%s %s: no %s profile uploaded (got %v)", s.key(), rec.variant, f, fams)
		}
	}
	if s.name != "idle" {
		return nil
	}
	for fam, fn := range map[string]string{"heap": "main.heapRoot", "goroutines": "main.parkRoot"} {
		if !rec.sawFunction(fam, fn) {
			return fmt.Errorf("%s %s: no %s profile holds %s", s.key(), rec.variant, fam, fn)
		}
	}
	return nil
}

func (r *record) sawFunction(family, fn string) bool {
	for _, u := range r.uploads {
		if u.family == family && u.functions[fn] {
			return true
		}
	}
	return false
}
