package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/discover/discovertest"
)

// A target whose code runs in a library the symbolizer must refuse (grown
// past its 4 GiB file-size limit, as a hostile container could make it):
// the agent says so in one warning, keeps sampling and sending the target,
// names the frames of the files it may read, and leaves the refused
// library's frames as addresses.
func TestAgentReportsARefusedFileOnce(t *testing.T) {
	needSystemPerf(t)
	m := writableCgroups(t)
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: the test builds a C program and a library")
	}
	dir := t.TempDir()
	lib, prog := filepath.Join(dir, "libbig.so"), filepath.Join(dir, "cdlopen")
	for _, args := range [][]string{
		{"-O1", "-fno-omit-frame-pointer", "-shared", "-fPIC", "-o", lib, "testdata/cdlopen/lib.c"},
		{"-O1", "-fno-omit-frame-pointer", "-o", prog, "testdata/cdlopen/main.c", "-ldl"},
	} {
		if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	// Sparse: the loader maps only the library's segments at its start.
	if err := os.Truncate(lib, 4<<30+4096); err != nil {
		t.Skipf("cannot grow a sparse file here: %v", err)
	}

	unit := "ptest-big-" + randomHex(4) + ".service"
	startIn(t, discovertest.MakeCgroup(t, m.Unified, "/system.slice/"+unit), prog, lib)
	srv := newIngestServer(t)
	agent := startCLI(t, nil, "agent", "--node=test", "--kubernetes=false", "--systemd-units="+unit,
		"--server-address", srv.URL, "--upload-rate", "1s")
	srv.waitFor(t, "three windows of the target with its main named", func(rs []received) bool {
		n := 0
		for _, rc := range byKind(rs, "cpu") {
			if strings.Contains(rc.name, unit) && sumFor(rc.prof, "samples", "main") > 0 {
				n++
			}
		}
		return n >= 3
	})
	stopAgent(t, agent)

	var warnings []string
	for _, line := range strings.Split(agent.stderr.String(), "\n") {
		if strings.Contains(line, "libbig.so") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "limit") || !strings.Contains(warnings[0], "warning") {
		t.Errorf("want one warning naming libbig.so and the limit, got %d lines:\n%s", len(warnings), strings.Join(warnings, "\n"))
	}
	for _, rc := range byKind(srv.received(), "cpu") {
		if sumFor(rc.prof, "samples", "lib_spin") > 0 {
			t.Errorf("%s: lib_spin named from a file over the limit", rc.name)
		}
	}
}
