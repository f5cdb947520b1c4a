package collect

import (
	"os"
	"strings"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/pprofenc"
)

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want pprofenc.Mapping
		ok   bool
	}{
		{"00400000-005a0000 r-xp 00000000 fd:01 1234                       /usr/local/bin/app",
			pprofenc.Mapping{Start: 0x400000, Limit: 0x5a0000, File: "/usr/local/bin/app"}, true},
		// The inode 0 also occurs inside the address range.
		{"7f1b42e1b000-7f1b42e1d000 r-xp 00000000 00:00 0                          [vdso]",
			pprofenc.Mapping{Start: 0x7f1b42e1b000, Limit: 0x7f1b42e1d000, File: "[vdso]"}, true},
		{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
			pprofenc.Mapping{Start: 0xffffffffff600000, Limit: 0xffffffffff601000, File: "[vsyscall]"}, true},
		{"7f0000001000-7f0000002000 r-xp 00001000 08:02 42 /opt/my app/lib 1.so (deleted)",
			pprofenc.Mapping{Start: 0x7f0000001000, Limit: 0x7f0000002000, Offset: 0x1000, File: "/opt/my app/lib 1.so"}, true},
		{"7f0000001000-7f0000002000 rw-p 00000000 08:02 42 /usr/lib/libc.so.6", pprofenc.Mapping{}, false}, // not executable
		{"7f0000003000-7f0000004000 r-xp 00000000 00:00 0 ", pprofenc.Mapping{}, false},                    // anonymous
	} {
		got, ok := parseMapsLine(tc.line)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseMapsLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestReadMappingsNamesThisBinary reads this process's own map: the first
// mapping must be the test binary, with its build ID, and no name may carry
// the address range or permissions of its line.
func TestReadMappingsNamesThisBinary(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skipf("no /proc/self/maps here: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ms := readMappings()
	if len(ms) == 0 || ms[0].File != exe || ms[0].BuildID == "" {
		t.Fatalf("first mapping %+v, want %s with a build ID", ms, exe)
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.File, "/") && !strings.HasPrefix(m.File, "[") {
			t.Errorf("mapping named %q: not a path nor a [pseudo] name", m.File)
		}
	}
}
