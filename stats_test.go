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

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
func (discardLogger) Errorf(string, ...any) {}
