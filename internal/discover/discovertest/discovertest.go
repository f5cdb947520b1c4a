// Package discovertest makes real cgroups and runs real processes in them,
// for the tests of discovery (internal/discover and e2e). Only tests
// import it.
package discovertest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MakeCgroup creates the cgroup at rel under the hierarchy mounted at root,
// with the parents it lacks, and returns its directory. What it created is
// removed when the test ends, after the processes started in it later
// (cleanups run last first); a parent another test still uses stays.
func MakeCgroup(t testing.TB, root, rel string) string {
	t.Helper()
	var created []string
	p := root
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		p = filepath.Join(p, part)
		err := os.Mkdir(p, 0o755)
		if err == nil {
			created = append(created, p)
		} else if !errors.Is(err, os.ErrExist) {
			t.Fatalf("mkdir %s: %v", p, err)
		}
	}
	t.Cleanup(func() {
		for i := len(created) - 1; i >= 0; i-- {
			rmdir(t, created[i])
		}
	})
	return p
}

// rmdir removes a cgroup. One that is busy although its processes were
// reaped gets a bounded wait for the kernel to let go of it.
func rmdir(t testing.TB, dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, syscall.ENOENT):
			return
		case errors.Is(err, syscall.ENOTEMPTY):
			return // holds a cgroup someone else made
		case errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline):
			if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); len(b) > 0 {
				t.Errorf("cgroup %s still holds processes after the test: %s", dir, b)
				return
			}
			time.Sleep(10 * time.Millisecond)
		default:
			t.Errorf("rmdir %s: %v", dir, err)
			return
		}
	}
}

// Start starts a process (sleep) and moves it into each cgroup directory
// given, one per hierarchy, by writing its PID to cgroup.procs. It is
// killed and reaped when the test ends.
func Start(t testing.TB, cgroupDirs ...string) int {
	t.Helper()
	cmd := exec.Command("sleep", "infinity")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, dir := range cgroupDirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0); err != nil {
			t.Fatalf("moving process %s into %s: %v", pid, dir, err)
		}
	}
	return cmd.Process.Pid
}

// Wait waits until check passes, checking again whenever the channel that
// changed returns is closed, and fails the test after 30 s.
func Wait(t testing.TB, changed func() <-chan struct{}, check func() error) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		ch := changed() // before the check, so no change is missed
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("after 30 s: %v", err)
		}
	}
}

// ContainerID is the container ID the tests give a pod's container: a
// hash of the names, so that the answers recorded from a real API server
// name the same IDs from one run to the next.
func ContainerID(pod, container string) string {
	h := sha256.Sum256([]byte(pod + "/" + container))
	return hex.EncodeToString(h[:])
}
