// Command target is one process the agent benchmark profiles: it keeps a
// CPU busy in main.burn until killed.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
)

func main() {
	var sum [32]byte
	for i := 0; ; i++ {
		sum = burn(sum)
		if i == -1 {
			fmt.Fprintln(os.Stderr, sum) // keeps the loop's result alive
		}
	}
}

//go:noinline
func burn(seed [32]byte) [32]byte {
	for range 1000 {
		seed = sha256.Sum256(seed[:])
	}
	return seed
}
