package discover

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child re-runs the test binary with childEnv set: it blocks reading its
// stdin and exits when the test closes it.
const childEnv = "DISCOVER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writableMounts are this machine's cgroup mounts, or the test is skipped
// with the reason when cgroup v2 cannot be written here.
func writableMounts(t *testing.T) Mounts {
	t.Helper()
	m, err := FindMounts()
	if err != nil {
		t.Skipf("no cgroup hierarchy: %v", err)
	}
	if m.Unified == "" {
		t.Skip("no cgroup v2 mount in /proc/self/mountinfo")
	}
	probe := filepath.Join(m.Unified, "ptest-probe-"+randHex(4))
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Skipf("cgroup v2 at %s is not writable here (tests need root): %v", m.Unified, err)
	}
	os.Remove(probe)
	return m
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// makeCgroup creates the cgroup at rel under root, with the parents it
// lacks, and removes what it created when the test ends (after the
// children in it, whose cleanups run first).
func makeCgroup(t *testing.T, root, rel string) string {
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
			rmdirCgroup(t, created[i])
		}
	})
	return p
}

// rmdirCgroup removes a cgroup; one still busy after its processes were
// reaped gets a bounded wait. A parent another test still uses (a shared
// system.slice) stays.
func rmdirCgroup(t *testing.T, dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, syscall.ENOENT):
			return
		case errors.Is(err, syscall.ENOTEMPTY):
			return // holds a cgroup of someone else's
		case errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline):
			if pids, _ := readPIDs(filepath.Join(dir, "cgroup.procs")); len(pids) > 0 {
				t.Errorf("cgroup %s still holds processes %v after the test", dir, pids)
				return
			}
			time.Sleep(10 * time.Millisecond)
		default:
			t.Errorf("rmdir %s: %v", dir, err)
			return
		}
	}
}

// startChild starts a child process and moves it into each cgroup
// directory given (one per hierarchy). It ends when the test does.
func startChild(t *testing.T, cgroupDirs ...string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", cmd.Process.Pid, err)
		}
	})
	for _, dir := range cgroupDirs {
		moveTo(t, dir, cmd.Process.Pid)
	}
	return cmd.Process.Pid
}

func moveTo(t *testing.T, dir string, pid int) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatalf("moving %d into %s: %v", pid, dir, err)
	}
}

// cgroupIno is the inode number of dir: a cgroup's ID, as the kernel
// reports it to perf.
func cgroupIno(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
