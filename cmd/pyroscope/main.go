// Command pyroscope profiles a program without touching its code and sends
// the profiles to Pyroscope (or Parca, or a directory), like the SDK does
// from inside a program.
//
//	pyroscope exec [flags] -- COMMAND [ARGS...]   run COMMAND and profile its process tree
//	pyroscope connect --pid PID [flags]           profile a running process
//	pyroscope connect --url URL [flags]           pull from a Go program's net/http/pprof
//	pyroscope agent [flags]                       profile the systemd units, containers or whole node
//	pyroscope version
//
// exec and connect --pid sample CPU with Linux perf events and frame-pointer
// stacks (any Go binary; C, C++ and Rust built with frame pointers); connect
// --url reads CPU, heap, goroutine, mutex and block profiles over HTTP.
// Run "pyroscope COMMAND --help" for the flags and examples.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is this CLI's version; it follows the SDK's (pyroscope.Version).
const version = "0.1.0"

// stdio is the CLI's environment, so tests can run it in-process.
type stdio struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string
}

func main() {
	os.Exit(run(os.Args[1:], &stdio{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, environ: os.Environ,
	}))
}

// Exit codes of the CLI itself; exec otherwise exits with the child's.
const (
	exitOK      = 0
	exitFailure = 1 // something went wrong while running
	exitUsage   = 2 // bad command line or configuration
)

const mainUsage = `pyroscope profiles a program without changing its code and sends the profiles
to Pyroscope, Parca or a directory.

Usage:
  pyroscope exec [flags] -- COMMAND [ARGS...]   run COMMAND, profile its process tree
  pyroscope connect --pid PID [flags]           profile a running process until it exits
  pyroscope connect --url URL [flags]           pull profiles from a Go program's net/http/pprof
  pyroscope agent [flags]                       profile this node: systemd units, Kubernetes
                                                containers, or every process
  pyroscope version                             print the version

Run "pyroscope exec --help", "pyroscope connect --help" or "pyroscope agent --help"
for the flags and examples.
Pass the API token in PYROSCOPE_AUTH_TOKEN (or a file, --auth-token-file), not as a flag.
`

func run(args []string, io *stdio) int {
	if len(args) == 0 {
		fmt.Fprint(io.stderr, mainUsage)
		return exitUsage
	}
	switch args[0] {
	case "exec":
		return runExec(args[1:], io)
	case "connect":
		return runConnect(args[1:], io)
	case "agent":
		return runAgent(args[1:], io)
	case "version", "--version", "-version":
		fmt.Fprintf(io.stdout, "pyroscope %s (%s, %s/%s)\n", version, buildVersion(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(io.stdout, mainUsage)
		return exitOK
	default:
		fmt.Fprintf(io.stderr, "pyroscope: unknown command %q: use exec, connect, agent or version (see pyroscope --help)\n", args[0])
		return exitUsage
	}
}

// buildVersion describes the build: the module version when the binary
// was installed from a release, else the VCS revision (with "+dirty" for a
// modified checkout) when go build recorded one, then the Go toolchain.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return runtime.Version()
	}
	return describeBuild(bi)
}

// describeBuild is buildVersion for given build information.
func describeBuild(bi *debug.BuildInfo) string {
	var parts []string
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		parts = append(parts, v)
	}
	var rev, modified, at string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			at = s.Value
		}
	}
	if rev != "" && len(parts) == 0 {
		r := "revision " + rev[:min(len(rev), 12)]
		if modified == "true" {
			r += "+dirty"
		}
		if at != "" {
			r += " of " + at
		}
		parts = append(parts, r)
	}
	if len(parts) == 0 {
		parts = append(parts, "development build")
	}
	return strings.Join(append(parts, bi.GoVersion), ", ")
}

// usageError prints err as one line that says what to fix and returns
// exitUsage.
func usageError(io *stdio, cmd string, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintf(io.stderr, "pyroscope %s: %s (see pyroscope %s --help)\n", cmd, msg, cmd)
	return exitUsage
}

// fail prints a runtime error as one line and returns exitFailure.
func fail(io *stdio, cmd string, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintf(io.stderr, "pyroscope %s: %s\n", cmd, msg)
	return exitFailure
}

// parseOrHelp parses args; on --help it prints usage and the flags to
// stdout. done reports that the command should return code.
func parseOrHelp(fs *flag.FlagSet, usage string, args []string, io *stdio) (code int, done bool) {
	err := parseFlags(fs, args, io.getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(io.stdout, usage)
		fmt.Fprintln(io.stdout, "\nFlags (each also read from the variable named; a flag beats the variable):")
		fs.SetOutput(io.stdout)
		fs.VisitAll(func(f *flag.Flag) {
			name, help := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if name != "" {
				line += " " + name
			}
			fmt.Fprintln(io.stdout, line)
			for _, l := range strings.Split(help, "\n") {
				fmt.Fprintln(io.stdout, "        "+l)
			}
			var extra []string
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				extra = append(extra, "default "+f.DefValue)
			}
			if env := envOf[f.Name]; env != "" {
				extra = append(extra, "env "+env)
			}
			if len(extra) > 0 {
				fmt.Fprintln(io.stdout, "        ("+strings.Join(extra, "; ")+")")
			}
		})
		return exitOK, true
	}
	if err != nil {
		return usageError(io, fs.Name(), err), true
	}
	return 0, false
}
