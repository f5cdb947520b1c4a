package upload

import (
	"fmt"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

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
