package collect

import (
	"os"
	"strings"
	"testing"
)

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
