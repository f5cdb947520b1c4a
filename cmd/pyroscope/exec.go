package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
)

const execUsage = `Usage: pyroscope exec [flags] -- COMMAND [ARGS...]

Runs COMMAND with stdin, stdout and stderr passed through, samples the CPU of
its whole process tree (every thread, every child it starts) with Linux perf
events, and sends one profile every --upload-rate. Signals sent to pyroscope
(SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT,
...) are relayed to COMMAND; pyroscope exits with COMMAND's exit status, or
128+N when COMMAND died of signal N. The last window is sent when COMMAND exits.

Stacks come from frame pointers: Go binaries have them; build C, C++ and Rust
with -fno-omit-frame-pointer (Rust: -C force-frame-pointers=yes).

COMMAND gets the configuration as PYROSCOPE_* variables (application name,
server, tags, token), so if it links this SDK its heap, goroutine, mutex and
block profiles go to the same application.

--profile-types (or PYROSCOPE_PROFILE_TYPES) says what to collect; cpu is
sampled by pyroscope with perf, the other types are passed to COMMAND's SDK.
To not count CPU twice, while the perf sampler runs COMMAND gets
PYROSCOPE_PROFILE_TYPES without cpu: the SDK's defaults without cpu when no
types were given, "none" (collect nothing) when cpu was the only one. A list
without cpu is passed as it is, and pyroscope does not use perf at all. A
program that sets Config.ProfileTypes itself overrides the variable, and then
sends its own CPU profile as well. When perf events are not permitted,
pyroscope says so in one line, runs COMMAND anyway and passes the types
unchanged, cpu included.

The application name defaults to COMMAND's base name.

Examples:
  export PYROSCOPE_AUTH_TOKEN=psx-...     # not --auth-token: ps and history show flags
  pyroscope exec --server-address https://profiles.example.com -- ./server --port 8080
  pyroscope exec --application-name checkout.api --tag env=prod -- python3 app.py
  pyroscope exec --server-address file:///tmp/profiles --upload-rate 10s -- make -j2
  go tool pprof -top /tmp/profiles/...    # profiles written by the file:// sink

Perf events need root, CAP_PERFMON, or kernel.perf_event_paranoid <= 2 for
your own processes (2, the usual default, samples user time only).
`

// relayed are the signals exec passes on to the child. SIGCHLD, SIGPIPE and
// SIGURG concern pyroscope itself (SIGURG is the Go runtime's), and the stop
// signals keep their default action so that job control stops pyroscope
// along with the child, which the terminal stops by itself.
var relayed = []os.Signal{
	unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGALRM, unix.SIGCONT, unix.SIGVTALRM, unix.SIGXCPU, unix.SIGXFSZ,
	unix.SIGPWR, unix.SIGTRAP, unix.SIGPROF, unix.SIGSTKFLT,
}

// terminalSignals are those a terminal sends to its whole foreground
// process group, which holds the child as well: relaying them would deliver
// them twice (a second Ctrl-C makes many programs quit at once).
var terminalSignals = []os.Signal{unix.SIGINT, unix.SIGQUIT, unix.SIGWINCH, unix.SIGHUP}

func runExec(args []string, io *stdio) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	if code, done := parseOrHelp(fs, execUsage, args, io); done {
		return code
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return usageError(io, "exec", errors.New("no command given: write pyroscope exec [flags] -- COMMAND [ARGS...]"))
	}
	if consumed := len(args) - len(argv); consumed == 0 || args[consumed-1] != "--" {
		return usageError(io, "exec", fmt.Errorf("put -- before the command, so that its own flags are not taken for pyroscope's: pyroscope exec [flags] -- %s", strings.Join(argv, " ")))
	}
	if err := c.validate(fs, filepath.Base(argv[0])); err != nil {
		return usageError(io, "exec", err)
	}
	types, err := c.profileTypes(fs, io.getenv)
	if err != nil {
		return usageError(io, "exec", err)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(io.stderr, "pyroscope exec: %v: check the command's name and PATH\n", err)
		return 127 // as a shell does for a command not found
	}
	log := newLogger(io.stderr, c.logLevel, c.noLogging)
	dst, err := newDestination(&c, io.getenv, log)
	if err != nil {
		return usageError(io, "exec", err)
	}

	// Whether perf events work for our own process says whether they will
	// for the child (same user, same rights), and that must be known before
	// the child's environment is fixed. Without cpu among the types asked
	// for, perf is not touched at all.
	wantCPU := len(types) == 0 || slices.Contains(types, "cpu")
	var probeErr error
	if wantCPU {
		probeErr = probePerf()
	}
	perfCPU := wantCPU && probeErr == nil
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = io.stdin, io.stdout, io.stderr
	cmd.Env = childEnv(io.environ(), dst.env, types, perfCPU)

	// Catch the signals to relay before the child runs: one that came
	// between its start and Notify would kill this process and leave the
	// child holding our stdout.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, relayed...)
	defer signal.Stop(sigs)
	sampler, startErr := startTraced(cmd, c.sampleRate, perfCPU)
	if startErr != nil {
		dst.close(nil)
		return fail(io, "exec", fmt.Errorf("starting %s: %w", argv[0], startErr))
	}
	switch {
	case probeErr != nil:
		log.Warnf("no CPU profile: %v; %s runs unprofiled by perf (if it links the SDK, it profiles its own CPU)", attachError(os.Getpid(), probeErr), argv[0])
	case !wantCPU:
		log.Infof("%s leaves out cpu: %s runs unprofiled by perf; if it links the SDK, it sends %s itself", typesSource(fs, io.getenv), argv[0], strings.Join(types, ","))
	}
	log.Infof("profiling %s (pid %d) as %s", argv[0], cmd.Process.Pid, dst.Destination)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var cpu *cpuWindows
	if sampler != nil {
		cpu = newCPUWindows(sampler, dst, log, c.sampleRate)
	}
	tick := time.NewTicker(c.uploadRate)
	defer tick.Stop()
	var waitErr error
