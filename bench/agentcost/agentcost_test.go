package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
)

// TestSmoke is the benchmark's CI mode: the agent is built and run on a few
// targets, and must write CPU windows holding their hot function. It never
// looks at a timing or a memory figure.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs the agent")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the benchmark makes cgroups and opens system-wide perf events")
	}
	if m, err := discover.FindMounts(); err != nil || m.Unified == "" {
		t.Skipf("no cgroup v2 hierarchy (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := smokePlan()
	p.targets, p.span = []int{3}, 3*time.Second
	var progress bytes.Buffer
	res, err := measureAll(ctx, p, &progress)
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	pts := res.points[3]
	if len(pts) != 1 || pts[0].windows == 0 || !pts[0].hot {
		t.Fatalf("points %+v: want one with CPU windows holding main.burn", pts)
	}
	md := report(res)
	if !strings.Contains(md, "| 3 |") {
		t.Errorf("report has no row for 3 targets:\n%s", md)
	}
}
