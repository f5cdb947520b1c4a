package pull

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// gzipBomb returns about 1 MiB of gzip that inflates to 1 GiB of zeros:
// 1024 members of 1 MiB each, which gzip readers concatenate.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	return bytes.Repeat(member.Bytes(), 1024)
}

// An endpoint that answers every profile with a gzip bomb is refused with
// one line naming it, and the puller's memory stays near the limit instead
// of the gigabyte the bomb inflates to.
func TestGzipBombIsRefused(t *testing.T) {
	bomb := gzipBomb(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bomb)
	}))
	defer srv.Close()
	p, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err = p.Probe(context.Background())
	runtime.ReadMemStats(&after)

	if err == nil || !strings.Contains(err.Error(), "larger than 128 MiB once decompressed") || !strings.Contains(err.Error(), srv.URL+"/debug/pprof/goroutine") {
		t.Fatalf("Probe = %v, want a refusal naming the endpoint and the limit", err)
	}
	// The bomb is measured before anything is kept: what the puller holds
	// is the body (1 MiB) and the decompressor's state. Inflating it would
	// allocate over 1 GiB.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("reading the bomb allocated %d MiB, want at most 16 MiB", grew>>20)
	}
	t.Logf("bomb: %d KiB gzipped; refused after allocating %d KiB", len(bomb)>>10, (after.TotalAlloc-before.TotalAlloc)>>10)
}
