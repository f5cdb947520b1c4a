// Command gosplit spends its CPU about 70/30 in main.heavyWork and
// main.lightWork, which run the same loop body (main.mix, inlined) 7 and 3
// times as often. It prints "ready" and exits when stdin closes.
package main

import (
	"fmt"
	"io"
	"os"
)

var sink uint64

func mix(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	return x ^ x<<17
}

//go:noinline
func heavyWork(x uint64) uint64 {
	for i := 0; i < 700_000; i++ {
		x = mix(x)
	}
	return x
}

//go:noinline
func lightWork(x uint64) uint64 {
	for i := 0; i < 300_000; i++ {
		x = mix(x)
	}
	return x
}

func main() {
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println("ready")
	x := uint64(1)
	for {
		x = heavyWork(x)
		x = lightWork(x)
		sink = x
	}
}
