package discover

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
)

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

// writableV1Mounts are writableMounts on a machine that also has v1's
// name=systemd hierarchy (hybrid); the test is skipped elsewhere.
func writableV1Mounts(t *testing.T) Mounts {
	t.Helper()
	m := writableMounts(t)
	if m.Systemd == "" {
		t.Skip("no cgroup v1 name=systemd hierarchy here")
	}
	return m
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func makeCgroup(t *testing.T, root, rel string) string { return discovertest.MakeCgroup(t, root, rel) }

func startChild(t *testing.T, dirs ...string) int { return discovertest.Start(t, dirs...) }

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
