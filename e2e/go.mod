module github.com/pyroscope-sdk/pyroscope-go/e2e

go 1.25.0

require (
	github.com/google/pprof v0.0.0-20260902005441-ca85771921e4
	github.com/pyroscope-sdk/pyroscope-go v0.0.0
	go.uber.org/goleak v1.3.0
)

require github.com/klauspost/compress v1.20.3 // indirect

replace github.com/pyroscope-sdk/pyroscope-go => ../

// internal/discover, which e2e tests, uses x/sys/unix.
require golang.org/x/sys v0.47.0 // indirect
