package symbolize

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenerModesAgree resolves the same paths inside a root directory with
// openat2 and with the walk used where openat2 is missing: both open the
// same files and refuse the same paths with the same errors.
func TestOpenerModesAgree(t *testing.T) {
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	for path, content := range map[string]string{"a/file": "inside", "top": "top"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755)
		if err := os.WriteFile(filepath.Join(root, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"a/abs":    "/a/file",
		"a/rel":    "../a/./file",
		"a/up":     "../../../../top",
		"a/escape": outside,
		"a/loop1":  "loop2",
		"a/loop2":  "loop1",
		"a/dirlnk": "/a",
		"a/magic":  "/proc/self/root" + outside,
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, tc := range []struct {
		path string
		want string // the content, or
		err  error  // the error
	}{
		{path: "/a/file", want: "inside"},
		{path: "/a/abs", want: "inside"},
		{path: "/a/rel", want: "inside"},
		{path: "/a/up", want: "top"},
		{path: "/../../a/file", want: "inside"},
		{path: "/a/dirlnk/file", want: "inside"},
		{path: "/a/escape", err: unix.ENOENT},
		{path: "/a/loop1", err: unix.ELOOP},
		{path: "/a/magic", err: unix.ENOENT}, // no /proc inside this root
		{path: "/a", err: errNotRegular},
		{path: "/a/", err: errNotRegular},
		{path: "/", err: errNotRegular},
		{path: "/a/file/x", err: unix.ENOTDIR},
		{path: "/missing", err: unix.ENOENT},
	} {
		for _, walk := range []bool{false, true} {
			o := &opener{walkOnly: walk}
			f, err := o.openIn(fd, root, tc.path)
			var got string
			if err == nil {
				b, _ := io.ReadAll(f)
				got = string(b)
				f.Close()
			}
			if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("walk %v: openIn(%s) = %q, %v; want %q, %v", walk, tc.path, got, err, tc.want, tc.err)
			}
		}
	}
}

// TestOpenerRefusesMagicLinks resolves a link through /proc/self/root in a
// root that has /proc (ours): openat2 refuses the magic link, the walk every
// symlink on a procfs, and neither reads the file behind it.
func TestOpenerRefusesMagicLinks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "magic")
	if err := os.Symlink("/proc/self/root"+secret, link); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, walk := range []bool{false, true} {
		o := &opener{walkOnly: walk}
		if f, err := o.openIn(fd, "", link); !errors.Is(err, unix.ELOOP) {
			if f != nil {
				f.Close()
			}
			t.Errorf("walk %v: openIn(%s -> /proc/self/root...) = %v; want ELOOP", walk, link, err)
		}
	}
}
