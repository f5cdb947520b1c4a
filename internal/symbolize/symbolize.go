// Package symbolize turns addresses sampled in another process into
// functions, files and lines. It keeps a model of each process's executable
// mappings, started from /proc/PID/maps and kept current by the caller (the
// perf sampler feeds it the kernel's mmap records), and reads the mapped ELF
// files through /proc/PID/map_files or /proc/PID/root, so that processes in
// other mount namespaces (containers) resolve against their own files.
//
// Go binaries are read through their pclntab, inlined calls included; other
// files through .symtab, or .dynsym when stripped, or the separate debug
// file installed by build ID under /usr/lib/debug/.build-id. Files are
// shared by build ID, so a long session does not re-read them, and a
// process that has exited still symbolizes: its files are found again by
// build ID, or by path checked against the inode or build ID it mapped. The
// [vdso] is read from this process's own copy. Addresses that fall in
// anonymous memory or unreadable files are kept as bare addresses by the
// caller.
//
// # Hostile files
//
// The files belong to programs the symbolizer does not trust (a node agent
// runs as root and reads what every container holds), so:
//
//   - A path is resolved inside the root of the process that mapped it, as
//     that process would resolve it: ".." and absolute symlinks stay in its
//     root, symlinks into /proc are not followed, and only regular files are
//     opened (see opener). A path is looked up in the parent's root, or in
//     this process's own, only when that is the same root. The debug files
//     under /usr/lib/debug are this process's own: they are looked up in
//     its root, and used only when their build ID is the one asked for.
//   - What is read of one file is bounded: files over 4 GiB are not read;
//     the ELF headers may take 16 MiB, one section 128 MiB, all sections
//     together 256 MiB, a build-ID note 64 KiB; a symbol table may hold 4 Mi
//     entries and a file 256 loadable segments; compressed tables are not
//     read. Names are cut at 16 KiB; one address's lookup walks at most
//     64 Ki pc-value steps and 100 inlined frames. A file over a limit is
//     refused with an error wrapping ErrLimit that names the limit, and
//     every offset a file holds is checked before use.
//   - A file that cannot be used (missing in the process's root, not
//     readable, not a regular file, over a limit, not ELF, not the file
//     that was mapped) leaves its addresses unsymbolized, its mapping as
//     known, and is reported once per file and cause through OnProblem.
//
// # Bounded cache
//
// A Symbolizer keeps at most MaxBinaries parsed binaries and MaxOpenFiles
// open files (to read instructions from), dropping the least recently used.
// A binary dropped is read again when one of its mappings is next looked
// up, if its file can still be found (a process that exited in the
// meantime may then stay unsymbolized).
package symbolize

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
)

// A Frame is one function activation at an address. Addresses inside inlined
// calls yield several frames.
type Frame struct {
	Function string
	File     string // empty when the file has no line table (C via .symtab)
	Line     int
}

// Defaults of the Symbolizer's bounds.
const (
	DefaultMaxBinaries  = 64
	DefaultMaxOpenFiles = 32
)

// A Symbolizer caches what it read from binaries. It is safe for concurrent
// use; its fields are set before its first use.
type Symbolizer struct {
	// MaxBinaries bounds the parsed binaries kept; 0 means
	// DefaultMaxBinaries. A Go binary costs about its pclntab and read-only
	// data in memory, a C library its symbol table.
	MaxBinaries int
	// MaxOpenFiles bounds the files kept open to read the instructions of
	// processes that may have exited; 0 means DefaultMaxOpenFiles.
	MaxOpenFiles int
	// OnProblem, when set, is called with a *FileError for each file that
	// cannot be symbolized, once per file and cause (see FileError). It is
	// called from lookups, and must not call back into the Symbolizer or
	// its Processes.
	OnProblem func(error)

	mu        sync.Mutex
	all       map[*binaryFile]struct{} // the binaries kept
	byID      map[string]*binaryFile   // by build ID
	byFile    map[fileKey]*binaryFile  // by identity on disk, to skip re-opening
	loadErr   map[fileKey]error        // files that are not usable ELF: their content does not change
	reported  map[problemKey]struct{}  // problems passed to OnProblem
	openFiles int                      // binaries with a file open
	clock     atomic.Uint64            // counts uses, for the least recently used

	open opener
	// debugDir holds separate debug symbols by build ID, for stripped
	// files; an absolute path in this process's root.
	debugDir string

	ownRootOnce sync.Once
	ownRoot     rootID

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

// keyOf returns the identity of the file fi describes.
func keyOf(fi fs.FileInfo) fileKey {
	key := fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.dev, key.ino = uint64(st.Dev), st.Ino
	}
	return key
}

// New returns an empty Symbolizer.
func New() *Symbolizer {
	return &Symbolizer{
		all:      make(map[*binaryFile]struct{}),
		byID:     make(map[string]*binaryFile),
		byFile:   make(map[fileKey]*binaryFile),
		loadErr:  make(map[fileKey]error),
		reported: make(map[problemKey]struct{}),
		debugDir: defaultDebugDir,
	}
}

