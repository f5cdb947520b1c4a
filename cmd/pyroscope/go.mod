module github.com/pyroscope-sdk/pyroscope-go/cmd/pyroscope

go 1.25.0

require (
	github.com/google/pprof v0.0.0-20260902005441-ca85771921e4
	github.com/pyroscope-sdk/pyroscope-go v0.0.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.47.0
)

// testdata/withsdk, built by the tests in this module, links the SDK's
// encoder; go mod tidy does not see testdata, so keep its requirement.
require github.com/klauspost/compress v1.20.3 // indirect

// The CLI is built from the SDK next to it: in a checkout, its own
// internal packages; see the README on installing a release.
replace github.com/pyroscope-sdk/pyroscope-go => ../..
