package collect

import (
	"context"
	"runtime/pprof"
	"sync"
	"testing"
	"time"
)

//go:noinline
func parkHere(started *sync.WaitGroup, release <-chan struct{}) {
	started.Done()
	<-release
}

func TestGoroutinesCountedExactlyWithLabels(t *testing.T) {
	const plain, labeled = 7, 5
	var started sync.WaitGroup
	release := make(chan struct{})
	var done sync.WaitGroup
	started.Add(plain + labeled)
	done.Add(plain + labeled)
	for range plain {
		go func() { defer done.Done(); parkHere(&started, release) }()
	}
	pprof.Do(context.Background(), pprof.Labels("worker", "indexer", "shard", "7"), func(context.Context) {
		for range labeled {
			go func() { defer done.Done(); parkHere(&started, release) }()
		}
	})
	started.Wait()
	defer done.Wait()
	defer close(release)

	g := NewGoroutines()
	ours := collectOnce(t, g, time.Now(), time.Now())
	theirs := runtimeProfile(t, "goroutine")
	checkHeader(t, ours, theirs)

	var total, withLabels, theirLabels int64
	for _, s := range ours.Sample {
		if !hasFunc(s, ".parkHere") {
			continue
		}
		total += s.Value[0]
		if s.Label["worker"] != nil {
			if s.Label["worker"][0] != "indexer" || s.Label["shard"][0] != "7" {
				t.Errorf("labels %v, want worker=indexer shard=7", s.Label)
			}
			withLabels += s.Value[0]
		}
	}
	for _, s := range theirs.Sample {
		if hasFunc(s, ".parkHere") && s.Label["worker"] != nil {
			theirLabels += s.Value[0]
		}
	}
	if total != plain+labeled || withLabels != labeled || theirLabels != labeled {
		t.Errorf("parkHere goroutines: %d, labeled %d (runtime/pprof labeled %d); want %d and %d", total, withLabels, theirLabels, plain+labeled, labeled)
	}
}
