//go:build !go1.25 || go1.28 || pyroscope_publicapi

package pprofenc

import "runtime"

// What runtime_go125.go reads from the runtime's internals, approximated
// with public API on releases it was not checked against. The SDK's
// collectors do not use this package there (they read runtime/pprof's own
// profiles); it stays usable for other callers, with start lines unknown and
// the symbol name taken from Frame.Function.

// startLinesKnown says whether functions carry their start line.
const startLinesKnown = false

func frameStartLine(*runtime.Frame) int { return 0 }

func frameSymbolName(f *runtime.Frame) string { return f.Function }

func expandFinalInlineFrame(stk []uintptr) []uintptr { return stk }
