package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// A distinctBinary is one copy of a C test program given a build ID of
// its own, mapped at base in a model of this process.
type distinctBinary struct {
	path, buildID string
	ino           uint64
	base, size    uint64
	alpha, ret    uint64 // offsets of alpha_function and of the return address of main's call to it
}

// distinctBinaries writes n copies of the cfuncs program, each with its own
// GNU build ID, so that the Symbolizer cannot share them.
func distinctBinaries(t *testing.T, n int) []distinctBinary {
	t.Helper()
	src := buildC(t, "testdata/cfuncs/main.c", "-Wl,--build-id")
	data := mustRead(t, src)
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	note := f.Section(".note.gnu.build-id")
	if note == nil {
		t.Fatal("no build-ID note")
	}
	alpha := functionOffset(t, src, "alpha_function")
	ret := callReturn(t, f, data, alpha)
	dir := t.TempDir()
	var out []distinctBinary
	for i := range n {
		b := bytes.Clone(data)
		binary.LittleEndian.PutUint32(b[note.Offset+16:], uint32(i)) // the descriptor follows "GNU\0"
		path := filepath.Join(dir, fmt.Sprintf("copy%d", i))
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		desc := b[note.Offset+16 : note.Offset+note.Size]
		out = append(out, distinctBinary{
			path: path, buildID: hex.EncodeToString(desc), ino: fi.Sys().(*syscall.Stat_t).Ino,
			base: 0x7f1000000000 + uint64(i)<<24, size: uint64(len(b)+0xfff) &^ 0xfff,
			alpha: alpha, ret: ret,
		})
	}
	return out
}

// callReturn finds, in main, a direct call to the function at file offset
// target and returns the file offset just after it. The text segment maps
// file offsets to addresses with one bias, so rel32 holds for offsets too.
func callReturn(t *testing.T, f *elf.File, data []byte, target uint64) uint64 {
	t.Helper()
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		for off := p.Off; off+5 <= p.Off+p.Filesz; off++ {
			if data[off] != 0xe8 {
				continue
			}
			rel := int32(binary.LittleEndian.Uint32(data[off+1:]))
			if uint64(int64(off+5)+int64(rel)) == target {
				return off + 5
			}
		}
	}
	t.Fatal("found no call to alpha_function")
	return 0
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestCacheBounds symbolizes, twice over, three times as many distinct
// binaries as the Symbolizer may keep: it keeps no more binaries and open
// files than its bounds allow, reads dropped binaries again, and every
// lookup (and every instruction read, from files closed to stay within the
// bound) still comes out right.
func TestCacheBounds(t *testing.T) {
	const maxBinaries, maxFiles = 4, 2
	bins := distinctBinaries(t, 3*maxBinaries)
	s := New()
	s.MaxBinaries, s.MaxOpenFiles = maxBinaries, maxFiles
	defer s.Close()
	fds := openFDs(t)
	p := s.NewProcess(os.Getpid())
	for _, b := range bins {
		p.Map(Mapping{Start: b.base, Limit: b.base + b.size, Path: b.path, Inode: b.ino})
	}
	for round := range 2 {
		for i, b := range bins {
			m, frames := p.Lookup(b.base + b.alpha)
			if m == nil || m.BuildID != b.buildID || len(frames) != 1 || !strings.Contains(frames[0].Function, "alpha_function") {
				t.Fatalf("round %d, binary %d: Lookup = %+v, %+v; want alpha_function in build %s", round, i, m, frames, b.buildID)
			}
			// Read an instruction of a binary used a while ago: its file was
			// closed, and is opened again.
			old := bins[(i+len(bins)-maxFiles)%len(bins)]
			if !p.CallsInto(old.base+old.ret, old.base+old.alpha) {
				t.Errorf("round %d: CallsInto(main's call to alpha_function) in binary %s = false", round, old.path)
			}
			s.mu.Lock()
			kept, open, cached := len(s.all), s.openFiles, s.byID[b.buildID] != nil
			s.mu.Unlock()
			if kept > maxBinaries || open > maxFiles || !cached {
				t.Errorf("round %d, binary %d: %d binaries kept, %d files open, this one kept: %v; want at most %d, %d, true", round, i, kept, open, cached, maxBinaries, maxFiles)
			}
			if n := openFDs(t) - fds; n > maxFiles {
				t.Errorf("round %d, binary %d: %d more descriptors open than before, want at most %d", round, i, n, maxFiles)
			}
		}
	}
}

// TestCacheConcurrentUse looks up the same distinct binaries from several
// goroutines, each with its own model, while the small cache drops and
// reads binaries and closes and reopens files under them (run with -race).
func TestCacheConcurrentUse(t *testing.T) {
	bins := distinctBinaries(t, 6)
	s := New()
	s.MaxBinaries, s.MaxOpenFiles = 2, 1
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan string, 4*2*len(bins))
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := s.NewProcess(os.Getpid())
			for _, b := range bins {
				p.Map(Mapping{Start: b.base, Limit: b.base + b.size, Path: b.path, Inode: b.ino})
			}
			for i := range 2 * len(bins) {
				b := bins[(i*(g+1))%len(bins)]
				if _, frames := p.Lookup(b.base + b.alpha); len(frames) != 1 || !strings.Contains(frames[0].Function, "alpha_function") {
					errs <- fmt.Sprintf("goroutine %d: Lookup in %s = %+v", g, b.path, frames)
				}
				p.CallsInto(b.base+b.ret, b.base+b.alpha) // may race a close: then false, asked again later
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) > 2 || s.openFiles > 1 {
		t.Errorf("%d binaries kept, %d files open; want at most 2 and 1", len(s.all), s.openFiles)
	}
}
