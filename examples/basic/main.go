// Command basic profiles itself for a few seconds while it runs a CPU-heavy
// and an allocation-heavy function, then stops and says where the profiles
// went. With no server configured it writes them to ./profiles.
//
//	go run ./examples/basic
//	PYROSCOPE_SERVER_ADDRESS=http://localhost:4040 go run ./examples/basic
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long to run the workload")
	flag.Parse()

	cfg := pyroscope.Config{
		ApplicationName: "example.basic",
		Tags:            map[string]string{"env": "dev"},
		UploadRate:      2 * time.Second,
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU,
			pyroscope.ProfileAllocObjects, pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace,
			pyroscope.ProfileGoroutines,
			pyroscope.ProfileMutexCount, pyroscope.ProfileMutexDuration,
		},
	}
	dir := ""
	if os.Getenv("PYROSCOPE_SERVER_ADDRESS") == "" && os.Getenv("PYROSCOPE_ADHOC_SERVER_ADDRESS") == "" {
		dir = "profiles"
		cfg.ServerAddress = "file://./" + dir
	}
	p, err := pyroscope.Start(cfg)
	if err != nil {
		log.Fatal(err)
	}

	deadline := time.Now().Add(*duration)
	var sink [32]byte
	var keep [][]byte
	for time.Now().Before(deadline) {
		pyroscope.TagWrapper(context.Background(), pyroscope.Labels("stage", "hash"), func(context.Context) {
			sink = hashHeavy(sink)
		})
		keep = allocHeavy(keep)
	}

	if err := p.Stop(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("checksum %x, %d buffers kept\n", sink[:4], len(keep))
	if dir != "" {
		matches, _ := filepath.Glob(filepath.Join(dir, "example.basic", "*.pb.gz"))
		fmt.Printf("wrote %d profiles to ./%s/example.basic/ (one file per type and window)\n", len(matches), dir)
		fmt.Printf("open the CPU windows together with:\n  go tool pprof -top %s\n",
			filepath.Join(dir, "example.basic", "cpu_*.pb.gz"))
		fmt.Printf("and the heap ones with:\n  go tool pprof -top -sample_index=alloc_space %s\n",
			filepath.Join(dir, "example.basic", "heap_*.pb.gz"))
	}
}

// hashHeavy burns CPU in its own loop: it shows at the top of the CPU profile.
func hashHeavy(seed [32]byte) [32]byte {
	x := binary.LittleEndian.Uint64(seed[:]) | 1
	for range 20_000_000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	binary.LittleEndian.PutUint64(seed[:], x)
	return seed
}

// allocHeavy allocates 256 KiB per call and keeps the last 256 buffers
// alive: it shows at the top of alloc_space and inuse_space.
func allocHeavy(keep [][]byte) [][]byte {
	b := make([]byte, 256<<10)
	b[0] = 1
	keep = append(keep, b)
	if len(keep) > 256 {
		keep = keep[1:]
	}
	return keep
}
