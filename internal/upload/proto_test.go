package upload

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/pyroscope-sdk/pyroscope-go/internal/proftest"
	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// testFrom and testUntil bound the windows the tests stamp.
var (
	testFrom  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testUntil = testFrom.Add(10 * time.Second)
)

func TestStampProfile(t *testing.T) {
	withTimes := func(timeNanos, durationNanos int64, gzipped bool) []byte {
		p, err := profile.ParseData(proftest.CPUProfile(t))
		if err != nil {
			t.Fatal(err)
		}
		p.TimeNanos, p.DurationNanos = timeNanos, durationNanos
		var b bytes.Buffer
		if gzipped {
			err = p.Write(&b)
		} else {
			err = p.WriteUncompressed(&b)
		}
		if err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	const own = 1_700_000_000_000_000_000
	length := int64(testUntil.Sub(testFrom))
	tests := []struct {
		name             string
		in               []byte
		wantTime, wantDu int64
		wantSame         bool
	}{
		{"both missing, gzipped", withTimes(0, 0, true), testFrom.UnixNano(), length, false},
		{"both missing, uncompressed", withTimes(0, 0, false), testFrom.UnixNano(), length, false},
		{"duration missing", withTimes(own, 0, true), own, length, false},
		{"time missing", withTimes(0, 5, true), testFrom.UnixNano(), 5, false},
		{"both present", withTimes(own, 5, true), own, 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := stampProfile(tt.in, testFrom, testUntil)
			if same := len(out) == len(tt.in) && &out[0] == &tt.in[0]; same != tt.wantSame {
				t.Errorf("returned the input unchanged: %v, want %v", same, tt.wantSame)
			}
			p, err := profile.ParseData(out)
			if err != nil {
				t.Fatalf("stamped profile does not parse: %v", err)
			}
			if p.TimeNanos != tt.wantTime || p.DurationNanos != tt.wantDu {
				t.Errorf("time_nanos=%d duration_nanos=%d, want %d and %d", p.TimeNanos, p.DurationNanos, tt.wantTime, tt.wantDu)
			}
			if !proftest.HasFunction(p, proftest.CPUFunction) || p.Sample[0].Value[1] != 300_000_000 {
				t.Errorf("samples changed: %v", p)
			}
		})
	}
	t.Run("not a profile", func(t *testing.T) {
		junk := []byte{0x1f, 0x8b, 0xff}
		if out := stampProfile(junk, testFrom, testUntil); !bytes.Equal(out, junk) {
			t.Errorf("junk changed to %x", out)
		}
	})
}

func TestProfileName(t *testing.T) {
	tests := []struct{ kind, want string }{
		{window.KindCPU, "process_cpu"}, {window.KindHeap, "memory"}, {window.KindGoroutines, "goroutine"},
		{window.KindMutex, "mutex"}, {window.KindBlock, "block"}, {"wall", "wall"}, {"_x9", "_x9"},
		{"wall-clock", ""}, {"go.heap", ""}, {"9lives", ""}, {"", ""},
	}
	for _, tt := range tests {
		got, err := profileName(tt.kind)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("profileName(%q) = %q, %v; want %q", tt.kind, got, err, tt.want)
		}
	}
}

func TestSeriesLabels(t *testing.T) {
	w := &window.Window{App: "svc", Name: window.KindMutex, Tags: map[string]string{
		"zone": "a", "env": "prod", "service_name": "spoof", "__name__": "spoof",
	}}
	ls, err := seriesLabels(w, label{labelDelta, "false"})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(ls)
	want := "[{__delta__ false} {__name__ mutex} {env prod} {service_name svc} {zone a}]"
	if got != want {
		t.Errorf("labels %s, want %s", got, want)
	}
	if _, err := seriesLabels(&window.Window{Name: "wall-clock"}); err == nil {
		t.Error("a family with '-' gave no error; Parca cannot parse it as a metric name")
	}
}
