//go:build go1.25 && !go1.28 && !pyroscope_publicapi

package pprofenc

import (
	"runtime"
	_ "unsafe" // for go:linkname
)

// The runtime keeps these for profilers (see the "hall of shame" notes next
// to their definitions in runtime/symtab.go, checked against go1.25.14,
// go1.26.11 and go1.27.4); runtime/pprof uses them to write the same frames.
// Other releases build runtime_public.go. TestSymbolsOfInlinedStack here and
// collect.TestRuntimeRecordsMatchPprof (frame by frame against runtime/pprof)
// fail if a runtime changes what they return.

// startLinesKnown says whether functions carry their start line.
const startLinesKnown = true

//go:linkname frameStartLine runtime/pprof.runtime_FrameStartLine
func frameStartLine(f *runtime.Frame) int

//go:linkname frameSymbolName runtime/pprof.runtime_FrameSymbolName
func frameSymbolName(f *runtime.Frame) string

//go:linkname expandFinalInlineFrame runtime/pprof.runtime_expandFinalInlineFrame
func expandFinalInlineFrame(stk []uintptr) []uintptr
