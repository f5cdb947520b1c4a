// Package pprofenc writes the collectors' windows as gzipped pprof
// (profile.proto): a Builder encodes one profile at a time from samples
// whose stacks are location IDs, and Symbols resolves each program counter
// once per process, not once per profile, and keeps the locations,
// functions and mappings the profiles share.
package pprofenc
