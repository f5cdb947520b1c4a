// Command gosplit spends its CPU about 70/30 in main.heavyWork and
// main.lightWork, which run the same loop body (main.mix, inlined) 7 and 3
// times as often. Each cycle's length varies (1 to 6 times a base, chosen
// from the work's own state), so that no sampling period can fall into step
// with it. It prints "ready" and exits when stdin closes.
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
func heavyWork(x uint64, n int) uint64 {
	for i := 0; i < 7*n; i++ {
		x = mix(x)
	}
	return x
}

//go:noinline
func lightWork(x uint64, n int) uint64 {
	for i := 0; i < 3*n; i++ {
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
		n := 30_000 * (1 + int(x%6))
		x = heavyWork(x, n)
		x = lightWork(x, n)
		sink = x
	}
}
