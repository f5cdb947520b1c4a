package symbolize

import (
	"errors"
	"fmt"
	"syscall"
)

// A FileError says why the file of a mapping could not be symbolized: it
// is missing in the process's root, not readable, not a regular file, a
// symlink into /proc, over one of the limits (errors.Is ErrLimit), not ELF,
// or not the file that was mapped. The mapping's addresses stay
// unsymbolized. A Symbolizer passes each to OnProblem once per file and
// cause, so that a caller can log each as it comes.
type FileError struct {
	PID  int    // the process that mapped the file
	Path string // the mapped path, as that process sees it
	Err  error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("symbolize: pid %d: %s: %v", e.PID, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// A problemKey identifies a problem to report once: the file (its
// identity, or the identity of the root it was looked for in and its path
// there) and the cause.
type problemKey struct {
	file  fileKey
	path  string
	cause string
}

// report passes err to OnProblem unless the problem key was reported.
func (s *Symbolizer) report(key problemKey, err *FileError) {
	key.cause = causeOf(err.Err)
	s.mu.Lock()
	_, seen := s.reported[key]
	if !seen {
		if len(s.reported) >= maxRemembered {
			clear(s.reported)
		}
		s.reported[key] = struct{}{}
	}
	onProblem := s.OnProblem
	s.mu.Unlock()
	if !seen && onProblem != nil {
		onProblem(err)
	}
}

// causeOf names the kind of err, without the names of the files it holds
// (which differ between processes mapping the same file).
func causeOf(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, ErrLimit):
		return "limit"
	case errors.Is(err, errMismatch):
		return "mismatch"
	case errors.Is(err, errNotRegular):
		return "not regular"
	}
	return err.Error()
}
