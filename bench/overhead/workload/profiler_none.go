//go:build !ours && !peer

package main

// The baseline: the same workload with no profiler, so that every CPU second
// and byte of heap above it is the SDK's.

const variant = "none"

func startProfiler(profilerOptions) (stop func() error, err error) {
	return func() error { return nil }, nil
}
