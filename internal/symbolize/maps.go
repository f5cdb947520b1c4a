package symbolize

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A Mapping is one executable region of a process's address space, as
// /proc/PID/maps lists it or a PERF_RECORD_MMAP2 record announces it.
type Mapping struct {
	Start, Limit uint64 // runtime addresses [Start, Limit)
	Offset       uint64 // file offset mapped at Start
	Path         string // path inside the process's mount namespace, or "[vdso]" and the like
	Inode        uint64 // 0 when unknown or anonymous
	// Deleted says the file was unlinked after it was mapped ("(deleted)"
	// in /proc/PID/maps, stripped from Path): its path names another file
	// or none, and only the mapping itself still reads it.
	Deleted bool
	// BuildID is the GNU build ID in hex, or the Go build ID when the file has
	// no GNU one; empty until the file has been read, and for anonymous memory.
	BuildID string
}

// File reports whether the mapping is backed by a file on disk (not [vdso],
// [stack], anonymous JIT memory...).
func (m *Mapping) File() bool {
	return strings.HasPrefix(m.Path, "/") && (m.Inode != 0 || m.BuildID != "")
}

// ReadMaps returns the executable mappings of pid, ordered by address, from
// /proc/PID/maps. It is the module's one reader of that file: the perf
// sampler takes a process's starting state from it, and the SDK names its
// own mappings with it (pid = os.Getpid()).
func ReadMaps(pid int) ([]Mapping, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("symbolize: reading memory map of pid %d: %w", pid, err)
	}
	return parseMaps(data)
}

// parseMaps parses the text of /proc/PID/maps, keeping executable regions:
//
//	55d0c8a00000-55d0c8a6b000 r-xp 00001000 fd:01 1234  /usr/bin/prog
func parseMaps(data []byte) ([]Mapping, error) {
	var maps []Mapping
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		m, ok, err := parseMapsLine(sc.Text())
		if err != nil {
			return nil, err
		}
		if ok {
			maps = append(maps, m)
		}
	}
	return maps, sc.Err()
}

// parseMapsLine parses one line of /proc/PID/maps; ok is false for regions
// that are not executable.
func parseMapsLine(line string) (m Mapping, ok bool, err error) {
	fields := strings.Fields(line)
	if len(fields) < 5 || len(fields[1]) < 3 || fields[1][2] != 'x' {
		return m, false, nil
	}
	start, limit, found := strings.Cut(fields[0], "-")
	if !found {
		return m, false, fmt.Errorf("symbolize: bad address range %q in maps", fields[0])
	}
	var err1, err2, err3, err4 error
	m.Start, err1 = strconv.ParseUint(start, 16, 64)
	m.Limit, err2 = strconv.ParseUint(limit, 16, 64)
	m.Offset, err3 = strconv.ParseUint(fields[2], 16, 64)
	m.Inode, err4 = strconv.ParseUint(fields[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return m, false, fmt.Errorf("symbolize: bad maps line %q", line)
	}
	// The path may contain spaces: it is everything after the fifth field,
	// the inode. (Searching for the path's first word instead can find it
	// earlier in the line: "0" is also in most address ranges.)
	rest := line
	for range 5 {
		rest = strings.TrimLeft(rest, " \t")
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return m, true, nil // anonymous
		}
		rest = rest[i:]
	}
	m.Path = strings.TrimSpace(rest)
	if p, gone := strings.CutSuffix(m.Path, " (deleted)"); gone {
		m.Path, m.Deleted = p, true
	}
	return m, true, nil
}
