package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
	"github.com/pyroscope-sdk/pyroscope-go/internal/discover"
	"github.com/pyroscope-sdk/pyroscope-go/internal/perf"
	"github.com/pyroscope-sdk/pyroscope-go/internal/symbolize"
)

const agentUsage = `Usage: pyroscope agent [flags]

Profiles the CPU of the programs on this machine, sampled by the kernel for
every CPU (perf events, frame-pointer stacks), and sends one profile per
program every --upload-rate. What it profiles:

  --systemd-units=a.service,b.scope   the processes of those units, wherever
                                      they sit (system.slice, user.slice,
                                      machine.slice, nested), from their first
                                      sample, also units started later
  --kubernetes                        the containers of the pods on --node, with
                                      their metadata from the API server (the
                                      pod's service account, or --kubeconfig)
  neither                             every process of the node, by executable

Each series is labelled node, comm (the command name), and systemd_unit, or
namespace, pod, container and container_id; its service_name is the unit
without its suffix, the pod's pyroscope.io/service_name annotation or
namespace/container, or the executable's name.

Without an address the profiles go to Polar Signals Cloud
(grpc.polarsignals.com:443, protocol parca), as Parca's agent sends them;
Parca agent's flags (--remote-store-address, --remote-store-bearer-token,
--remote-store-bearer-token-file, --remote-store-insecure) and the Polar
Signals documentation's (--bearer-token, --insecure) work as they are.

Examples:
  sudo pyroscope agent --systemd-units=nginx.service,postgresql.service \
    --bearer-token-file=/etc/pyroscope/token
  sudo pyroscope agent --kubernetes=false --systemd-units=docker.service \
    --server-address=https://profiles.example.com --protocol=push
  sudo pyroscope agent --remote-store-address=parca.example.com:7070 --remote-store-insecure
  sudo pyroscope agent --server-address=file:///var/lib/pyroscope --upload-rate=10s

Sampling every CPU needs root, CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8),
or kernel.perf_event_paranoid <= 0; reading other users' programs needs
CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH. See deploy/ for a DaemonSet and a
systemd unit.
`

// polarSignalsAddress is where Parca's agent sends by default.
const polarSignalsAddress = "grpc.polarsignals.com:443"

// agentFlags are the agent's flags: the common ones, then what to profile.
type agentFlags struct {
	commonFlags
	node       string
	kubernetes bool
	kubeconfig string
	units      unitsFlag
	insecure   bool
}

// unitsFlag collects repeated --systemd-units values, each possibly a
// comma-separated list (discover.NewUnits splits them).
type unitsFlag []string

func (u *unitsFlag) String() string     { return strings.Join(*u, ",") }
func (u *unitsFlag) Set(v string) error { *u = append(*u, v); return nil }

func (a *agentFlags) register(fs *flag.FlagSet) {
	a.commonFlags.register(fs)
	host, _ := os.Hostname()
	_, inPodErr := discover.InClusterConfig()
	fs.StringVar(&a.node, "node", host, "`name` of this node: the node label, and for --kubernetes the node's name in the cluster")
	fs.BoolVar(&a.kubernetes, "kubernetes", inPodErr == nil, "profile the containers of this node's pods, named by the Kubernetes API server\n(default on when running in a pod with a service account)")
	fs.StringVar(&a.kubeconfig, "kubeconfig", "", "kubeconfig `file` for the API server, instead of the pod's service account (implies --kubernetes)")
	fs.Var(&a.units, "systemd-units", "systemd `units` to profile, comma-separated (nginx.service,docker-abc.scope); repeat for more;\na name without a suffix is a .service")
	fs.BoolVar(&a.insecure, "insecure", false, "send in plaintext (h2c for parca): a bare host:port address becomes http://host:port")
	addAliases(fs)
	// The agent's destination defaults differ from exec's (see settle).
	for _, name := range []string{"server-address", "remote-store-address"} {
		fs.Lookup(name).DefValue = polarSignalsAddress + " with parca, else " + defaultServer
	}
	fs.Lookup("protocol").DefValue = "parca without an address or with --remote-store-address, else ingest"
}

