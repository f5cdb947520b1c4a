// Package conformance holds the tests that check the SDK's wire protocols
// against the servers' own libraries: Pyroscope's push service as generated
// in github.com/grafana/pyroscope/api (connect-go), and a gRPC server
// (grpc-go) decoding Parca's WriteRaw with its published descriptor.
//
// It is a module of its own, so that those libraries never enter the SDK's
// module graph; `make test` runs it. It has no code of its own besides this
// comment: everything is in its _test.go files.
package conformance
