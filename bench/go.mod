module github.com/pyroscope-sdk/pyroscope-go/bench

go 1.25.0

require (
	github.com/google/pprof v0.0.0-20260902005441-ca85771921e4
	github.com/grafana/pyroscope-go v1.4.3
	github.com/grafana/pyroscope-go/godeltaprof v0.1.12
	github.com/pyroscope-sdk/pyroscope-go v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/pyroscope-sdk/pyroscope-go => ../