// settle fills the defaults that depend on what else was given: the
// destination (Polar Signals Cloud when no address is given, protocol parca
// for Parca's flags), plaintext for --insecure, Kubernetes for --kubeconfig.
func (a *agentFlags) settle(getenv func(string) string) error {
	env := func(k string) bool { return strings.TrimSpace(getenv(k)) != "" }
	addrGiven := a.given["server-address"] || env("PYROSCOPE_SERVER_ADDRESS") || env("PYROSCOPE_ADHOC_SERVER_ADDRESS")
	protoGiven := a.given["protocol"] || env("PYROSCOPE_PROTOCOL")
	if !protoGiven && (!addrGiven || a.typed["server-address"] == "remote-store-address") {
		a.protocol = config.ProtocolParca
	}
	if !addrGiven {
		a.server = defaultServer
		if a.protocol == config.ProtocolParca {
			a.server = polarSignalsAddress
		}
	}
	if a.insecure && !strings.HasPrefix(a.server, "file://") {
		insecure := "--" + a.typed["insecure"]
		switch {
		case strings.HasPrefix(a.server, "https://"):
			return fmt.Errorf("%s asks for plaintext, but the address %q is https://: write http://%s, or drop %s", insecure, a.server, strings.TrimPrefix(a.server, "https://"), insecure)
		case !strings.Contains(a.server, "://"):
			a.server = "http://" + a.server
		}
	}
	if a.kubeconfig != "" {
		if a.given["kubernetes"] && !a.kubernetes {
			return errors.New("--kubeconfig is for --kubernetes, which is off (--kubernetes=false): drop one of them")
		}
		a.kubernetes = true
	}
	if a.kubernetes && strings.TrimSpace(a.node) == "" {
		return errors.New("--node is empty: give this node's name in the cluster (in a DaemonSet, from spec.nodeName)")
	}
	return nil
}

// what says what the agent profiles, for its first line.
func (a *agentFlags) what(units *discover.Units) string {
	var parts []string
	if units != nil {
		parts = append(parts, "systemd units "+strings.Join(units.Names(), ", "))
	}
	if a.kubernetes {
		parts = append(parts, "the containers of the pods on node "+a.node)
	}
	if len(parts) == 0 {
		return "every process of node " + a.node
	}
	return strings.Join(parts, " and ")
}

// check validates the parsed flags and settles their defaults.
func (a *agentFlags) check(fs *flag.FlagSet, getenv func(string) string) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: agent takes only flags", fs.Arg(0))
	}
	if err := a.validate(fs, "pyroscope-agent"); err != nil {
		return err
	}
	if err := a.cpuOnly(fs, getenv, "the agent"); err != nil {
		return err
	}
	return a.settle(getenv)
}

