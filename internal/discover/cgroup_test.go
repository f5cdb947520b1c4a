package discover

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo string
		want            Mounts
	}{{
		name: "hybrid (this machine's)",
		mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
		want: Mounts{Unified: "/sys/fs/cgroup/unified", Systemd: "/sys/fs/cgroup/systemd"},
	}, {
		name:      "pure v2",
		mountinfo: "28 22 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
		want:      Mounts{Unified: "/sys/fs/cgroup"},
	}, {
		name: "v1 only, systemd with xattrs and a release agent",
		mountinfo: `25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
`,
		want: Mounts{Systemd: "/sys/fs/cgroup/systemd"},
	}, {
		name: "a bind mount of a sub-tree is skipped; an escaped space is undone",
		mountinfo: `50 40 0:25 /kubepods.slice /host/cg rw - cgroup2 cgroup2 rw
51 40 0:25 / /mnt/cgroup\040v2 rw - cgroup2 cgroup2 rw
`,
		want: Mounts{Unified: "/mnt/cgroup v2"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tc.mountinfo))
			if err != nil || got != tc.want {
				t.Errorf("parseMountinfo = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     ProcCgroup
		wantErr  bool
	}{
		{"hybrid", "9:name=systemd:/system.slice/sshd.service\n8:pids:/system.slice/sshd.service\n4:memory:/system.slice/sshd.service\n0::/system.slice/sshd.service\n",
			ProcCgroup{Unified: "/system.slice/sshd.service", Systemd: "/system.slice/sshd.service"}, false},
		{"pure v2", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
			ProcCgroup{Unified: "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"}, false},
		{"v1 only", "12:cpu,cpuacct:/\n1:name=systemd:/init.scope\n", ProcCgroup{Systemd: "/init.scope"}, false},
		{"a colon in the path", "0::/machine.slice/a:b.scope\n", ProcCgroup{Unified: "/machine.slice/a:b.scope"}, false},
		{"in another cgroup namespace", "0::/../../kubepods.slice\n", ProcCgroup{Unified: "/../../kubepods.slice"}, false},
		{"not /proc/PID/cgroup", "hello\n", ProcCgroup{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcCgroup([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseProcCgroup = %+v, %v; want %+v (error: %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReadProcCgroupOfAChild(t *testing.T) {
	m := writableMounts(t)
	rel := "/system.slice/ptest-" + randHex(6) + ".service"
	dir := makeCgroup(t, m.Unified, rel)
	pid := startChild(t, dir)
	pc, err := ReadProcCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Unified != rel {
		t.Errorf("ReadProcCgroup(%d).Unified = %q, want %q", pid, pc.Unified, rel)
	}
}

// TestCgroupIDs follows one cgroup path through a unit's life: created,
// resolved both ways (by file handle and by walking the tree), removed,
// created again under the same path with a new ID.
func TestCgroupIDs(t *testing.T) {
	m := writableMounts(t)
	c, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	rel := "/system.slice/ptest-" + randHex(6) + ".service/payload"
	dir := makeCgroup(t, m.Unified, rel)
	id, err := c.ID(rel)
	if err != nil {
		t.Fatal(err)
	}
	if ino := cgroupIno(t, dir); ino != id {
		t.Fatalf("ID(%s) = %d, the directory's inode is %d", rel, id, ino)
	}

	// A fresh resolver has not seen the ID: it asks the kernel.
	fresh, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if p, err := fresh.Path(id); err != nil || p != rel {
		t.Errorf("Path(%d) by file handle = %q, %v; want %q", id, p, err, rel)
	}
	// Without open_by_handle_at (as without CAP_DAC_READ_SEARCH) it walks.
	walker, _ := NewCgroups(m.Unified)
	walker.Close() // drops the mount's fd: no handles
	if p, err := walker.Path(id); err != nil || p != rel {
		t.Errorf("Path(%d) by walking = %q, %v; want %q", id, p, err, rel)
	}
	later := makeCgroup(t, m.Unified, rel+"-later")
	if p, err := walker.Path(cgroupIno(t, later)); err != nil || p != rel+"-later" {
		t.Errorf("Path of a cgroup made after the walk = %q, %v; want %q", p, err, rel+"-later")
	}
	if _, err := walker.Path(id - 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Path(%d), below the IDs walked and not seen: %v, want fs.ErrNotExist", id-1, err)
	}

	// Gone: a resolver that saw it still answers (a late sample), one that
	// did not says it does not exist.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Path(id); err != nil || p != rel {
		t.Errorf("Path(%d) after rmdir, seen before = %q, %v; want %q", id, p, err, rel)
	}
	late, _ := NewCgroups(m.Unified)
	defer late.Close()
	if _, err := late.Path(id); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Path(%d) of a removed cgroup never seen: %v, want fs.ErrNotExist", id, err)
	}

	// The unit restarts: same path, new ID, and both resolve.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	id2, err := c.ID(rel)
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Fatalf("a new cgroup at %s kept ID %d", rel, id)
	}
	for _, r := range []*Cgroups{c, late} {
		if p, err := r.Path(id2); err != nil || p != rel {
			t.Errorf("Path(%d) of the new cgroup = %q, %v; want %q", id2, p, err, rel)
		}
	}
}

// TestCgroupCachePrunesTheDead checks that the cache forgets removed
// cgroups once it has grown, and keeps the living.
func TestCgroupCachePrunesTheDead(t *testing.T) {
	m := writableMounts(t)
	c, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := "/system.slice/ptest-" + randHex(6) + ".service"
	makeCgroup(t, m.Unified, base)
	keep, _ := c.ID(base)
	var dead []uint64
	for i := 0; i < 20; i++ {
		dir := filepath.Join(m.Unified, base, "c"+string(rune('a'+i)))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		id, err := c.ID(strings.TrimPrefix(dir, m.Unified))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(dir)
		dead = append(dead, id)
	}
	c.mu.Lock()
	c.pruneAt = len(c.byID)
	c.mu.Unlock()
	c.ID(base) // the next remember prunes
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range dead {
		if p, ok := c.byID[id]; ok {
			t.Errorf("removed cgroup %d (%s) still cached after a prune", id, p)
		}
	}
	if c.byID[keep] != base {
		t.Errorf("living cgroup %d dropped by a prune: %q", keep, c.byID[keep])
	}
}

func TestNewCgroupsRefusesAV1Hierarchy(t *testing.T) {
	m, err := FindMounts()
	if err != nil || m.Systemd == "" {
		t.Skip("no cgroup v1 name=systemd hierarchy here")
	}
	if _, err := NewCgroups(m.Systemd); err == nil || !strings.Contains(err.Error(), "not a cgroup v2 mount") {
		t.Errorf("NewCgroups(%s) = %v, want an error saying it is not cgroup v2", m.Systemd, err)
	}
}

// BenchmarkCgroupPath measures what the agent pays for a sample's cgroup
// ID: once per new cgroup (first), then per sample (cached).
func BenchmarkCgroupPath(b *testing.B) {
	m, err := FindMounts()
	if err != nil || m.Unified == "" {
		b.Skip("no cgroup v2 mount")
	}
	dir := filepath.Join(m.Unified, "ptest-bench-"+randHex(4))
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Skipf("cgroup v2 not writable: %v", err)
	}
	defer os.Remove(dir)
	var st syscall.Stat_t
	syscall.Stat(dir, &st)
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			c, _ := NewCgroups(m.Unified)
			if _, err := c.Path(st.Ino); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("cached", func(b *testing.B) {
		c, _ := NewCgroups(m.Unified)
		defer c.Close()
		for b.Loop() {
			if _, err := c.Path(st.Ino); err != nil {
				b.Fatal(err)
			}
		}
	})
}
