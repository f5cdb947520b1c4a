package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
	"github.com/pyroscope-sdk/pyroscope-go/internal/pull"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

const connectUsage = `Usage:
  pyroscope connect --pid PID [flags]
  pyroscope connect --url http://HOST:PORT [--url ...] [flags]

--pid attaches to a running process and samples the CPU of all its threads
(and of the processes it starts from then on) with Linux perf events, until
the process exits or pyroscope gets SIGINT or SIGTERM; then it sends the last
window and exits 0. Any Go binary works; C, C++ and Rust need frame pointers
(-fno-omit-frame-pointer; Rust: -C force-frame-pointers=yes). Perf events
need root, CAP_PERFMON, or kernel.perf_event_paranoid <= 2 for your own
processes. The application name defaults to the process's executable name.

--url pulls from a Go program that serves net/http/pprof, for services that
cannot be relaunched: CPU by /debug/pprof/profile?seconds=N (held open for
the whole window), the goroutine snapshot, and the heap (read with gc=1),
mutex and block profiles, turned from the runtime's cumulative counters into
exact per-window changes. Give --url once per instance; each instance's
profiles carry the label instance=HOST:PORT. Mutex and block profiles exist
only if the program sets runtime.SetMutexProfileFraction and
runtime.SetBlockProfileRate. The application name defaults to the program's
executable name as its profiles give it. The CPU profile of the window in
progress when pyroscope stops is lost: net/http/pprof answers only at the end.

Examples:
  export PYROSCOPE_AUTH_TOKEN=psx-...     # not --auth-token: ps and history show flags
  sudo -E pyroscope connect --pid "$(pgrep -n nginx)" --server-address https://profiles.example.com
  pyroscope connect --pid 4242 --application-name billing --tag env=staging
  pyroscope connect --url http://10.0.0.7:6060 --url http://10.0.0.8:6060 --application-name checkout.api
  pyroscope connect --url http://127.0.0.1:6060 --server-address file:///tmp/profiles --upload-rate 10s
`

// urlFlag collects repeated --url.
type urlFlag []string

func (u *urlFlag) String() string     { return strings.Join(*u, ",") }
func (u *urlFlag) Set(v string) error { *u = append(*u, v); return nil }

func runConnect(args []string, io *stdio) int {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	var pidArg string
	var urls urlFlag
	fs.StringVar(&pidArg, "pid", "", "`PID` of the process to sample")
	fs.Var(&urls, "url", "base `URL` of a Go program's net/http/pprof (http://HOST:PORT); repeat for more")
	if code, done := parseOrHelp(fs, connectUsage, args, io); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(io, "connect", fmt.Errorf("unexpected argument %q: connect takes only flags (to run a command, use pyroscope exec -- COMMAND)", fs.Arg(0)))
	}
	switch {
	case pidArg == "" && len(urls) == 0:
		return usageError(io, "connect", errors.New("say what to profile: --pid PID or --url http://HOST:PORT"))
	case pidArg != "" && len(urls) > 0:
		return usageError(io, "connect", errors.New("--pid and --url cannot be combined: run pyroscope twice"))
	case pidArg != "":
		pid, err := positiveInt(pidArg)
		if err != nil {
			return usageError(io, "connect", fmt.Errorf("--pid: %w", err))
		}
		if err := c.cpuOnly(fs, io.getenv, "--pid"); err != nil {
			return usageError(io, "connect", err)
		}
		return connectPID(fs, &c, pid, io)
	default:
		types, err := c.profileTypes(fs, io.getenv)
		if err != nil {
			return usageError(io, "connect", err)
		}
		kinds, err := pullKinds(types, typesSource(fs, io.getenv))
		if err != nil {
			return usageError(io, "connect", err)
		}
		return connectURLs(fs, &c, urls, kinds, io)
	}
}

// stopSignals end a connect session: the last window is sent, then exit 0.
var stopSignals = []os.Signal{unix.SIGINT, unix.SIGTERM}

func connectPID(fs *flag.FlagSet, c *commonFlags, pid int, io *stdio) int {
	if err := c.validate(fs, processName(pid)); err != nil {
		return usageError(io, "connect", err)
	}
	log := newLogger(io.stderr, c.logLevel, c.noLogging)
	// Catch the stop signals before attaching, so that one arriving during
	// the attach still ends the session cleanly.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	s, err := perf.Attach(perf.Options{PID: pid, Children: true, Frequency: c.sampleRate})
	if err != nil {
		return fail(io, "connect", attachError(pid, err))
	}
	dst, err := newDestination(c, io.getenv, log)
	if err != nil {
		s.Close()
		return usageError(io, "connect", err)
	}
	log.Infof("profiling pid %d as %s", pid, dst.Destination)
	cpu := newCPUWindows(s, dst, log, c.sampleRate)
	tick := time.NewTicker(c.uploadRate)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			cpu.cut(time.Now())
		case <-s.Done():
			log.Infof("pid %d exited", pid)
			break loop
		case sig := <-sigs:
			log.Infof("%v: sending the last window", sig)
			break loop
		}
	}
	lastCut := func() { cpu.cut(time.Now()); cpu.close() }
	line, err := dst.close(lastCut)
	if err != nil {
		return fail(io, "connect", errors.New(line))
	}
	log.Infof("%s", line)
	return exitOK
}

