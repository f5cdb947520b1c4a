package discover

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Mounts are the cgroup hierarchies a target can be found in.
type Mounts struct {
	// Unified is the cgroup v2 mount point: /sys/fs/cgroup on a pure v2
	// machine, /sys/fs/cgroup/unified on a hybrid one; "" when none.
	Unified string
	// Systemd is cgroup v1's name=systemd hierarchy (/sys/fs/cgroup/systemd)
	// on hybrid and v1 machines; "" when none.
	Systemd string
}

// FindMounts reads the cgroup mounts from /proc/self/mountinfo.
func FindMounts() (Mounts, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Mounts{}, fmt.Errorf("discover: finding cgroup mounts: %w", err)
	}
	defer f.Close()
	m, err := parseMountinfo(f)
	if err != nil {
		return Mounts{}, fmt.Errorf("discover: reading /proc/self/mountinfo: %w", err)
	}
	if m.Unified == "" && m.Systemd == "" {
		return m, errors.New("discover: no cgroup2 and no name=systemd cgroup hierarchy is mounted (looked in /proc/self/mountinfo); mount one, e.g. mount -t cgroup2 none /sys/fs/cgroup")
	}
	return m, nil
}

// parseMountinfo picks the first cgroup2 mount and the first v1 mount of the
// name=systemd hierarchy that show the hierarchy from its root.
func parseMountinfo(r io.Reader) (Mounts, error) {
	var m Mounts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /root /mnt rw,noatime master:1 - cgroup2 none rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 || f[3] != "/" {
			continue
		}
		point := unescapeMount(f[4])
		switch {
		case g[0] == "cgroup2" && m.Unified == "":
			m.Unified = point
		case g[0] == "cgroup" && m.Systemd == "" && len(g) >= 3 && hasOption(g[2], "name=systemd"):
			m.Systemd = point
		}
	}
	return m, sc.Err()
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ProcCgroup is where /proc/PID/cgroup places a process, as paths from the
// root of each hierarchy ("/system.slice/sshd.service"); "" where the
// process is in no such hierarchy.
type ProcCgroup struct {
	Unified string // the cgroup v2 line, 0::/path
	Systemd string // the cgroup v1 name=systemd line
}

// ReadProcCgroup reads /proc/PID/cgroup.
func ReadProcCgroup(pid int) (ProcCgroup, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ProcCgroup{}, fmt.Errorf("discover: cgroup of process %d: %w", pid, err)
	}
	return parseProcCgroup(b)
}

func parseProcCgroup(b []byte) (ProcCgroup, error) {
	var pc ProcCgroup
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		if len(line) == 0 {
			continue
		}
		// hierarchy-ID:controllers:path; the path may itself hold colons.
		parts := bytes.SplitN(line, []byte(":"), 3)
		if len(parts) != 3 {
			return ProcCgroup{}, fmt.Errorf("discover: /proc/PID/cgroup line %q is not ID:controllers:path", line)
		}
		switch {
		case string(parts[0]) == "0" && len(parts[1]) == 0:
			pc.Unified = string(parts[2])
		case hasOption(string(parts[1]), "name=systemd"):
			pc.Systemd = string(parts[2])
		}
	}
	return pc, nil
}

// Cgroups maps the IDs of a cgroup v2 hierarchy to paths and back. The ID of
// a cgroup is its directory's inode number: what perf's PERF_SAMPLE_CGROUP
// reports in each sample, and what PERF_FLAG_PID_CGROUP opens via an fd.
//
// IDs are never reused while the system runs (the kernel allocates them in
// increasing order), so a resolved ID stays right after its cgroup is gone:
// a sample read late from a ring buffer still finds the unit it ran in.
// Paths are reused (a unit restarts in a new cgroup of the same name), so
// ID always asks the kernel afresh.
type Cgroups struct {
	mount string

	mu       sync.Mutex
	mountDir *os.File // for open_by_handle_at; nil once it proved unusable
	byID     map[uint64]string
	pruneAt  int    // prune dead entries when byID grows past this
	walked   uint64 // the largest ID the last walk of the tree saw
}

// fileIDKernfs is the handle type of kernfs (cgroupfs) file handles: 8 bytes,
// the node's ID.
const fileIDKernfs = 0xfe

// NewCgroups opens the cgroup v2 hierarchy mounted at mount (see [FindMounts]).
func NewCgroups(mount string) (*Cgroups, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil {
		return nil, fmt.Errorf("discover: cgroup v2 mount %s: %w", mount, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("discover: %s is not a cgroup v2 mount (filesystem type %#x)", mount, st.Type)
	}
	d, err := os.Open(mount)
	if err != nil {
		return nil, fmt.Errorf("discover: cgroup v2 mount: %w", err)
	}
	return &Cgroups{mount: filepath.Clean(mount), mountDir: d, byID: map[uint64]string{}, pruneAt: 1024}, nil
}

// Mount is the mount point the paths are relative to.
func (c *Cgroups) Mount() string { return c.mount }

// Close releases the mount's directory. Lookups still work after it, by
// walking the tree.
func (c *Cgroups) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mountDir == nil {
		return nil
	}
	err := c.mountDir.Close()
	c.mountDir = nil
	return err
}

