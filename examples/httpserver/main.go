// Command httpserver is an HTTP service profiled by the SDK, with each
// request's CPU samples labelled by its endpoint through TagWrapper. It
// serves on 127.0.0.1, sends itself requests for a few seconds, stops, and
// says where the profiles went (a new directory under ./profiles unless
// PYROSCOPE_SERVER_ADDRESS is set).
//
//	go run ./examples/httpserver
//
// In Pyroscope, the endpoint label splits the service's CPU flame graph
// by route; with the files, pprof does: go tool pprof -tagfocus
// endpoint=/checkout ...
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	"github.com/pyroscope-sdk/pyroscope-go/examples/internal/workload"
)

// labelled runs h with the pprof label endpoint=path, so that every CPU
// sample taken while a request is served names its route.
func labelled(path string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pyroscope.TagWrapper(r.Context(), pyroscope.Labels("endpoint", path), func(ctx context.Context) {
			h(w, r.WithContext(ctx))
		})
	}
}

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long to send requests")
	flag.Parse()

	address, dir, err := workload.Output()
	if err != nil {
		log.Fatal(err)
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: "example.httpserver",
		ServerAddress:   address, // "": PYROSCOPE_SERVER_ADDRESS
		UploadRate:      2 * time.Second,
		ProfileTypes:    []pyroscope.ProfileType{pyroscope.ProfileCPU, pyroscope.ProfileAllocSpace, pyroscope.ProfileGoroutines},
	})
	if err != nil {
		log.Fatal(err)
	}

	var mu sync.Mutex
	var cache [][]byte
	mux := http.NewServeMux()
	mux.HandleFunc("/checkout", labelled("/checkout", func(w http.ResponseWriter, r *http.Request) {
		sum := workload.HashHeavy([32]byte{1})
		fmt.Fprintf(w, "%x\n", sum[:4])
	}))
	mux.HandleFunc("/search", labelled("/search", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cache = workload.AllocHeavy(cache)
		mu.Unlock()
		fmt.Fprintln(w, "ok")
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)

	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(*duration)
	requests := 0
	for i := 0; time.Now().Before(deadline); i++ {
		path := "/checkout"
		if i%3 == 2 {
			path = "/search"
		}
		resp, err := http.Get(base + path)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		requests++
	}
	srv.Shutdown(context.Background())

	if err := p.Stop(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("served %d requests at %s\n", requests, base)
	workload.Report("example.httpserver", dir, "-tags %s/cpu_*.pb.gz", "-top -tagfocus=endpoint=/checkout %s/cpu_*.pb.gz")
}
