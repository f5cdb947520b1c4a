//go:build !linux

package symbolize

import (
	"errors"
	"fmt"
	"os"
)

// An opener opens the files of other processes. Other processes are only
// symbolized on Linux (see open_linux.go); elsewhere it opens nothing.
type opener struct {
	walkOnly bool
	onOpen   func(*os.File)
}

type rootID struct{ dev, ino, mntns uint64 }

var (
	errNotRegular = errors.New("not a regular file")
	errGone       = errors.New("process gone")
)

func (o *opener) openRoot(pid int, want rootID) (int, string, error) {
	return -1, "", fmt.Errorf("symbolize: opening a process's files: %w", errors.ErrUnsupported)
}

func (o *opener) openIn(root int, rootName, path string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

func (o *opener) openMapped(pid int, start, limit uint64) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

func rootOf(pid int) rootID { return rootID{} }

func closeFD(fd int) {}
