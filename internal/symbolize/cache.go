package symbolize

import (
	"os"
	"slices"
	"time"
)

// maxRemembered bounds the failures (loadErr) and problems (reported) kept,
// which a container could otherwise grow with one new file after another;
// past it they are forgotten, and a problem may be reported again.
const maxRemembered = 4096

// maxKeysPerBinary bounds the file identities that name one binary (copies
// of one libc in many containers); further copies are found by build ID.
const maxKeysPerBinary = 64

func (s *Symbolizer) maxBinaries() int {
	if s.MaxBinaries > 0 {
		return s.MaxBinaries
	}
	return DefaultMaxBinaries
}

func (s *Symbolizer) maxOpenFiles() int {
	if s.MaxOpenFiles > 0 {
		return s.MaxOpenFiles
	}
	return DefaultMaxOpenFiles
}

// touch marks b as just used. The clock moves on when a binary is added,
// not at each use: a lookup, the profiler's most common call, then costs
// two loads, and "least recently used" means "not used since the most
// binaries were added".
func (s *Symbolizer) touch(b *binaryFile) {
	if now := s.clock.Load(); b.lastUse.Load() != now {
		b.lastUse.Store(now)
	}
}

// add keeps the new binary b, read from the file f of identity key, making
// room for it. s.mu must be held.
func (s *Symbolizer) add(b *binaryFile, key fileKey, f *os.File) {
	for len(s.all) >= s.maxBinaries() {
		s.evict(s.leastUsed(false))
	}
	s.clock.Add(1)
	s.all[b] = struct{}{}
	if b.buildID != "" {
		s.byID[b.buildID] = b
	}
	s.index(b, key)
	s.keepFile(b, f)
}

// index lets the file identity key find b. s.mu must be held.
func (s *Symbolizer) index(b *binaryFile, key fileKey) {
	if _, ok := s.byFile[key]; ok || len(b.keys) >= maxKeysPerBinary {
		return
	}
	s.byFile[key] = b
	b.keys = append(b.keys, key)
}

// keepFile makes f the open file of b, closing the least recently used
// binary's file when MaxOpenFiles are open. s.mu must be held.
func (s *Symbolizer) keepFile(b *binaryFile, f *os.File) {
	for s.openFiles >= s.maxOpenFiles() {
		s.closeFile(s.leastUsed(true))
	}
	b.file.Store(f)
	s.openFiles++
}

func (s *Symbolizer) closeFile(b *binaryFile) {
	if f := b.file.Swap(nil); f != nil {
		f.Close()
		s.openFiles--
	}
}

// leastUsed returns the kept binary used longest ago, among those with an
// open file when withFile is set. s.mu must be held.
func (s *Symbolizer) leastUsed(withFile bool) *binaryFile {
	var oldest *binaryFile
	for b := range s.all {
		if withFile && b.file.Load() == nil {
			continue
		}
		if oldest == nil || b.lastUse.Load() < oldest.lastUse.Load() {
			oldest = b
		}
	}
	return oldest
}

// evict drops b from the cache. Mappings that hold it load it again on
// their next lookup. s.mu must be held.
func (s *Symbolizer) evict(b *binaryFile) {
	delete(s.all, b)
	if s.byID[b.buildID] == b {
		delete(s.byID, b.buildID)
	}
	for _, k := range b.keys {
		if s.byFile[k] == b {
			delete(s.byFile, k)
		}
	}
	s.closeFile(b)
	b.ref.b.Store(nil)
}

// failed remembers that the file of identity key is not usable. s.mu must
// be held.
func (s *Symbolizer) failed(key fileKey, err error) {
	if len(s.loadErr) >= maxRemembered {
		clear(s.loadErr)
	}
	s.loadErr[key] = err
}

// file returns the open file of b, the binary of m in p, opening it again
// when it was closed to stay within MaxOpenFiles. It returns nil when no
// copy of the file can be found now.
func (s *Symbolizer) file(p *Process, m *Mapping, b *binaryFile) *os.File {
	if f := b.file.Load(); f != nil {
		return f
	}
	now := time.Now().UnixNano()
	if now < b.reopenAfter.Load() {
		return nil
	}
	for _, src := range p.sources(m) {
		f, _, err := s.openSource(p, src, m)
		if err != nil {
			continue
		}
		if s.sameFile(f, b) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, kept := s.all[b]; !kept || b.file.Load() != nil {
				f.Close()
				return b.file.Load()
			}
			s.keepFile(b, f)
			return f
		}
		f.Close()
	}
	b.reopenAfter.Store(now + int64(retryOpen))
	return nil
}

// sameFile reports whether f is a copy of b's file: one of its identities,
// or its build ID.
func (s *Symbolizer) sameFile(f *os.File, b *binaryFile) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	key := keyOf(fi)
	s.mu.Lock()
	known := slices.Contains(b.keys, key)
	s.mu.Unlock()
	return known || (b.buildID != "" && buildIDOf(f, key.size) == b.buildID)
}
