module github.com/pyroscope-sdk/pyroscope-go/examples/otel

go 1.25.0

require (
	github.com/google/pprof v0.0.0-20260902005441-ca85771921e4
	github.com/grafana/otel-profiling-go v0.7.0
	github.com/pyroscope-sdk/pyroscope-go v0.0.0
	go.opentelemetry.io/otel/sdk v1.46.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.46.0 // indirect
	go.opentelemetry.io/otel/metric v1.46.0 // indirect
	go.opentelemetry.io/otel/trace v1.46.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/pyroscope-sdk/pyroscope-go => ../..