// errMismatch says a file found by path is not the one that was mapped.
var errMismatch = errors.New("file differs from the mapped one")

// binary returns the parsed file behind m in process p, or an error when no
// candidate path could be opened or none is the mapped file. A cached build
// ID needs no file at all. What made the file unusable is reported once.
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
	err := fmt.Errorf("no readable copy: %w", fs.ErrNotExist)
	var problem *problemKey
	for _, src := range p.sources(m) {
		f, key, openErr := s.openSource(p, src, m)
		if openErr != nil {
			if key != nil && problem == nil {
				problem, err = key, openErr
			}
			continue
		}
		b, fkey, loadErr := s.load(f, m)
		if loadErr == nil {
			return b, nil
		}
		problem, err = &problemKey{file: fkey}, loadErr
	}
	ferr := &FileError{PID: p.PID, Path: m.Path, Err: err}
	if problem != nil {
		s.report(*problem, ferr)
	}
	return nil, ferr
}

// openSource opens the file of m from src. When the failure is the file's
// (its root was there, the file not usable), key identifies it for report.
func (s *Symbolizer) openSource(p *Process, src source, m *Mapping) (f *os.File, key *problemKey, err error) {
	if src.mapped {
		f, err = s.open.openMapped(src.pid, m.Start, m.Limit)
		return f, nil, err
	}
	root, name, err := s.open.openRoot(src.pid, src.root)
	if err != nil {
		return nil, nil, err
	}
	defer closeFD(root)
	f, err = s.open.openIn(root, name, m.Path)
	if err != nil {
		id := src.root
		if src.pid == 0 {
			id = s.ownRootID()
		}
		return nil, &problemKey{file: fileKey{dev: id.dev, ino: id.ino}, path: m.Path}, err
	}
	return f, nil, nil
}

// ownRootID is the rootID of this process.
func (s *Symbolizer) ownRootID() rootID {
	s.ownRootOnce.Do(func() { s.ownRoot = rootOf(0) })
	return s.ownRoot
}

// load returns the parsed binary of the open file f, checking that it is
// the file m mapped (same inode or build ID, when m knows them). On success
// f is kept open by the cache or closed; on failure it is closed.
func (s *Symbolizer) load(f *os.File, m *Mapping) (*binaryFile, fileKey, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileKey{}, err
	}
	key := keyOf(fi)
	// The inode of an overlay file differs between the mapping (the
	// underlying file) and a path through the overlay, so a mismatch is
	// only final when m has no build ID to compare instead.
	if m.Inode != 0 && key.ino != m.Inode && m.BuildID == "" {
		f.Close()
		return nil, key, fmt.Errorf("inode %d, mapped %d: %w", key.ino, m.Inode, errMismatch)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.byFile[key]
	if !ok {
		if err, failed := s.loadErr[key]; failed {
			f.Close()
			return nil, key, err
		}
		// Reading the build ID first lets two paths to the same build (a
		// container's copy of libc and the host's) share one parsed file.
		if id := buildIDOf(f, key.size); id != "" {
			b = s.byID[id]
		}
	}
	if b == nil {
		if b, err = openBinary(f, key.size, s.debugFile); err != nil {
			s.failed(key, err)
			f.Close()
			return nil, key, err
		}
		s.add(b, key, f)
	} else {
		s.index(b, key)
		f.Close()
	}
	s.touch(b)
	if m.BuildID != "" && b.buildID != m.BuildID {
		return nil, key, fmt.Errorf("build ID %s, mapped %s: %w", b.buildID, m.BuildID, errMismatch)
	}
	return b, key, nil
}

// debugFile opens the separate debug file of the GNU build ID id installed
// in s.debugDir (.build-id/ab/cdef....debug: Debian's -dbgsym and Fedora's
// -debuginfo packages, where gdb and perf look too), or returns nil. A
// stripped file names only its exported functions otherwise. done closes it.
func (s *Symbolizer) debugFile(id string) (f *elf.File, done func()) {
	if s.debugDir == "" || len(id) < 3 {
		return nil, nil
	}
	root, _, err := s.open.openRoot(0, rootID{})
	if err != nil {
		return nil, nil
	}
	defer closeFD(root)
	file, err := s.open.openIn(root, "", filepath.Join(s.debugDir, ".build-id", id[:2], id[2:]+".debug"))
	if err != nil {
		return nil, nil
	}
	fi, err := file.Stat()
	if err == nil {
		f, err = readELF(file, fi.Size())
	}
	if err != nil || gnuBuildID(f) != id || f.SectionByType(elf.SHT_SYMTAB) == nil {
		file.Close()
		return nil, nil
	}
	return f, func() { file.Close() }
}

// Close closes the files of the binaries read so far. Processes of s must
// not be used afterwards.
func (s *Symbolizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for b := range s.all {
		if f := b.file.Swap(nil); f != nil {
			errs = append(errs, f.Close())
			s.openFiles--
		}
	}
	return errors.Join(errs...)
}
