package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
)

// A point is one measurement: the agent profiling n busy targets.
type point struct {
	n        int
	cpu      time.Duration // agent CPU time (user+system) over the span
	span     time.Duration
	run      time.Duration // the agent's whole run, start to exit
	rss      int64         // bytes resident at the end of the span
	peak     int64         // bytes, the most ever resident (VmHWM)
	samples  int64         // CPU samples of the targets in the agent's windows
	windows  int           // CPU windows written
	hot      bool          // main.burn is in the profiles
	loadAvg1 float64
}

// cpuShare is the agent's CPU time as a share of one core, in percent.
func (p point) cpuShare() float64 { return p.cpu.Seconds() / p.span.Seconds() * 100 }

// results are every round's points, by target count.
type results struct {
	plan   plan
	points map[int][]point
	agent  string // the agent's version line
}

// measureAll builds the agent and the target program, then measures every
// point of the plan, rounds interleaved.
func measureAll(ctx context.Context, p plan, progress io.Writer) (*results, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root: it makes cgroups and opens system-wide perf events")
	}
	mounts, err := discover.FindMounts()
	if err != nil || mounts.Unified == "" {
		return nil, fmt.Errorf("no cgroup v2 hierarchy to put the targets in (mounts %+v): %v", mounts, err)
	}
	dir, err := os.MkdirTemp("", "agentcost-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	agent, target, err := build(ctx, dir)
	if err != nil {
		return nil, err
	}
	ver, _ := exec.CommandContext(ctx, agent, "version").Output()
	res := &results{plan: p, points: map[int][]point{}, agent: strings.TrimSpace(string(ver))}
	for r := 0; r < p.rounds; r++ {
		for _, n := range p.targets {
			fmt.Fprintf(progress, "round %d/%d: %d targets... ", r+1, p.rounds, n)
			pt, err := measure(ctx, p, mounts.Unified, agent, target, n, filepath.Join(dir, fmt.Sprintf("out-%d-%d", r, n)))
			if err != nil {
				return nil, fmt.Errorf("%d targets: %w", n, err)
			}
			fmt.Fprintf(progress, "agent CPU %.2f%% of a core, RSS %.1f MiB (peak %.1f), %d samples in %d windows\n",
				pt.cpuShare(), mib(pt.rss), mib(pt.peak), pt.samples, pt.windows)
			res.points[n] = append(res.points[n], pt)
		}
	}
	return res, nil
}

// build compiles the CLI from this checkout and the target program.
func build(ctx context.Context, dir string) (agent, target string, err error) {
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/pyroscope-sdk/pyroscope-go").Output()
	if err != nil {
		return "", "", fmt.Errorf("finding the SDK's checkout: %w", err)
	}
	agent, target = filepath.Join(dir, "pyroscope"), filepath.Join(dir, "target")
	cli := exec.CommandContext(ctx, "go", "build", "-o", agent, ".")
	cli.Dir = filepath.Join(strings.TrimSpace(string(root)), "cmd", "pyroscope")
	if out, err := cli.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building the CLI: %w\n%s", err, out)
	}
	tgt := exec.CommandContext(ctx, "go", "build", "-o", target, "github.com/pyroscope-sdk/pyroscope-go/bench/agentcost/target")
	if out, err := tgt.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building the target: %w\n%s", err, out)
	}
	return agent, target, nil
}

