// Package workload holds what the examples profile and where they write: a
// CPU-heavy and an allocation-heavy function, and the choice between the
// server named in the environment and a fresh directory for this run.
package workload

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// HashHeavy burns CPU in its own loop: it shows at the top of the CPU
// profile.
//
//go:noinline
func HashHeavy(seed [32]byte) [32]byte {
	x := binary.LittleEndian.Uint64(seed[:]) | 1
	for range 20_000_000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	binary.LittleEndian.PutUint64(seed[:], x)
	return seed
}

// AllocHeavy allocates 256 KiB per call and keeps the last 256 buffers
// alive: it shows at the top of alloc_space and inuse_space.
//
//go:noinline
func AllocHeavy(keep [][]byte) [][]byte {
	b := make([]byte, 256<<10)
	b[0] = 1
	keep = append(keep, b)
	if len(keep) > 256 {
		keep = keep[1:]
	}
	return keep
}

// Busy runs HashHeavy and AllocHeavy in turn for d.
func Busy(d time.Duration) {
	var sink [32]byte
	var keep [][]byte
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		sink = HashHeavy(sink)
		keep = AllocHeavy(keep)
	}
}

// Output says where an example's profiles go. When PYROSCOPE_SERVER_ADDRESS
// (or PYROSCOPE_ADHOC_SERVER_ADDRESS) is set, the SDK reads it: address is
// "" and dir is "". Otherwise both name a new directory under ./profiles,
// one per run, so that a second run does not mix its windows with the
// first's.
func Output() (address, dir string, err error) {
	if env := server(); env != "" {
		return "", "", nil
	}
	dir = filepath.Join("profiles", "run-"+time.Now().Format("20060102T150405.000"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("making the output directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	return "file://" + abs, dir, nil
}

func server() string {
	if a := os.Getenv("PYROSCOPE_ADHOC_SERVER_ADDRESS"); a != "" {
		return a
	}
	return os.Getenv("PYROSCOPE_SERVER_ADDRESS")
}

// Report prints where the profiles of app went and, for a directory, how to
// open them: each view is go tool pprof's arguments, with %s for the
// directory; pprof merges the windows given together.
func Report(app, dir string, views ...string) {
	if dir == "" {
		fmt.Printf("sent the profiles of %s to %s\n", app, server())
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, app, "*.pb.gz"))
	fmt.Printf("wrote %d profiles to %s (one file per type and window)\n", len(files), filepath.Join(dir, app))
	for _, v := range views {
		fmt.Printf("  go tool pprof %s\n", fmt.Sprintf(v, filepath.Join(dir, app)))
	}
}