// ID is the ID of the cgroup at path ("/system.slice/x.service", from the
// hierarchy's root).
func (c *Cgroups) ID(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(c.abs(path), &st); err != nil {
		return 0, fmt.Errorf("discover: cgroup %s: %w", path, err)
	}
	c.mu.Lock()
	c.remember(st.Ino, cleanCgroup(path))
	c.mu.Unlock()
	return st.Ino, nil
}

// Path is the path of the cgroup with the given ID, from the hierarchy's
// root. An ID never seen and no longer in the tree is an error wrapping
// [fs.ErrNotExist].
//
// The first lookup of an ID opens the cgroup by its file handle
// (open_by_handle_at, one system call, needs CAP_DAC_READ_SEARCH); without
// that right it walks the tree, remembers every cgroup it saw, and walks
// again only for an ID larger than any it saw.
func (c *Cgroups) Path(id uint64) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.byID[id]; ok {
		return p, nil
	}
	if c.mountDir != nil {
		p, err := c.openByID(id)
		switch {
		case err == nil:
			c.remember(id, p)
			return p, nil
		case errors.Is(err, unix.ESTALE) || errors.Is(err, unix.ENOENT):
			return "", fmt.Errorf("discover: cgroup ID %d: %w", id, fs.ErrNotExist)
		}
		// Not permitted or not supported: walk from now on.
		c.mountDir.Close()
		c.mountDir = nil
	}
	// IDs grow: one below the largest the last walk saw, and not seen by
	// it, is gone, and walking again would not find it.
	if id > c.walked {
		if err := c.walk(); err != nil {
			return "", err
		}
		if p, ok := c.byID[id]; ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("discover: cgroup ID %d: %w", id, fs.ErrNotExist)
}

func (c *Cgroups) openByID(id uint64) (string, error) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], id)
	fd, err := unix.OpenByHandleAt(int(c.mountDir.Fd()), unix.NewFileHandle(fileIDKernfs, b[:]), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	// The kernel names the directory it opened as seen from our mount.
	abs, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(abs, c.mount)
	if !ok || (rel != "" && rel[0] != '/') {
		return "", fmt.Errorf("cgroup %d resolved to %s, outside %s", id, abs, c.mount)
	}
	return cleanCgroup(rel), nil
}

// walk rebuilds the cache from the whole tree, which also drops the dead.
func (c *Cgroups) walk() error {
	seen := map[uint64]string{}
	err := walkCgroups(c.mount, func(rel string) {
		var st unix.Stat_t
		if unix.Lstat(c.abs(rel), &st) == nil {
			seen[st.Ino] = rel
		}
	})
	if err != nil {
		return err
	}
	c.byID = seen
	c.pruneAt = max(1024, 2*len(seen))
	for id := range seen {
		c.walked = max(c.walked, id)
	}
	return nil
}

// remember caches id → path. When the cache has doubled since the last
// prune it drops entries whose cgroup is gone, so a node that starts and
// stops many containers does not grow the agent without bound.
func (c *Cgroups) remember(id uint64, path string) {
	c.byID[id] = path
	if len(c.byID) < c.pruneAt {
		return
	}
	for id, p := range c.byID {
		var st unix.Stat_t
		if unix.Stat(c.abs(p), &st) != nil || st.Ino != id {
			delete(c.byID, id)
		}
	}
	c.pruneAt = max(1024, 2*len(c.byID))
}

func (c *Cgroups) abs(path string) string { return c.mount + cleanCgroup(path) }

// cleanCgroup makes a path from the hierarchy's root, "/" for the root.
func cleanCgroup(p string) string {
	if p == "" {
		return "/"
	}
	return filepath.Clean("/" + p)
}

// walkCgroups calls fn with every cgroup's path from the root of the
// hierarchy mounted at root ("/" for the root itself).
func walkCgroups(root string, fn func(rel string)) error {
	root = filepath.Clean(root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while we walked
				return nil
			}
			return err
		}
		if d.IsDir() {
			fn(cleanCgroup(strings.TrimPrefix(p, root)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("discover: walking cgroups under %s: %w", root, err)
	}
	return nil
}

// readPIDs reads the PIDs of a cgroup.procs file.
func readPIDs(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if pid, err := strconv.Atoi(sc.Text()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
