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
// /proc/PID/maps lists it.
type Mapping struct {
	Start, Limit uint64 // runtime addresses [Start, Limit)
	Offset       uint64 // file offset mapped at Start
	Path         string // path inside the process's mount namespace, or "[vdso]" and the like
	Inode        uint64
	// BuildID is the GNU build ID in hex, or the Go build ID when the file has
	// no GNU one; empty until the file has been read, and for anonymous memory.
	BuildID string
}

// File reports whether the mapping is backed by a file on disk (not [vdso],
// [stack], anonymous JIT memory...).
func (m *Mapping) File() bool {
	return m.Inode != 0 && strings.HasPrefix(m.Path, "/")
}

// readMaps returns the executable mappings of pid, ordered by address.
func readMaps(pid int) ([]Mapping, error) {
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
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if len(fields[1]) < 3 || fields[1][2] != 'x' {
			continue
		}
		start, limit, ok := strings.Cut(fields[0], "-")
		if !ok {
			return nil, fmt.Errorf("symbolize: bad address range %q in maps", fields[0])
		}
		var m Mapping
		var err1, err2, err3, err4 error
		m.Start, err1 = strconv.ParseUint(start, 16, 64)
		m.Limit, err2 = strconv.ParseUint(limit, 16, 64)
		m.Offset, err3 = strconv.ParseUint(fields[2], 16, 64)
		m.Inode, err4 = strconv.ParseUint(fields[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("symbolize: bad maps line %q", sc.Text())
		}
		if len(fields) >= 6 {
			// Paths may contain spaces; everything after the inode is the path.
			line := sc.Text()
			idx := strings.Index(line, fields[5])
			m.Path = line[idx:]
		}
		maps = append(maps, m)
	}
	return maps, sc.Err()
}
