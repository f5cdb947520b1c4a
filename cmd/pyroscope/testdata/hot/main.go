// hot spends its CPU time in main.hotLoop, prints to stdout, and exits with
// the status it is told, or waits for a signal. Tests run it under the CLI.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

var sum uint64

//go:noinline
func hotLoop(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for i := range 100000 {
			sum += uint64(i) * 2654435761
		}
	}
}

func main() {
	spin := flag.Duration("spin", time.Second, "how long to spin in hotLoop; 0 spins until killed")
	exit := flag.Int("exit", 0, "exit status")
	wait := flag.Bool("wait", false, "after ready, block until killed")
	flag.Parse()
	fmt.Println("hot: ready")
	if *wait {
		for {
			time.Sleep(time.Hour) // until a signal ends the process
		}
	}
	if *spin == 0 {
		for {
			hotLoop(time.Hour)
		}
	}
	hotLoop(*spin)
	fmt.Println("hot: done")
	os.Exit(*exit)
}
