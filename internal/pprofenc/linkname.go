package pprofenc

import (
	"runtime"
	_ "unsafe" // for go:linkname
)

// The runtime keeps these for profilers (see the "hall of shame" notes next
// to their definitions in runtime/symtab.go); runtime/pprof uses them to
// write the same frames. TestSymbolsOfInlinedStack here and
// collect.TestRuntimeRecordsMatchPprof (frame by frame against runtime/pprof)
// fail if a runtime changes what they return.

//go:linkname frameStartLine runtime/pprof.runtime_FrameStartLine
func frameStartLine(f *runtime.Frame) int

//go:linkname frameSymbolName runtime/pprof.runtime_FrameSymbolName
func frameSymbolName(f *runtime.Frame) string

//go:linkname expandFinalInlineFrame runtime/pprof.runtime_expandFinalInlineFrame
func expandFinalInlineFrame(stk []uintptr) []uintptr
