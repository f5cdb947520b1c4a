package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// The CPU samples taken inside spans carry otel-profiling-go's labels,
// span_id and span_name among them.
func TestSpansLabelTheirSamples(t *testing.T) {
	wd := t.TempDir()
	bin := filepath.Join(t.TempDir(), "otel")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "-duration", "2s")
	cmd.Dir = wd
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PYROSCOPE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(wd, "profiles", "run-*", "example.otel", "cpu_*.pb.gz"))
	var labelled int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := profile.ParseData(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Sample {
			if len(s.Label["span_id"]) == 1 && len(s.Label["span_id"][0]) == 16 && s.Label["span_name"][0] == "checkout" {
				labelled += s.Value[0]
			}
		}
	}
	if labelled == 0 {
		t.Fatalf("no CPU sample carries span_id and span_name=checkout in %d files\n%s", len(files), out)
	}
}