// measure runs one point: n targets in a fresh unit, the agent on it.
func measure(ctx context.Context, p plan, mount, agent, target string, n int, out string) (point, error) {
	pt := point{n: n}
	unit, cg, err := makeUnit(mount)
	if err != nil {
		return pt, err
	}
	defer removeCgroup(cg)
	stopTargets, err := startTargets(ctx, target, cg, n)
	defer stopTargets()
	if err != nil {
		return pt, err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, agent, "agent", "--node=bench", "--kubernetes=false",
		"--systemd-units="+unit, "--server-address=file://"+out, "--upload-rate="+p.uploadRate.String(), "--log-level=info")
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return pt, fmt.Errorf("starting the agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	wait := func(d time.Duration) error {
		select {
		case err := <-exited:
			return fmt.Errorf("the agent exited early (%v):\n%s", err, stderr.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	if err := wait(p.warmup); err != nil {
		return pt, err
	}
	pid := cmd.Process.Pid
	t0, c0, err := cpuTime(pid)
	if err != nil {
		return pt, err
	}
	if err := wait(p.span); err != nil {
		return pt, err
	}
	t1, c1, err := cpuTime(pid)
	if err != nil {
		return pt, err
	}
	pt.cpu, pt.span = c1-c0, t1.Sub(t0)
	if pt.rss, pt.peak, err = memory(pid); err != nil {
		return pt, err
	}
	pt.loadAvg1 = loadAverage()
	cmd.Process.Signal(os.Interrupt)
	err = <-exited
	pt.run = time.Since(started)
	if err != nil {
		return pt, fmt.Errorf("the agent failed at its stop: %v\n%s", err, stderr.String())
	}
	if err := readWindows(out, &pt); err != nil {
		return pt, err
	}
	if pt.windows == 0 || !pt.hot {
		return pt, fmt.Errorf("the agent wrote %d CPU windows, main.burn seen: %v; its log:\n%s", pt.windows, pt.hot, stderr.String())
	}
	return pt, nil
}

// makeUnit makes an empty cgroup named as systemd names a service in a
// slice of its own, and returns the unit's name and the cgroup's directory.
func makeUnit(mount string) (unit, dir string, err error) {
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	unit = "pbench-" + id + ".service"
	dir = filepath.Join(mount, "pbench-"+id+".slice", unit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("making the unit's cgroup: %w", err)
	}
	return unit, dir, nil
}

// removeCgroup removes a cgroup made by makeUnit once its processes are gone.
func removeCgroup(dir string) {
	for range 50 {
		if os.Remove(dir) == nil || errors.Is(os.Remove(dir), fs.ErrNotExist) {
			break
		}
		time.Sleep(100 * time.Millisecond) // killed processes leave the cgroup asynchronously
	}
	os.Remove(filepath.Dir(dir))
}

// startTargets starts n copies of target directly in the cgroup dir
// (clone3 with CLONE_INTO_CGROUP), so each is in the unit from its first
// instruction.
func startTargets(ctx context.Context, target, dir string, n int) (stop func(), err error) {
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return func() {}, fmt.Errorf("opening the unit's cgroup: %w", err)
	}
	defer syscall.Close(fd)
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
	for range n {
		c := exec.CommandContext(ctx, target)
		c.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		if err := c.Start(); err != nil {
			return stop, fmt.Errorf("starting a target in %s: %w", dir, err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// cpuTime reads a process's user+system time from /proc/PID/stat, in the
// kernel's USER_HZ ticks (100 per second on every Linux architecture).
func cpuTime(pid int) (time.Time, time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	now := time.Now()
	if err != nil {
		return now, 0, err
	}
	end := bytes.LastIndexByte(b, ')')
	fields := strings.Fields(string(b[end+1:]))
	if end < 0 || len(fields) < 13 {
		return now, 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	// Fields after the command: state is [0], utime [11], stime [12].
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return now, 0, err
	}
	return now, time.Duration(ut+st) * (time.Second / 100), nil
}

// memory reads VmRSS and VmHWM from /proc/PID/status, in bytes.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

// readWindows counts the CPU windows the agent wrote under out, their
// samples, and whether the targets' hot function is among them.
func readWindows(out string, pt *point) error {
	return filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pb.gz") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		prof, err := profile.Parse(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(prof.SampleType) == 0 || prof.SampleType[0].Type != "samples" {
			return nil
		}
		pt.windows++
		for _, s := range prof.Sample {
			pt.samples += s.Value[0]
			for _, loc := range s.Location {
				for _, l := range loc.Line {
					if l.Function != nil && l.Function.Name == "main.burn" {
						pt.hot = true
					}
				}
			}
		}
		return nil
	})
}

// loadAverage is the machine's one-minute load average, for the table.
func loadAverage() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	x, _ := strconv.ParseFloat(f[0], 64)
	return x
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
