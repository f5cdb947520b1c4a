package pyroscope

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/clock/clocktest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
)

// Stats counts windows per ProfileType asked for: a heap window counts for
// each heap type asked for, and nothing for those not asked for.
func TestStatsCountPerProfileType(t *testing.T) {
	srv := proftest.NewIngestServer(t)
	clk := clocktest.NewFake()
	p, err := start(Config{
		ApplicationName: "app", ServerAddress: srv.URL,
		ProfileTypes: []ProfileType{ProfileAllocSpace, ProfileInuseObjects, ProfileGoroutines},
	}, env(), clk)
	if err != nil {
		t.Fatal(err)
	}
	clk.Tick(time.Second)            // one window
	p.Flush(true)                    // a second, delivered before Flush returns
	if err := p.Stop(); err != nil { // the third
		t.Fatal(err)
	}
	st := p.Stats()
	want := map[ProfileType]int64{ProfileAllocSpace: 3, ProfileInuseObjects: 3, ProfileGoroutines: 3}
	if fmt.Sprint(st.Collected) != fmt.Sprint(want) {
		t.Errorf("Collected = %v, want %v", st.Collected, want)
	}
	if st.Uploaded != 6 || st.Dropped != 0 || len(st.DroppedByType) != 0 {
		t.Errorf("Uploaded %d, Dropped %d (%v); want 6 windows (3 heap, 3 goroutines) delivered, none dropped",
			st.Uploaded, st.Dropped, st.DroppedByType)
	}
	if st.BytesSent == 0 || st.LastSuccess.IsZero() || st.LastError != "" {
		t.Errorf("BytesSent %d, LastSuccess %v, LastError %q; want bytes, a time and no error", st.BytesSent, st.LastSuccess, st.LastError)
	}
}

// A window the server refuses is counted as dropped for each type it holds.
func TestStatsDroppedPerProfileType(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such tenant", http.StatusBadRequest)
	}))
	defer srv.Close()
	p, err := start(Config{
		ApplicationName: "app", ServerAddress: srv.URL, Logger: discardLogger{},
		ProfileTypes: []ProfileType{ProfileMutexCount, ProfileMutexDuration, ProfileGoroutines},
	}, env(), clocktest.NewFake())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err == nil {
		t.Fatal("Stop reported no loss although the server refused every window")
	}
	st := p.Stats()
	want := map[ProfileType]int64{ProfileMutexCount: 1, ProfileMutexDuration: 1, ProfileGoroutines: 1}
	if st.Dropped != 2 || fmt.Sprint(st.DroppedByType) != fmt.Sprint(want) {
		t.Errorf("Dropped %d, DroppedByType %v; want 2 windows, %v", st.Dropped, st.DroppedByType, want)
	}
}

// Sent to Parca, the heap travels as two windows, allocations and live
// memory: each counts for its own types, once per window cut, delivered or
// dropped.
func TestStatsCountTheHeapSentApart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		accept bool
		cuts   int64
	}{
		{"delivered", true, 3},
		{"refused", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := proftest.NewH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.accept {
					http.Error(w, "no such project", http.StatusBadRequest)
					return
				}
				proftest.WriteGRPCOK(w)
			}))
			clk := clocktest.NewFake()
			p, err := start(Config{
				ApplicationName: "app", ServerAddress: srv.URL, Protocol: "parca", Logger: discardLogger{},
				ProfileTypes: []ProfileType{ProfileAllocSpace, ProfileInuseObjects, ProfileGoroutines},
			}, env(), clk)
			if err != nil {
				t.Fatal(err)
			}
			if tc.cuts == 3 {
				clk.Tick(time.Second)
				p.Flush(true)
			}
			stopErr := p.Stop()
			if (stopErr == nil) != tc.accept {
				t.Fatalf("Stop = %v", stopErr)
			}
			st := p.Stats()
			want := map[ProfileType]int64{ProfileAllocSpace: tc.cuts, ProfileInuseObjects: tc.cuts, ProfileGoroutines: tc.cuts}
			if fmt.Sprint(st.Collected) != fmt.Sprint(want) {
				t.Errorf("Collected = %v, want %v", st.Collected, want)
			}
			windows := 3 * tc.cuts // allocations, live memory, goroutines
			if tc.accept && (st.Uploaded != windows || st.Dropped != 0 || len(st.DroppedByType) != 0) {
				t.Errorf("Uploaded %d, Dropped %d (%v); want %d windows delivered, none dropped", st.Uploaded, st.Dropped, st.DroppedByType, windows)
			}
			if !tc.accept && (st.Uploaded != 0 || st.Dropped != windows || fmt.Sprint(st.DroppedByType) != fmt.Sprint(want)) {
				t.Errorf("Uploaded %d, Dropped %d, DroppedByType %v; want %d windows dropped, %v", st.Uploaded, st.Dropped, st.DroppedByType, windows, want)
			}
		})
	}
}

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Errorf(string, ...any) {}
