// Command parca sends its profiles to Parca or Polar Signals Cloud with
// WriteRaw (gRPC). For a local Parca, give its address with http:// for a
// plaintext server; for Polar Signals Cloud, the project's token:
//
//	PYROSCOPE_SERVER_ADDRESS=http://localhost:7070 go run ./examples/parca
//	PYROSCOPE_SERVER_ADDRESS=grpc.polarsignals.com:443 PYROSCOPE_AUTH_TOKEN=eyJ... go run ./examples/parca
//
// Then select the profile type process_cpu (or memory, ...) and
// service_name="example.parca" in Parca's UI.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	"github.com/pyroscope-sdk/pyroscope-go/examples/internal/workload"
)

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long to run the workload")
	flag.Parse()
	if os.Getenv("PYROSCOPE_SERVER_ADDRESS") == "" {
		fmt.Fprintln(os.Stderr, "parca: set PYROSCOPE_SERVER_ADDRESS to a Parca server (http://localhost:7070 for a plaintext one) or grpc.polarsignals.com:443 with PYROSCOPE_AUTH_TOKEN")
		os.Exit(2)
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: "example.parca",
		Protocol:        "parca", // the server comes from PYROSCOPE_SERVER_ADDRESS
		UploadRate:      2 * time.Second,
		ProfileTypes:    []pyroscope.ProfileType{pyroscope.ProfileCPU, pyroscope.ProfileAllocSpace, pyroscope.ProfileInuseSpace},
	})
	if err != nil {
		log.Fatal(err)
	}
	workload.Busy(*duration)
	if err := p.Stop(); err != nil {
		log.Fatal(err)
	}
	workload.Report("example.parca", "")
}
