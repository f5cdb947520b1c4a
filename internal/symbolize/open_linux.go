package symbolize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// An opener opens the files of other processes as those processes see
// them, and nothing else: it is the one place the symbolizer opens a file
// it has not made. It resolves a path inside a root directory (a process's
// /proc/PID/root, or this process's "/") with openat2's RESOLVE_IN_ROOT, so
// that ".." and absolute symlinks stay in that root as they do for the
// process, and RESOLVE_NO_MAGICLINKS, so that a symlink into /proc (such as
// /proc/1/root of a container that shares the host's PID namespace) does
// not lead out of it. On kernels without openat2 (before Linux 5.6, or
// where a seccomp filter refuses it) it walks the path itself, one
// component at a time with O_NOFOLLOW, keeping the directories it passed as
// descriptors and resolving symlinks and ".." against them, never against
// a path; it refuses every symlink on a procfs, magic or not. That walk is
// as safe: no step is resolved by the kernel beyond one name in a directory
// already inside the root.
//
// Whatever it resolves to, a file is first opened with O_PATH and only
// opened for reading when it is a regular file: opening a FIFO would block,
// and opening a device node a container made runs that device's driver.
type opener struct {
	walkOnly  bool        // resolve as on a kernel without openat2 (tests)
	noOpenat2 atomic.Bool // openat2 returned ENOSYS: the kernel lacks it
	// onOpen, when set, sees every file opened for reading (tests).
	onOpen func(*os.File)
}

// maxSymlinks is how many symlinks one path may pass, as Linux's MAXSYMLINKS.
const maxSymlinks = 40

// openRoot opens the root directory of pid, or this process's root for pid
// 0, as an O_PATH descriptor, with the name paths in it are reported under.
// want, when known, is the identity the root must have: a pid reused by
// another process has another root.
func (o *opener) openRoot(pid int, want rootID) (fd int, name string, err error) {
	path := "/"
	if pid != 0 {
		name = "/proc/" + strconv.Itoa(pid) + "/root"
		path = name
	}
	fd, err = unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if want != (rootID{}) {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Dev != want.dev || st.Ino != want.ino {
			unix.Close(fd)
			return -1, "", fmt.Errorf("%s is no longer the root the process had: %w", path, errGone)
		}
	}
	return fd, name, nil
}

// openIn opens path (absolute, as the process sees it) inside the root
// directory root, named rootName in errors and in the file's Name.
func (o *opener) openIn(root int, rootName, path string) (*os.File, error) {
	name := rootName + path
	fd, err := -1, error(unix.ENOSYS)
	if !o.walkOnly && !o.noOpenat2.Load() {
		fd, err = unix.Openat2(root, path, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.ENOSYS {
			o.noOpenat2.Store(true)
		}
	}
	// EPERM is what some seccomp profiles answer for a system call they do
	// not know; EAGAIN, RESOLVE_IN_ROOT's answer to a rename during the
	// lookup. The walk is as safe in every case.
	if err == unix.ENOSYS || err == unix.EPERM || err == unix.EAGAIN {
		fd, err = walkIn(root, path)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return o.reopen(fd, name)
}

// openMapped opens the file mapped at [start, limit) in pid through
// /proc/PID/map_files: the mapped file itself, wherever it is.
func (o *opener) openMapped(pid int, start, limit uint64) (*os.File, error) {
	name := fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, start, limit)
	fd, err := unix.Open(name, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return o.reopen(fd, name)
}

// reopen opens the O_PATH descriptor fd for reading when it is a regular
// file, and closes fd.
func (o *opener) reopen(fd int, name string) (*os.File, error) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	// The O_PATH descriptor pins the inode: this opens the file checked.
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(rfd), name)
	if o.onOpen != nil {
		o.onOpen(f)
	}
	return f, nil
}

// walkIn resolves path inside the directory root as RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS does, without openat2, and returns an O_PATH
// descriptor of the file it names (see opener).
func walkIn(root int, path string) (int, error) {
	dirs := []int{root} // the directories passed; dirs[0] is the caller's
	defer func() {
		for _, fd := range dirs[1:] {
			unix.Close(fd)
		}
	}()
	links := 0
	todo := path
	for {
		todo = strings.TrimLeft(todo, "/")
		if todo == "" { // the path names a directory: reopen refuses it
			return unix.Openat(dirs[len(dirs)-1], ".", unix.O_PATH|unix.O_CLOEXEC, 0)
		}
		name, rest, _ := strings.Cut(todo, "/")
		todo = rest
		switch name {
		case ".":
			continue
		case "..":
			if len(dirs) > 1 { // ".." of the root is the root
				unix.Close(dirs[len(dirs)-1])
				dirs = dirs[:len(dirs)-1]
			}
			continue
		}
		fd, err := unix.Openat(dirs[len(dirs)-1], name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		last := strings.Trim(todo, "/") == ""
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, err := readLink(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if links++; links > maxSymlinks {
				return -1, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				for _, fd := range dirs[1:] {
					unix.Close(fd)
				}
				dirs = dirs[:1]
			}
			todo = target + "/" + todo
		case unix.S_IFDIR:
			if last {
				return fd, nil // reopen refuses it
			}
			dirs = append(dirs, fd)
		default:
			if !last {
				unix.Close(fd)
				return -1, unix.ENOTDIR
			}
			return fd, nil
		}
	}
}

// readLink returns the target of the symlink fd (an O_PATH descriptor),
// refusing those on a procfs.
func readLink(fd int) (string, error) {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return "", err
	}
	if sfs.Type == unix.PROC_SUPER_MAGIC {
		return "", unix.ELOOP
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	if n == len(buf) {
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

// A rootID identifies what a process sees as "/": its root directory and
// its mount namespace. The zero value means unknown.
type rootID struct {
	dev, ino, mntns uint64
}

// rootOf returns the rootID of pid (0: this process), or the zero rootID
// when it cannot be read (the process has exited).
func rootOf(pid int) rootID {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var root, ns unix.Stat_t
	if unix.Stat(dir+"/root", &root) != nil || unix.Stat(dir+"/ns/mnt", &ns) != nil {
		return rootID{}
	}
	return rootID{dev: root.Dev, ino: root.Ino, mntns: ns.Ino}
}

func closeFD(fd int) { unix.Close(fd) }

var (
	// errNotRegular refuses FIFOs, devices and sockets.
	errNotRegular = errors.New("not a regular file")
	// errGone says the process's root is gone or is another's.
	errGone = errors.New("process gone")
)
