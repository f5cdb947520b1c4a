// pprofserver serves net/http/pprof on 127.0.0.1 and, on GET /work, does a
// known amount of allocation, mutex contention and blocking in named
// functions, answering when it is done. Every allocation is recorded
// (MemProfileRate 1), so the heap profile's counts are exact.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func init() { runtime.MemProfileRate = 1 }

var sink []byte

//go:noinline
func allocWork(n int) {
	for range n {
		sink = make([]byte, 4096)
	}
}

//go:noinline
func contendWork(rounds int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				mu.Lock()
				time.Sleep(20 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

//go:noinline
func blockWork(rounds int) {
	ch := make(chan int)
	go func() {
		for i := range rounds {
			time.Sleep(20 * time.Microsecond)
			ch <- i
		}
		close(ch)
	}()
	for range ch {
	}
}

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.FormValue("n"))
		allocWork(n)
		contendWork(50)
		blockWork(50)
		fmt.Fprintln(w, "done")
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening http://%s\n", l.Addr())
	http.Serve(l, mux)
}
