package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

// allVariants are the three builds of the workload, in the order they run
// in each round.
func allVariants() []string { return []string{"none", "ours", "peer"} }

const workloadPkg = "github.com/pyroscope-sdk/pyroscope-go/bench/overhead/workload"

// buildWorkloads compiles the workload once per variant into dir with the
// go command that runs the driver, so every variant has the same toolchain.
func buildWorkloads(ctx context.Context, dir string, variants []string) (map[string]string, error) {
	bins := map[string]string{}
	for _, v := range variants {
		bin := filepath.Join(dir, "workload-"+v)
		args := []string{"build", "-o", bin}
		if v != "none" {
			args = append(args, "-tags", v)
		}
		cmd := exec.CommandContext(ctx, "go", append(args, workloadPkg)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the %s workload: %w\n%s", v, err, out)
		}
		bins[v] = bin
	}
	return bins, nil
}

// A scenario is one workload configuration run for every variant.
type scenario struct {
	name       string // loaded or idle
	stacks     int
	work       int           // loaded only
	idle       time.Duration // idle only
	parked     int           // idle only
	uploadRate time.Duration
}

func (s scenario) key() string { return fmt.Sprintf("%s-%d", s.name, s.stacks) }

func (s scenario) args() []string {
	a := []string{"-scenario", s.name, "-stacks", fmt.Sprint(s.stacks), "-upload-rate", s.uploadRate.String()}
	if s.name == "loaded" {
		return append(a, "-work", fmt.Sprint(s.work))
	}
	return append(a, "-idle", s.idle.String(), "-parked", fmt.Sprint(s.parked))
}

// A record is what one run of one variant measured.
type record struct {
	variant    string
	uploadRate time.Duration
	// load is the machine's 1-minute load average when the run started:
	// other processes on a shared machine show up here, and in the spread.
	load float64
	res  Result
	// childCPU is user+system CPU of the whole child process (rusage), from
	// exec to exit.
	childCPU float64
	uploads  []upload
	// cpu is the merge of the run's uploaded CPU profiles: the SDK profiles
	// its own process, so in the idle scenario it shows where the SDK's
	// time goes.
	cpu *profile.Profile
}

// bytesUploaded is the sum of request bodies, multipart framing included.
func (r *record) bytesUploaded() int {
	n := 0
	for _, u := range r.uploads {
		n += u.bodyBytes
	}
	return n
}

// windows is the number of windows sent: the most uploads of any one
// profile family.
func (r *record) windows() int {
	n := 0
	for _, c := range r.families() {
		n = max(n, c)
	}
	return n
}

// steadyWindowBytes is what one window of UploadRate costs in steady state.
// Per profile family it leaves out the first upload (which carries, for
// SDKs that send it, what happened before Start) and the last (cut short by
// Stop), divides the other uploads' bytes by the time they cover, and sums
// the families. The SDKs cut windows differently (grafana/pyroscope-go
// aligns them to multiples of UploadRate and runs its CPU windows on a
// clock of their own), so a rate per family compares them fairly. NaN when
// some family has fewer than three uploads.
func (r *record) steadyWindowBytes() float64 {
	fams := r.steadyFamilyBytes()
	if len(fams) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, b := range fams {
		sum += b
	}
	return sum
}

// steadyFamilyBytes is steadyWindowBytes per profile family. It is empty
// unless every family uploaded three times or more: a run shorter than
// that has no steady window to compare.
func (r *record) steadyFamilyBytes() map[string]float64 {
	byFamily := map[string][]upload{}
	for _, u := range r.uploads {
		byFamily[u.family] = append(byFamily[u.family], u)
	}
	out := map[string]float64{}
	for fam, ups := range byFamily {
		if len(ups) < 3 {
			return nil
		}
		slices.SortFunc(ups, func(a, b upload) int { return cmp.Compare(a.from, b.from) })
		var bytes, nanos int64
		for _, u := range ups[1 : len(ups)-1] {
			bytes += int64(u.bodyBytes)
			nanos += u.until - u.from
		}
		if nanos > 0 {
			out[fam] = float64(bytes) / (float64(nanos) / 1e9) * r.uploadRate.Seconds()
		}
	}
	return out
}

// families lists the profile families uploaded.
func (r *record) families() map[string]int {
	out := map[string]int{}
	for _, u := range r.uploads {
		out[u.family]++
	}
	return out
}

// Result mirrors the workload's output line.
type Result struct {
	Variant     string  `json:"variant"`
	Scenario    string  `json:"scenario"`
	Stacks      int     `json:"stacks"`
	Wall        float64 `json:"wall_seconds"`
	UserCPU     float64 `json:"user_cpu_seconds"`
	SysCPU      float64 `json:"sys_cpu_seconds"`
	HeapObjects uint64  `json:"heap_objects_bytes"`
	Goroutines  int     `json:"goroutines"`
}

// runOne runs the workload binary of variant once for s, uploading to rcv
// under the run id, and checks every upload.
func runOne(ctx context.Context, bin, variant string, s scenario, rcv *receiver, run string) (*record, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute+s.idle)
	defer cancel()
	args := append(s.args(), "-app", "overhead."+variant)
	if variant != "none" {
		args = append(args, "-server", rcv.addressFor(run))
	}
	load := loadAverage()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	raw := rcv.take(run)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w\nstderr:\n%s", variant, s.key(), err, tail(stderr.String()))
	}
	rec := &record{variant: variant, uploadRate: s.uploadRate, load: load}
	if err := json.Unmarshal(stdout.Bytes(), &rec.res); err != nil {
		return nil, fmt.Errorf("%s %s: decoding the workload's result %q: %w", variant, s.key(), stdout.String(), err)
	}
	if rec.res.Variant != variant {
		return nil, fmt.Errorf("binary %s reports variant %q, want %q", bin, rec.res.Variant, variant)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rec.childCPU = tv(ru.Utime) + tv(ru.Stime)
	}
	var cpus []*profile.Profile
	for i, r := range raw {
		u, err := parseUpload(r)
		if err != nil {
			return nil, fmt.Errorf("%s %s: upload %d of %d: %w", variant, s.key(), i+1, len(raw), err)
		}
		if u.family == "cpu" && len(u.prof.Sample) > 0 {
			cpus = append(cpus, u.prof)
		}
		u.prof = nil // keep only the function names; large heap profiles would pile up
		rec.uploads = append(rec.uploads, u)
	}
	if len(cpus) > 0 {
		if rec.cpu, err = profile.Merge(cpus); err != nil {
			return nil, fmt.Errorf("%s %s: merging CPU profiles: %w", variant, s.key(), err)
		}
	}
	return rec, nil
}

// childEnv is the driver's environment without PYROSCOPE_* variables, which
// either SDK would read and the other might not.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYROSCOPE_") {
			env = append(env, kv)
		}
	}
	return env
}

// loadAverage is the 1-minute load average from /proc/loadavg, NaN where
// there is none.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f, _, _ := strings.Cut(string(b), " ")
	x, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return math.NaN()
	}
	return x
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
