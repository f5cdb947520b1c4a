// Command agentcost measures what `pyroscope agent` costs a node: its CPU
// time and memory while it profiles a systemd unit holding 10 to 200 busy
// processes that keep both cores of the machine saturated.
//
// Each point starts the targets in a cgroup named as systemd names a unit
// (<cgroup2>/pbench-<random>.slice/pbench-<random>.service), runs the agent
// with --systemd-units on it and the directory sink, lets it warm up, and
// reads its CPU time (/proc/PID/stat) over the measured span and its
// resident memory (VmRSS at the end, VmHWM the peak). Points run
// interleaved over the rounds, so a slow spell of the machine spreads over
// all of them. It needs root (cgroups, perf events).
//
//	cd bench && sudo go run ./agentcost -full   # ~8 minutes; writes agentcost/RESULTS.md
//	cd bench && sudo go run ./agentcost         # a smoke run of ~15 seconds
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		full    = flag.Bool("full", false, "run the full benchmark (about 8 minutes) instead of the smoke run")
		rounds  = flag.Int("rounds", 0, "rounds over every target count (default 3 with -full, 1 otherwise)")
		targets = flag.String("targets", "", "comma-separated counts of target processes (default 10,50,100,200 with -full, 10 otherwise)")
		span    = flag.Duration("span", 0, "measured time per point, after the warm-up (default 30s with -full, 5s otherwise)")
		out     = flag.String("out", "", "file to write the results table to (default agentcost/RESULTS.md with -full, none otherwise)")
	)
	flag.Parse()
	p := smokePlan()
	if *full {
		p = fullPlan()
		if *out == "" {
			*out = "agentcost/RESULTS.md"
		}
	}
	if *rounds > 0 {
		p.rounds = *rounds
	}
	if *span > 0 {
		p.span = *span
	}
	if *targets != "" {
		p.targets = nil
		for _, f := range strings.Split(*targets, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				fmt.Fprintf(os.Stderr, "agentcost: -targets %q: want positive counts such as 10,50\n", *targets)
				os.Exit(2)
			}
			p.targets = append(p.targets, n)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := measureAll(ctx, p, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentcost:", err)
		os.Exit(1)
	}
	md := report(res)
	fmt.Print(md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "agentcost:", err)
			os.Exit(1)
		}
	}
}

// A plan is what one invocation measures.
type plan struct {
	targets    []int         // target process counts, one point each
	rounds     int           // passes over every point
	warmup     time.Duration // agent running before the measured span
	span       time.Duration // measured
	uploadRate time.Duration
}

func fullPlan() plan {
	return plan{targets: []int{10, 50, 100, 200}, rounds: 3, warmup: 5 * time.Second, span: 30 * time.Second, uploadRate: 10 * time.Second}
}

func smokePlan() plan {
	return plan{targets: []int{10}, rounds: 1, warmup: 2 * time.Second, span: 5 * time.Second, uploadRate: 2 * time.Second}
}
