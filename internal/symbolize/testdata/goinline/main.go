// Command goinline prints the logical stack of a call that the compiler
// inlines twice, then waits for stdin to close, so that a test can
// symbolize its addresses from outside and compare with the runtime's view.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
)

var pcs [16]uintptr

func leaf() int { return runtime.Callers(1, pcs[:]) }

func middle() int { return leaf() + 0 }

//go:noinline
func outer() int { return middle() }

func main() {
	n := outer()
	pcs := pcs[:n]
	// One PC per logical frame: for inlined calls the runtime reports the
	// call site's inline mark, which symbolizes to the same frames.
	for _, pc := range pcs {
		fmt.Printf("pc %#x\n", pc)
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		fmt.Printf("frame %s %s %d\n", f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
}