// processName is the base name of pid's executable, or its command name
// when the executable cannot be read (another user's process).
func processName(pid int) string {
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		return filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		return strings.TrimSpace(string(comm))
	}
	return ""
}

// probeTimeout bounds the first contact with each --url.
const probeTimeout = 10 * time.Second

// pullKinds turns profile types (as commonFlags.profileTypes gives them)
// into the families a Puller fetches, in pull's order; none for no types,
// meaning all. A family is pulled whole: net/http/pprof serves alloc and
// inuse in one heap profile. source names the flag or variable for the
// error about a type net/http/pprof does not serve.
func pullKinds(types []string, source string) ([]string, error) {
	family := map[string]string{
		"cpu": window.KindCPU, "goroutines": window.KindGoroutines,
		"inuse_space": window.KindHeap, "inuse_objects": window.KindHeap,
		"alloc_space": window.KindHeap, "alloc_objects": window.KindHeap,
		"mutex_count": window.KindMutex, "mutex_duration": window.KindMutex,
		"block_count": window.KindBlock, "block_duration": window.KindBlock,
	}
	want := map[string]bool{}
	for _, t := range types {
		k, ok := family[t]
		if !ok {
			return nil, fmt.Errorf("%s: --url cannot pull %q: net/http/pprof does not serve it; leave it out", source, t)
		}
		want[k] = true
	}
	var kinds []string
	for _, k := range []string{window.KindCPU, window.KindHeap, window.KindGoroutines, window.KindMutex, window.KindBlock} {
		if want[k] {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

func connectURLs(fs *flag.FlagSet, c *commonFlags, urls []string, kinds []string, io *stdio) int {
	if err := c.validateNumbers(); err != nil {
		return usageError(io, "connect", err)
	}
	log := newLogger(io.stderr, c.logLevel, c.noLogging)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)

	// Parca takes a profile as either a change over the window or a
	// snapshot at its end: the pullers write the live heap apart. The
	// destination itself opens after the probe, which names the program.
	separateLive := config.ResolveProtocol(c.protocol, c.server) == config.ProtocolParca
	pullers := make([]*pull.Puller, len(urls))
	for i, u := range urls {
		p, err := pull.New(pull.Options{URL: u, Logf: log.logf, Kinds: kinds, SeparateLiveHeap: separateLive})
		if err != nil {
			return usageError(io, "connect", fmt.Errorf("--url: %w", err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		err = p.Probe(ctx)
		cancel()
		if err != nil {
			return fail(io, "connect", fmt.Errorf("%w: check that the program runs and serves net/http/pprof at this address", err))
		}
		pullers[i] = p
	}
	def := pullers[0].Binary()
	if def == "" {
		def = "go-program"
	}
	if err := c.validate(fs, def); err != nil {
		return usageError(io, "connect", err)
	}
	dst, err := newDestination(c, io.getenv, log)
	if err != nil {
		return usageError(io, "connect", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range pullers {
		labels := map[string]string{"instance": p.Host()}
		log.Infof("pulling %s as %s", p.Host(), dst.Describe(labels))
		wg.Add(1)
		go func() {
			defer wg.Done()
			pullLoop(ctx, p, dst, labels, c.uploadRate, log)
		}()
	}
	sig := <-sigs
	log.Infof("%v: sending the last windows", sig)
	lastCut := func() { stop(); wg.Wait() } // each puller sends its last window
	line, err := dst.close(lastCut)
	if err != nil {
		return fail(io, "connect", errors.New(line))
	}
	log.Infof("%s", line)
	return exitOK
}

// pullLoop pulls p window after window until ctx ends, then reads the last
// window of the cumulative profiles. Each round takes at least rate, also
// when the program is unreachable or refuses the CPU profile.
func pullLoop(ctx context.Context, p *pull.Puller, dst *destination, labels map[string]string, rate time.Duration, log *logger) {
	failing := false
	for ctx.Err() == nil {
		start := time.Now()
		cut, cancel := context.WithTimeout(context.Background(), probeTimeout)
		ws, err := p.Pull(ctx, cut, rate)
		cancel()
		switch {
		case err != nil && !failing:
			failing = true
			log.Warnf("%v (retrying every %s)", err, rate)
		case err == nil && failing:
			failing = false
			log.Infof("%s answers again", p.Host())
		}
		if len(ws) > 0 {
			dst.push(labels, ws...)
		}
		if ctx.Err() != nil {
			return // Pull read the last window with cut
		}
		if wait := rate - time.Since(start); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				cut, cancel := context.WithTimeout(context.Background(), probeTimeout)
				defer cancel()
				ws, err := p.Cut(cut)
				if err != nil {
					log.Warnf("pull %s: last window: %v", p.Host(), err)
				}
				if len(ws) > 0 {
					dst.push(labels, ws...)
				}
				return
			}
		}
	}
}
