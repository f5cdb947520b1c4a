// withsdk links the SDK and takes all its configuration from PYROSCOPE_*
// variables, as a program run under "pyroscope exec" does. It allocates in
// main.allocHeavy and spins in main.spinHeavy.
package main

import (
	"fmt"
	"os"
	"time"

	pyroscope "github.com/pyroscope-sdk/pyroscope-go"
)

var sink []byte
var sum uint64

//go:noinline
func allocHeavy() {
	for range 2000 {
		sink = make([]byte, 64<<10)
	}
}

//go:noinline
func spinHeavy(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for i := range 100000 {
			sum += uint64(i)
		}
	}
}

func main() {
	fmt.Printf("withsdk: PYROSCOPE_PROFILE_TYPES=%s\n", os.Getenv("PYROSCOPE_PROFILE_TYPES"))
	p, err := pyroscope.Start(pyroscope.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "withsdk:", err)
		os.Exit(1)
	}
	for range 3 {
		allocHeavy()
		spinHeavy(300 * time.Millisecond)
	}
	if err := p.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "withsdk:", err)
		os.Exit(1)
	}
	fmt.Println("withsdk: done")
}
