// Package testprog builds the programs kept under a test's testdata into the
// test's temporary directory and runs them as child processes, so that tests
// of several packages profile and symbolize real executables the same way.
// Only tests import it.
package testprog

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// BuildGo builds the Go main package in dir with go build and the given
// flags, and returns the executable's path. It fails the test when the build
// fails.
func BuildGo(t testing.TB, dir string, flags ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(dir))
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, flags...), ".")...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	return out
}

// BuildC compiles the C source file src with gcc and the given flags (all
// of them: optimization and frame-pointer flags are the caller's to choose)
// into an executable named after src's directory, and returns its path. It
// skips the test when gcc is not installed and fails it when gcc fails.
func BuildC(t testing.TB, src string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("gcc is not installed, so %s cannot be built", src)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(filepath.Dir(src)))
	cmd := exec.Command(gcc, slices.Concat(flags, []string{"-o", out, src})...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, b)
	}
	return out
}

// A Process is a test program running as a child of the test. Its stderr
// goes to the test's; the test writes to Stdin and reads Stdout line by line.
type Process struct {
	Cmd    *exec.Cmd
	Stdin  io.WriteCloser
	Stdout *bufio.Scanner
}

// Start starts bin with args. When the test ends the process's stdin is
// closed and the process killed and waited for.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	return StartCmd(t, exec.Command(bin, args...))
}

// StartInCgroup starts bin with args inside the cgroup v2 directory dir,
// from its first instruction (clone3's CLONE_INTO_CGROUP), like Start.
func StartInCgroup(t testing.TB, dir, bin string, args ...string) *Process {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	return StartCmd(t, cmd)
}

// StartCmd starts cmd, whose stdin, stdout and stderr it sets, like Start.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &Process{Cmd: cmd, Stdin: stdin, Stdout: bufio.NewScanner(stdout)}
}
