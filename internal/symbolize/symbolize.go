// Package symbolize turns addresses sampled in another process into
// functions, files and lines. It keeps a model of each process's executable
// mappings, started from /proc/PID/maps and kept current by the caller (the
// perf sampler feeds it the kernel's mmap records), and reads the mapped ELF
// files through /proc/PID/map_files or /proc/PID/root, so that processes in
// other mount namespaces (containers) resolve against their own files.
//
// Go binaries are read through their pclntab, inlined calls included; other
// files through .symtab, or .dynsym when stripped. Files are read once per
// Symbolizer and shared by build ID, so a long session does not re-read them,
// and a process that has exited still symbolizes: its files are found again
// by build ID, or by path checked against the inode or build ID it mapped.
// The [vdso] is read from this process's own copy. Addresses that fall in
// anonymous memory or unreadable files are kept as bare addresses by the
// caller.
package symbolize

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// A Frame is one function activation at an address. Addresses inside inlined
// calls yield several frames.
type Frame struct {
	Function string
	File     string // empty when the file has no line table (C via .symtab)
	Line     int
}

// A Symbolizer caches what it read from binaries. It is safe for concurrent use.
//
// Each binary it parsed stays open (one descriptor per distinct file), so
// that the instructions of a process that has exited can still be read.
type Symbolizer struct {
	mu      sync.Mutex
	byID    map[string]*binaryFile  // by build ID
	byFile  map[fileKey]*binaryFile // by identity on disk, to skip re-opening
	loadErr map[fileKey]error       // files that are not usable ELF: their content does not change
	// debugDir holds separate debug symbols by build ID, for stripped files.
	debugDir string

	vdsoOnce  sync.Once
	vdsoImage vdsoImage
}

// defaultDebugDir is where distributions install separate debug symbols.
const defaultDebugDir = "/usr/lib/debug"

// fileKey identifies a file's content without reading it.
type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// New returns an empty Symbolizer.
func New() *Symbolizer {
	return &Symbolizer{
		byID:     make(map[string]*binaryFile),
		byFile:   make(map[fileKey]*binaryFile),
		loadErr:  make(map[fileKey]error),
		debugDir: defaultDebugDir,
	}
}

// errMismatch says a file found by path is not the one that was mapped.
var errMismatch = errors.New("symbolize: file differs from the mapped one")

// binary returns the parsed file behind m in process p, or an error when no
// candidate path could be opened or none is the mapped file. A cached build
// ID needs no file at all.
func (s *Symbolizer) binary(p *Process, m *Mapping) (*binaryFile, error) {
	if m.Path == vdsoPath {
		return s.vdso(m.Limit - m.Start)
	}
	if m.BuildID != "" {
		s.mu.Lock()
		b := s.byID[m.BuildID]
		s.mu.Unlock()
		if b != nil {
			return b, nil
		}
	}
	err := fmt.Errorf("symbolize: no readable copy of %s: %w", m.Path, os.ErrNotExist)
	for _, path := range p.candidates(m) {
		f, openErr := os.Open(path)
		if openErr != nil {
			continue
		}
		b, loadErr := s.load(f, m)
		if loadErr == nil {
			return b, nil
		}
		f.Close()
		err = loadErr
	}
	return nil, err
}

// load returns the parsed binary of the open file f, checking that it is
// the file m mapped (same inode or build ID, when m knows them). On success
// f is kept open by the cache or closed.
func (s *Symbolizer) load(f *os.File, m *Mapping) (*binaryFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	key := fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.dev, key.ino = uint64(st.Dev), st.Ino
	}
	// The inode of an overlay file differs between the mapping (the
	// underlying file) and a path through the overlay, so a mismatch is
	// only final when m has no build ID to compare instead.
	if m.Inode != 0 && key.ino != m.Inode && m.BuildID == "" {
		return nil, fmt.Errorf("%s: inode %d, mapped %d: %w", f.Name(), key.ino, m.Inode, errMismatch)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byFile[key]
	if !ok {
		if err, failed := s.loadErr[key]; failed {
			return nil, err
		}
		// Reading the build ID first lets two paths to the same build (a
		// container's copy of libc and the host's) share one parsed file.
		if id := buildIDOf(f); id != "" {
			b = s.byID[id]
		}
	}
	if b == nil {
		if b, err = openBinary(f, s.debugDir); err != nil {
			s.loadErr[key] = err
			f.Close()
			return nil, err
		}
		b.file = f
		if b.buildID != "" {
			s.byID[b.buildID] = b
		}
	} else {
		f.Close()
	}
	s.byFile[key] = b
	if m.BuildID != "" && b.buildID != m.BuildID {
		return nil, fmt.Errorf("%s: build ID %s, mapped %s: %w", f.Name(), b.buildID, m.BuildID, errMismatch)
	}
	return b, nil
}

// Close closes the files of the binaries read so far. Processes of s must
// not be used afterwards.
func (s *Symbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, b := range s.byFile {
		if b.file != nil {
			errs = append(errs, b.file.Close())
			b.file = nil
		}
	}
	return errors.Join(errs...)
}
