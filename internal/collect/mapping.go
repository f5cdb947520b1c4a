package collect

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"os"
	"strconv"
	"strings"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

// readMappings lists the executable mappings of this process with their ELF
// build IDs, as runtime/pprof does, so go tool pprof can match the profile
// to its binary. Outside Linux, or when /proc is not mounted, it returns none.
func readMappings() []pprofenc.Mapping {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out []pprofenc.Mapping
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		if m, ok := parseMapsLine(string(line)); ok {
			m.BuildID = gnuBuildID(m.File)
			out = append(out, m)
		}
	}
	return out
}

// parseMapsLine reads one line of /proc/self/maps, keeping executable
// mappings that have a name.
func parseMapsLine(line string) (pprofenc.Mapping, bool) {
	var m pprofenc.Mapping
	fields := strings.Fields(line)
	if len(fields) < 6 || len(fields[1]) < 4 || fields[1][2] != 'x' {
		return m, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, false
	}
	var err1, err2, err3 error
	m.Start, err1 = strconv.ParseUint(lo, 16, 64)
	m.Limit, err2 = strconv.ParseUint(hi, 16, 64)
	m.Offset, err3 = strconv.ParseUint(fields[2], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return m, false
	}
	// The path may contain spaces: it is everything after the fifth
	// field, the inode. (Searching for the inode's text instead finds it
	// inside the address range: "0" is the inode of [vdso].)
	rest := line
	for range 5 {
		rest = strings.TrimLeft(rest, " \t")
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return m, false
		}
		rest = rest[i:]
	}
	m.File = strings.TrimSuffix(strings.TrimSpace(rest), " (deleted)")
	return m, m.File != ""
}

// gnuBuildID returns the hex GNU build ID note of an ELF file, or "".
func gnuBuildID(file string) string {
	if !strings.HasPrefix(file, "/") {
		return ""
	}
	f, err := elf.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id := findGNUBuildID(data, f.ByteOrder); id != "" {
			return id
		}
	}
	return ""
}

// findGNUBuildID walks ELF notes (namesz, descsz, type, name, desc, each
// padded to 4 bytes) for the NT_GNU_BUILD_ID note of owner "GNU".
func findGNUBuildID(data []byte, order interface{ Uint32([]byte) uint32 }) string {
	const ntGNUBuildID = 3
	for len(data) >= 12 {
		namesz, descsz, typ := order.Uint32(data), order.Uint32(data[4:]), order.Uint32(data[8:])
		data = data[12:]
		nameEnd := int(namesz+3) &^ 3
		descEnd := nameEnd + int(descsz+3)&^3
		if nameEnd > len(data) || descEnd > len(data) {
			return ""
		}
		if typ == ntGNUBuildID && string(data[:namesz]) == "GNU\x00" {
			return hex.EncodeToString(data[nameEnd : nameEnd+int(descsz)])
		}
		data = data[descEnd:]
	}
	return ""
}
