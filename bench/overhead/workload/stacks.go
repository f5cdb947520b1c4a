package main

// Distinct call stacks from an integer: walk(code, depth, leaf) calls leaf
// at the end of a chain of depth calls, each one of four functions chosen by
// two bits of code. Codes below 4^depth give pairwise different stacks, so a
// loop over n codes produces n distinct stacks in every profile that records
// where leaf ran.

// depthFor returns the smallest depth whose 4^depth codes cover n stacks.
func depthFor(n int) int {
	d := 1
	for c := 4; c < n; c *= 4 {
		d++
	}
	return d
}

// walk calls leaf through the chain of calls encoded by code.
func walk(code uint32, depth int, leaf func()) {
	if depth == 0 {
		leaf()
		return
	}
	switch code & 3 {
	case 0:
		stepA(code>>2, depth-1, leaf)
	case 1:
		stepB(code>>2, depth-1, leaf)
	case 2:
		stepC(code>>2, depth-1, leaf)
	default:
		stepD(code>>2, depth-1, leaf)
	}
}

// The four steps are the same code in four functions so that each has its
// own program counters; noinline keeps them as frames of their own.

//go:noinline
func stepA(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }

//go:noinline
func stepB(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }

//go:noinline
func stepC(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }

//go:noinline
func stepD(code uint32, depth int, leaf func()) { walk(code, depth, leaf) }
