// Package leaktest checks that tests leave no goroutine running: the SDK
// promises that none outlives Stop. It reads runtime.Stack of every
// goroutine and retries for a while, since a goroutine that is ending may
// still be listed for a moment. Only tests import it; it keeps the SDK's
// module graph free of a third-party leak checker and its dependencies.
package leaktest

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// settle is how long a check waits for goroutines that are ending.
var settle = 5 * time.Second

// ignoredTops are functions that a goroutine of the runtime, the testing
// package or os/signal sits in for the life of the process.
var ignoredTops = []string{
	"testing.RunTests",
	"testing.(*T).Run",
	"testing.(*T).Parallel",
	"testing.(*M).startAlarm",
	"testing.runFuzzing",
	"os/signal.signal_recv",
	"os/signal.loop",
	"runtime.goexit",
	"runtime.ensureSigM",
}

// A goroutine is one entry of runtime.Stack's listing.
type goroutine struct {
	id    int
	top   string // function the goroutine runs now
	stack string // the whole entry, for the report
	funcs []string
}

func (g goroutine) runs(fn string) bool { return slices.Contains(g.funcs, fn) }

// all lists every goroutine but the caller's.
func all() []goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for i, entry := range bytes.Split(buf, []byte("\n\n")) {
		if i == 0 {
			continue // the caller's own goroutine comes first
		}
		if g, ok := parse(string(entry)); ok {
			out = append(out, g)
		}
	}
	return out
}

// parse reads one entry: "goroutine 7 [chan receive]:", then a function
// line and a file line per frame, then maybe "created by ...".
func parse(entry string) (goroutine, bool) {
	lines := strings.Split(strings.TrimSpace(entry), "\n")
	head, ok := strings.CutPrefix(lines[0], "goroutine ")
	if !ok {
		return goroutine{}, false
	}
	id, _, _ := strings.Cut(head, " ")
	g := goroutine{stack: entry}
	g.id, _ = strconv.Atoi(id)
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by ") {
			continue
		}
		fn := l
		if i := strings.LastIndex(fn, "("); i > 0 {
			fn = fn[:i]
		}
		g.funcs = append(g.funcs, fn)
	}
	if len(g.funcs) > 0 {
		g.top = g.funcs[0]
	}
	return g, true
}

// leaked returns the goroutines not in known (by ID) whose stack holds no
// ignored function and whose top is not one of the ever-present ones.
func leaked(known map[int]bool, ignore []string) []goroutine {
	var out []goroutine
	for _, g := range all() {
		if known[g.id] || slices.Contains(ignoredTops, g.top) || slices.ContainsFunc(ignore, g.runs) {
			continue
		}
		out = append(out, g)
	}
	return out
}

// find waits up to settle for the leaks to end and describes those left.
func find(known map[int]bool, ignore []string) error {
	deadline := time.Now().Add(settle)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		gs := leaked(known, ignore)
		if len(gs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "%d goroutines still running after %v:", len(gs), settle)
			for _, g := range gs {
				b.WriteString("\n\n" + g.stack)
			}
			return fmt.Errorf("%s", b.String())
		}
		time.Sleep(wait) // goroutines that are ending need the scheduler
	}
}

// Find reports the goroutines running now, but for those whose stack holds
// one of the ignore functions (full names, as in a traceback), after letting
// ending goroutines end.
func Find(ignore ...string) error { return find(nil, ignore) }

// VerifyTestMain runs the tests and fails the run when goroutines other
// than the ignored ones are left at the end.
func VerifyTestMain(m *testing.M, ignore ...string) {
	code := m.Run()
	if code == 0 {
		if err := find(nil, ignore); err != nil {
			fmt.Fprintf(os.Stderr, "leaktest: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Known is the set of goroutines running at one moment, by ID.
type Known map[int]bool

// Current returns the goroutines running now, but the caller's.
func Current() Known {
	k := Known{}
	for _, g := range all() {
		k[g.id] = true
	}
	return k
}

// Since reports the goroutines started since k was taken that are still
// running, but for those whose stack holds one of the ignore functions,
// after letting ending goroutines end.
func (k Known) Since(ignore ...string) error { return find(k, ignore) }

// Check remembers the goroutines running now and fails t, when it ends, if
// others are left, but for those whose stack holds one of the ignore
// functions. Call it first in a test, so that its cleanup runs last.
func Check(t testing.TB, ignore ...string) {
	known := Current()
	t.Cleanup(func() {
		if err := known.Since(ignore...); err != nil {
			t.Error(err)
		}
	})
}
