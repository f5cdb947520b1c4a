// Command otel links traces to profiles: spans started through a tracer
// provider wrapped by github.com/grafana/otel-profiling-go put span_id,
// span_name and trace_id pprof labels on the goroutine, so every CPU sample
// taken inside a span carries them. Grafana shows a span's profile from the
// trace view; with the files written here (a new directory under
// ./profiles unless PYROSCOPE_SERVER_ADDRESS is set), pprof does:
//
//	cd examples/otel && go run .
//	go tool pprof -tagfocus span_name=checkout -top profiles/run-*/example.otel/cpu_*.pb.gz
//
// The example records its spans in memory; a real service passes its own
// exporter to sdktrace.NewTracerProvider.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	otelpyroscope "github.com/grafana/otel-profiling-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
	"github.com/pyroscope-sdk/pyroscope-go/examples/internal/workload"
)

func main() {
	duration := flag.Duration("duration", 6*time.Second, "how long to run spans")
	flag.Parse()

	address, dir, err := workload.Output()
	if err != nil {
		log.Fatal(err)
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: "example.otel",
		ServerAddress:   address, // "": PYROSCOPE_SERVER_ADDRESS
		UploadRate:      2 * time.Second,
		ProfileTypes:    []pyroscope.ProfileType{pyroscope.ProfileCPU},
	})
	if err != nil {
		log.Fatal(err)
	}

	spans := tracetest.NewSpanRecorder()
	tp := otelpyroscope.NewTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	tracer := tp.Tracer("example.otel")
	var sink [32]byte
	for deadline := time.Now().Add(*duration); time.Now().Before(deadline); {
		ctx, span := tracer.Start(context.Background(), "checkout")
		sink = checkout(ctx, sink)
		span.End()
	}

	if err := p.Stop(); err != nil {
		log.Fatal(err)
	}
	ended := spans.Ended()
	fmt.Printf("ran %d checkout spans (checksum %x)\n", len(ended), sink[:4])
	if len(ended) > 0 {
		id := ended[len(ended)-1].SpanContext().SpanID()
		workload.Report("example.otel", dir, "-top -tagfocus span_name=checkout %s/cpu_*.pb.gz",
			fmt.Sprintf("-top -tagfocus span_id=%s %%s/cpu_*.pb.gz", id))
	}
}

// checkout is the work done inside a span: its CPU samples carry the span's
// labels.
func checkout(ctx context.Context, seed [32]byte) [32]byte {
	return workload.HashHeavy(seed)
}