func runAgent(args []string, io *stdio) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var a agentFlags
	a.register(fs)
	if code, done := parseOrHelp(fs, agentUsage, args, io); done {
		return code
	}
	if err := a.check(fs, io.getenv); err != nil {
		return usageError(io, "agent", err)
	}
	var units *discover.Units
	if len(a.units) > 0 {
		var err error
		if units, err = discover.NewUnits(a.units...); err != nil {
			return usageError(io, "agent", fmt.Errorf("--systemd-units: %w", trimDiscover(err)))
		}
	}
	var kube discover.KubeConfig
	if a.kubernetes {
		var err error
		if kube, err = kubeConfigFor(a.kubeconfig, io.getenv); err != nil {
			return usageError(io, "agent", fmt.Errorf("--kubernetes: %w", err))
		}
	}
	log := newLogger(io.stderr, a.logLevel, a.noLogging)
	cgroups, mounts, err := openCgroups(log)
	if err != nil {
		return fail(io, "agent", trimDiscover(err))
	}
	if cgroups != nil {
		defer cgroups.Close()
	}
	if units != nil {
		warnUnknownUnits(log, units.Check(mounts))
	}
	dst, err := newDestination(&a.commonFlags, io.getenv, log)
	if err != nil {
		return usageError(io, "agent", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	sampler, err := perf.AttachSystem(perf.SystemOptions{Frequency: a.sampleRate, OnProblem: symbolizeProblem(log)})
	if err != nil {
		dst.close(nil)
		return fail(io, "agent", attachSystemError(err))
	}

	finder := &discover.Finder{Node: a.node, Units: units}
	ctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	r := &agentLoop{log: log, dst: dst, sigs: sigs, rate: a.uploadRate, ready: closedChan()}
	if a.kubernetes {
		finder.Pods = &discover.Pods{}
		w := &discover.PodWatch{Config: kube, Node: a.node, Pods: finder.Pods, Log: log.slog()}
		r.ready, r.watchDone, r.kubeServer = w.Ready(), make(chan error, 1), kube.Server
		go func() { r.watchDone <- w.Run(ctx) }()
		log.Debugf("watching the pods of node %s through %s", a.node, kube)
	}
	app := ""
	if a.given["application-name"] || strings.TrimSpace(io.getenv("PYROSCOPE_APPLICATION_NAME")) != "" {
		app = dst.Settings().App
	}
	r.cpu = newAgentWindows(sampler, dst, newSeriesGrouper(finder, cgroups, app), log, a.sampleRate)
	log.Infof("profiling %s, sending to %s (%s) every %s", a.what(units), dst.Target(), dst.Settings().Protocol, a.uploadRate)
	code := r.run()
	line, err := dst.close(func() { r.cpu.cut(time.Now()); r.cpu.close() })
	stopWatch()
	if r.watchDone != nil {
		<-r.watchDone
	}
	if err != nil {
		return fail(io, "agent", errors.New(line))
	}
	log.Infof("%s", line)
	return code
}

// openCgroups finds the cgroup mounts and opens the v2 hierarchy whose IDs
// the samples carry; nil where they carry none of it.
func openCgroups(log *logger) (*discover.Cgroups, discover.Mounts, error) {
	mounts, err := discover.FindMounts()
	if err != nil {
		return nil, mounts, err
	}
	if perfEventOnV1() {
		// The samples' cgroup IDs are then of the v1 perf_event
		// hierarchy, which are no IDs of the v2 tree: each task's
		// /proc/PID/cgroup decides instead.
		log.Infof("the perf_event controller is bound to a cgroup v1 hierarchy (/proc/cgroups): targets are found by /proc/PID/cgroup")
		return nil, mounts, nil
	}
	if mounts.Unified == "" {
		return nil, mounts, nil
	}
	cgroups, err := discover.NewCgroups(mounts.Unified)
	return cgroups, mounts, err
}

// agentLoop cuts the agent's windows every rate until a stop signal, or
// until the pod watch gives up on a configuration that cannot work.
type agentLoop struct {
	log        *logger
	dst        *destination
	cpu        *agentWindows
	sigs       <-chan os.Signal
	rate       time.Duration
	ready      <-chan struct{} // closed once the pods are listed
	watchDone  chan error      // nil without Kubernetes, and once received from
	kubeServer string
}

// run returns the exit code: 0 after a signal, exitFailure when the pod
// watch ended.
func (r *agentLoop) run() int {
	tick := time.NewTicker(r.rate)
	defer tick.Stop()
	waitSaid := false
	for {
		select {
		case <-tick.C:
			select {
			case <-r.ready:
				r.cpu.cut(time.Now())
			default:
				// Until the first list of pods, a container's samples
				// would find no pod: the window grows until then.
				if !waitSaid {
					waitSaid = true
					r.log.Infof("waiting for the first list of pods from %s before cutting windows", r.kubeServer)
				}
			}
		case err := <-r.watchDone:
			r.watchDone = nil
			if err != nil && !errors.Is(err, context.Canceled) {
				r.log.Errorf("%v", trimDiscover(err))
				return exitFailure
			}
		case sig := <-r.sigs:
			r.log.Infof("%v: sending the last windows", sig)
			return exitOK
		}
	}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// trimDiscover drops the package prefix of discovery's errors, which the
// command's own prefix replaces.
func trimDiscover(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "discover: "); ok {
		return errors.New(msg)
	}
	return err
}

// warnUnknownUnits says, one line each, which selected units exist nowhere
// on this machine and which do nearby. The agent goes on: a unit that
// starts later is found on its first sample.
func warnUnknownUnits(log *logger, err error) {
	if err == nil {
		return
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		log.Warnf("%v; it is profiled if it starts later", trimDiscover(e))
	}
}

// symbolizeProblem logs a file of a target that cannot be symbolized, once
// per file and cause (the symbolizer remembers which it said): at warn when
// the agent was refused (no right, a link out of the target's root, a file
// over a limit), which an operator can act on; at debug otherwise (a JIT's
// memory file is no ELF).
func symbolizeProblem(log *logger) func(error) {
	return func(err error) {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, symbolize.ErrLimit) ||
			errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EXDEV) {
			log.Warnf("%v: its samples stay unsymbolized", err)
			return
		}
		log.Debugf("%v: its samples stay unsymbolized", err)
	}
}

// attachSystemError turns perf.AttachSystem's error into one line that
// says what to grant.
func attachSystemError(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("perf events for every CPU are not permitted: run as root, grant CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8; in Kubernetes, securityContext.capabilities.add: [PERFMON]), or set sysctl kernel.perf_event_paranoid=0 or lower (now %s): %w", paranoid(), err)
	}
	return fmt.Errorf("starting the perf sampler: %w", err)
}

// paranoid reads kernel.perf_event_paranoid, for the message above.
func paranoid() string {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// perfEventOnV1 reports whether /proc/cgroups binds the perf_event
// controller to a cgroup v1 hierarchy (a non-zero hierarchy ID), in which
// case perf samples carry IDs of that hierarchy instead of cgroup v2's.
func perfEventOnV1() bool {
	b, err := os.ReadFile("/proc/cgroups")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "perf_event" {
			return f[1] != "0"
		}
	}
	return false
}
