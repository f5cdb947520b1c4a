// Command gotree prints "ready", waits for a line on stdin, then starts a
// copy of itself as a child process that burns CPU in main.childWork while
// the parent burns it in main.parentWork. Both exit when stdin closes.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
)

var sink uint64

//go:noinline
func burn(x uint64) uint64 {
	for {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		sink = x
	}
}

//go:noinline
func parentWork() { burn(1) }

//go:noinline
func childWork() { burn(2) }

func main() {
	in := bufio.NewReader(os.Stdin)
	if len(os.Args) > 1 && os.Args[1] == "child" {
		go func() { in.ReadString('\n'); os.Exit(0) }()
		childWork()
	}
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return
	}
	child := exec.Command(os.Args[0], "child")
	child.Stdin = in // the child exits when our stdin closes
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("started", child.Process.Pid)
	go func() { child.Wait(); os.Exit(0) }()
	parentWork()
}