loop:
	for {
		select {
		case sig := <-sigs:
			if slices.Contains(terminalSignals, sig) && inTerminalForeground() {
				continue // the child, in our process group, got it too
			}
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				log.Warnf("relaying %v to %s: %v", sig, argv[0], err)
			}
		case <-tick.C:
			if cpu != nil {
				cpu.cut(time.Now())
			}
		case waitErr = <-exited:
			break loop
		}
	}
	lastCut := func() {
		if cpu != nil {
			cpu.cut(time.Now())
			cpu.close()
		}
	}
	if line, err := dst.close(lastCut); err != nil {
		log.Errorf("%s", line)
	} else {
		log.Infof("%s", line)
	}
	return exitStatus(cmd, waitErr, io)
}

// probePerf reports whether perf events can be opened, by attaching to this
// very process for a moment.
func probePerf() error {
	s, err := perf.Attach(perf.Options{PID: os.Getpid(), Frequency: 1})
	if err != nil {
		return err
	}
	return s.Close()
}

// startTraced starts cmd stopped right after its exec, attaches the sampler
// to it while it has a single thread and no children, then lets it run, so
// that everything it starts inherits the perf events. Without ptrace rights
// the child starts untraced and is attached a moment later instead.
func startTraced(cmd *exec.Cmd, rate int, profile bool) (*perf.Sampler, error) {
	if !profile {
		return nil, cmd.Start()
	}
	attach := func() *perf.Sampler {
		s, err := perf.Attach(perf.Options{PID: cmd.Process.Pid, Children: true, Frequency: rate})
		if err != nil {
			return nil // probePerf succeeded; the warning comes from it
		}
		return s
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		if !errors.Is(err, unix.EPERM) {
			return nil, err
		}
		cmd.SysProcAttr, cmd.Process, cmd.Err = nil, nil, nil
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return attach(), nil
	}
	pid := cmd.Process.Pid
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		// The child died before its first instruction; Wait reports how.
		return nil, nil
	}
	s := attach()
	if err := unix.PtraceDetach(pid); err != nil {
		cmd.Process.Kill()
		if s != nil {
			s.Close()
		}
		return nil, fmt.Errorf("resuming the traced child: %w", err)
	}
	return s, nil
}

// childEnv is env with the destination's PYROSCOPE_* variables set (empty
// ones removed) and PYROSCOPE_PROFILE_TYPES set from types, the user's
// --profile-types or variable (none: the SDK's defaults). When the CLI
// samples the CPU (cpuByCLI), the child gets the types without cpu, so that
// CPU time is counted once.
func childEnv(env []string, set map[string]string, types []string, cpuByCLI bool) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := set[k]; ours || k == "PYROSCOPE_ADHOC_SERVER_ADDRESS" || k == "PYROSCOPE_PROFILE_TYPES" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	if v := childTypes(types, cpuByCLI); v != "" {
		out = append(out, "PYROSCOPE_PROFILE_TYPES="+v)
	}
	slices.Sort(out)
	return out
}

// sdkDefaultsWithoutCPU are the SDK's DefaultProfileTypes minus cpu.
const sdkDefaultsWithoutCPU = "inuse_objects,alloc_objects,inuse_space,alloc_space"

// childTypes is the child's PYROSCOPE_PROFILE_TYPES ("": leave it unset, for
// the SDK's defaults). Without cpuByCLI the child gets what the user asked
// for. With it, cpu is taken out; the SDK reads an empty variable as its
// defaults, so no types asked for become the defaults without cpu, and a
// list of only cpu becomes config.NoProfileTypes, which the SDK reads as
// "collect nothing".
func childTypes(types []string, cpuByCLI bool) string {
	if !cpuByCLI {
		return strings.Join(types, ",")
	}
	if len(types) == 0 {
		return sdkDefaultsWithoutCPU
	}
	rest := slices.DeleteFunc(slices.Clone(types), func(t string) bool { return t == "cpu" })
	if len(rest) == 0 {
		return config.NoProfileTypes
	}
	return strings.Join(rest, ",")
}

// inTerminalForeground reports whether pyroscope's process group is the
// foreground group of its terminal, so that the terminal's signals reach
// the child directly.
func inTerminalForeground() bool {
	for fd := 0; fd <= 2; fd++ {
		pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		if err == nil {
			return pgrp == unix.Getpgrp()
		}
	}
	return false
}

// exitStatus maps the child's end to pyroscope's exit code: its status, or
// 128+N when signal N killed it.
func exitStatus(cmd *exec.Cmd, waitErr error, io *stdio) int {
	if cmd.ProcessState == nil {
		return fail(io, "exec", fmt.Errorf("waiting for the command: %w", waitErr))
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}
