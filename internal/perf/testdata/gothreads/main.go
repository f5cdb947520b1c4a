// Command gothreads prints "ready", waits for a line on stdin, then runs
// three CPU-bound goroutines, each locked to a new OS thread, in
// main.lateWorkerA/B/C. It exits when stdin closes.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
)

var sinks [3]uint64

func spin(i int) {
	runtime.LockOSThread() // a thread of its own, created now
	x := uint64(i + 1)
	for {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		sinks[i] = x
	}
}

//go:noinline
func lateWorkerA() { spin(0) }

//go:noinline
func lateWorkerB() { spin(1) }

//go:noinline
func lateWorkerC() { spin(2) }

func main() {
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return
	}
	go lateWorkerA()
	go lateWorkerB()
	go lateWorkerC()
	fmt.Println("started")
	in.ReadString('\n') // until stdin closes
	os.Exit(0)
}
