// Command basic profiles itself for a few seconds while it runs a CPU-heavy
// and an allocation-heavy function, then stops and says where the profiles
// went. With no server configured it writes them to a new directory under
// ./profiles.
//
//	go run ./examples/basic
//	PYROSCOPE_SERVER_ADDRESS=http://localhost:4040 go run ./examples/basic
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	"github.com/pyroscope-sdk/pyroscope-go/examples/internal/workload"
)

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long to run the workload")
	flag.Parse()

	address, dir, err := workload.Output()
	if err != nil {
		log.Fatal(err)
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: "example.basic",
		ServerAddress:   address, // "": PYROSCOPE_SERVER_ADDRESS
		Tags:            map[string]string{"env": "dev"},
		UploadRate:      2 * time.Second,
		ProfileTypes: []pyroscope.ProfileType{
			pyroscope.ProfileCPU,
			pyroscope.ProfileAllocObjects, pyroscope.ProfileAllocSpace,
			pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace,
			pyroscope.ProfileGoroutines,
			pyroscope.ProfileMutexCount, pyroscope.ProfileMutexDuration,
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	deadline := time.Now().Add(*duration)
	var sink [32]byte
	var keep [][]byte
	for time.Now().Before(deadline) {
		pyroscope.TagWrapper(context.Background(), pyroscope.Labels("stage", "hash"), func(context.Context) {
			sink = workload.HashHeavy(sink)
		})
		keep = workload.AllocHeavy(keep)
	}

	if err := p.Stop(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("checksum %x, %d buffers kept\n", sink[:4], len(keep))
	workload.Report("example.basic", dir, "-top %s/cpu_*.pb.gz", "-top -sample_index=alloc_space %s/heap_*.pb.gz")
}
