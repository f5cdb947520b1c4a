// withsdk links the SDK and takes all its configuration from PYROSCOPE_*
// variables, as a program run under "pyroscope exec" does. It allocates in
// main.allocHeavy and spins in main.spinHeavy; with -hold it then waits for
// SIGUSR1 before it stops the SDK.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
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
	hold := flag.Bool("hold", false, "after the work, wait for SIGUSR1 before stopping")
	flag.Parse()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
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
	if *hold {
		fmt.Println("withsdk: holding")
		<-usr1
	}
	if err := p.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "withsdk:", err)
		os.Exit(1)
	}
	fmt.Println("withsdk: done")
}
