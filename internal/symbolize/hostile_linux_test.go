package symbolize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/testprog"
)

// hostileRoot is a target's root directory holding what a hostile
// container can put in the paths the symbolizer opens, and a file outside
// it that must not be read.
type hostileRoot struct {
	dir, root string
	hostELF   string // outside root: its function names must never appear
	hostID    string
	hostIno   uint64
	hostOff   uint64 // hostFunction's offset in hostELF
}

// hostFunction names the one function of hostELF.
const hostFunction = "host_only_function"

func makeHostileRoot(t *testing.T) *hostileRoot {
	t.Helper()
	dir := t.TempDir()
	h := &hostileRoot{dir: dir, root: filepath.Join(dir, "root"), hostELF: filepath.Join(dir, "host", "host.so")}
	for _, d := range []string{"root/bin", "root/lib", "host"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := buildC(t, "testdata/cfuncs/main.c", "-Dalpha_function="+hostFunction, "-Wl,--build-id")
	copyFile(t, c, h.hostELF)
	h.hostID = GNUBuildID(h.hostELF)
	fi, err := os.Stat(h.hostELF)
	if err != nil || h.hostID == "" {
		t.Fatalf("host ELF: %v, build ID %q", err, h.hostID)
	}
	h.hostIno = fi.Sys().(*syscall.Stat_t).Ino
	h.hostOff = functionOffset(t, h.hostELF, hostFunction)

	copyFile(t, buildC(t, "testdata/chrooted/main.c", "-static"), filepath.Join(h.root, "bin/chrooted"))
	elf := mustRead(t, buildC(t, "testdata/cfuncs/main.c"))
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(h.root, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("lib/truncated.so", elf[:len(elf)/2])
	write("lib/oversized.so", elf)
	if err := os.Truncate(filepath.Join(h.root, "lib/oversized.so"), maxFileSize+4096); err != nil {
		t.Fatal(err) // sparse: it takes no room
	}
	for name, target := range map[string]string{
		"lib/passwd.so": "/etc/passwd",
		"lib/host.so":   h.hostELF,
		"lib/up.so":     strings.Repeat("../", 16) + strings.TrimPrefix(h.hostELF, "/"),
		"lib/magic.so":  "/proc/self/root" + h.hostELF,
		"lib/good.so":   "/bin/chrooted", // absolute, and inside the root
	} {
		if err := os.Symlink(target, filepath.Join(h.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(h.root, "lib/fifo.so"), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, mustRead(t, from), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestHostileRoot symbolizes a real process chrooted in its own mount
// namespace whose view holds a truncated and an oversized ELF (mapped) and
// paths (announced as mappings, as the perf sampler does from MMAP2
// records) that are symlinks to a host ELF, to /etc/passwd, through "..",
// through /proc's magic links, and a FIFO. The symbolizer carries on
// (the process's own code symbolizes), reports each file once, and opens
// nothing outside the process's root: the host ELF's function never
// appears although its build ID and inode are the ones announced.
func TestHostileRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot and mount namespaces need root")
	}
	h := makeHostileRoot(t)
	for _, walk := range []bool{false, true} {
		t.Run(map[bool]string{false: "openat2", true: "walk"}[walk], func(t *testing.T) {
			testHostileRoot(t, h, walk)
		})
	}
}

func testHostileRoot(t *testing.T, h *hostileRoot, walk bool) {
	cmd := exec.Command("/bin/chrooted", "-proc", "/lib/truncated.so", "/lib/oversized.so")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: h.root, Unshareflags: syscall.CLONE_NEWNS}
	child := testprog.StartCmd(t, cmd)
	mapped := map[string]uint64{}
	var mainAddr uint64
	for child.Stdout.Scan() && child.Stdout.Text() != "ready" {
		f := strings.Fields(child.Stdout.Text())
		addr, err := strconv.ParseUint(strings.TrimPrefix(f[len(f)-1], "0x"), 16, 64)
		if err != nil {
			t.Fatalf("parsing %q: %v", child.Stdout.Text(), err)
		}
		if f[0] == "main" {
			mainAddr = addr
		} else {
			mapped[f[1]] = addr
		}
	}
	go func() {
		for child.Stdout.Scan() {
		}
	}()
	pid := cmd.Process.Pid

	var mu sync.Mutex
	var problems []error
	var opened []string
	s := New()
	defer s.Close()
	s.open.walkOnly = walk
	s.OnProblem = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, err)
	}
	s.open.onOpen = func(f *os.File) {
		real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			t.Errorf("naming opened %s: %v", f.Name(), err)
		}
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, real)
	}

	// The links are announced as the kernel announces a mapping: with the
	// path, inode and build ID of the file that was mapped, here the host
	// ELF's, as if the container had mapped a file that claims its build
	// ID and swapped the path for a link afterwards.
	links := []string{"/lib/passwd.so", "/lib/host.so", "/lib/up.so", "/lib/magic.so", "/lib/fifo.so"}
	model := func() *Process {
		p, err := s.Process(pid)
		if err != nil {
			t.Fatal(err)
		}
		for i, path := range links {
			start := uint64(0x7e0000000000 + i*0x10000)
			p.Map(Mapping{Start: start, Limit: start + 0x10000, Path: path, Inode: h.hostIno, BuildID: h.hostID})
		}
		return p
	}
	// A link that stays inside the root resolves there, as the process
	// would resolve it.
	good := uint64(0x7d0000000000)
	goodOff := functionOffset(t, filepath.Join(h.root, "bin/chrooted"), "main")
	fi, err := os.Stat(filepath.Join(h.root, "bin/chrooted"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second model of the same process meets the same files
		p := model()
		p.Map(Mapping{Start: good, Limit: good + 1<<20, Path: "/lib/good.so", Inode: fi.Sys().(*syscall.Stat_t).Ino})
		if _, frames := p.Lookup(good + goodOff); len(frames) != 1 || frames[0].Function != "main" {
			t.Errorf("Lookup in /lib/good.so, a link to /bin/chrooted = %+v, want main", frames)
		}
		for range 2 {
			if _, frames := p.Lookup(mainAddr); len(frames) != 1 || frames[0].Function != "main" {
				t.Errorf("Lookup(main) = %+v, want main: the process's own code symbolizes", frames)
			}
			for path, addr := range mapped {
				if m, frames := p.Lookup(addr); m == nil || len(frames) != 0 {
					t.Errorf("Lookup in %s = %+v, %+v; want its mapping and no frames", path, m, frames)
				}
			}
			for i, path := range links {
				addr := uint64(0x7e0000000000+i*0x10000) + h.hostOff
				m, frames := p.Lookup(addr)
				if m == nil || m.Path != path || len(frames) != 0 {
					t.Errorf("Lookup in %s = %+v, %+v; want its mapping and no frames", path, m, frames)
				}
				for _, f := range frames {
					if strings.Contains(f.Function, hostFunction) {
						t.Errorf("%s symbolized with the host file outside the root: %+v", path, f)
					}
				}
			}
		}
	}

	mu.Lock()
	defer mu.Unlock()
	t.Logf("opened %q", opened)
	for _, err := range problems {
		t.Log(err)
	}
	for _, name := range opened {
		if !strings.HasPrefix(name, h.root+"/") {
			t.Errorf("opened %s, outside the target's root %s", name, h.root)
		}
	}
	want := map[string]func(error) bool{
		"/lib/truncated.so": func(err error) bool { return !errors.Is(err, ErrLimit) },
		"/lib/oversized.so": func(err error) bool { return errors.Is(err, ErrLimit) && strings.Contains(err.Error(), "4 GiB") },
		"/lib/passwd.so":    func(err error) bool { return errors.Is(err, fs.ErrNotExist) },
		"/lib/host.so":      func(err error) bool { return errors.Is(err, fs.ErrNotExist) },
		"/lib/up.so":        func(err error) bool { return errors.Is(err, fs.ErrNotExist) },
		"/lib/magic.so":     func(err error) bool { return errors.Is(err, syscall.ELOOP) },
		"/lib/fifo.so":      func(err error) bool { return errors.Is(err, errNotRegular) },
	}
	seen := map[string]int{}
	for _, err := range problems {
		var fe *FileError
		if !errors.As(err, &fe) || fe.PID != pid {
			t.Errorf("problem %v: want a *FileError of pid %d", err, pid)
			continue
		}
		path := fe.Path
		if i := strings.Index(path, "/lib/"); i > 0 { // /proc/PID/maps names files from our view
			path = path[i:]
		}
		seen[path]++
		if ok := want[path]; ok == nil || !ok(err) {
			t.Errorf("unexpected problem: %v", err)
		}
	}
	for path := range want {
		if seen[path] != 1 {
			t.Errorf("%s reported %d times, want once; problems:\n%s", path, seen[path], fmt.Sprint(problems))
		}
	}
}
