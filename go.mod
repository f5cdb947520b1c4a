module github.com/pyroscope-sdk/pyroscope-go

go 1.25.0

require (
	github.com/google/pprof v0.0.0-20260902005441-ca85771921e4
	github.com/klauspost/compress v1.20.3
	golang.org/x/sys v0.47.0
)
