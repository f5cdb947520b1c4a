// Command push sends its profiles to a Grafana Pyroscope server through the
// push API (push.v1.PusherService/Push), labelled as Grafana Alloy labels
// them: service_name, __name__, and the tags. It needs a server:
//
//	PYROSCOPE_SERVER_ADDRESS=http://localhost:4040 go run ./examples/push
//	PYROSCOPE_SERVER_ADDRESS=https://profiles-prod-001.grafana.net \
//	  PYROSCOPE_BASIC_AUTH_USER=123456 PYROSCOPE_BASIC_AUTH_PASSWORD=glc_... go run ./examples/push
//
// Then query it as {service_name="example.push"} in Grafana or Pyroscope's
// UI.
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
		fmt.Fprintln(os.Stderr, "push: set PYROSCOPE_SERVER_ADDRESS to a Grafana Pyroscope server, e.g. PYROSCOPE_SERVER_ADDRESS=http://localhost:4040 (and PYROSCOPE_AUTH_TOKEN or PYROSCOPE_BASIC_AUTH_USER/PASSWORD if it asks)")
		os.Exit(2)
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: "example.push",
		Protocol:        "push", // the server comes from PYROSCOPE_SERVER_ADDRESS
		Tags:            map[string]string{"env": "dev"},
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
	workload.Report("example.push", "")
}
