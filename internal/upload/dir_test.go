package upload

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Series of one application cut at the same moment, as the agent cuts the
// processes of one unit, each get their own files.
func TestDirKeepsSeriesOfOneWindowApart(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir("file://" + root)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	mk := func(tags map[string]string, data string) window.Window {
		return window.Window{App: "web", Tags: tags, Name: window.KindCPU, From: from, Until: from.Add(10 * time.Second), Data: []byte(data)}
	}
	batch := []window.Window{
		mk(nil, "untagged"),
		mk(map[string]string{"comm": "nginx"}, "nginx"),
		mk(map[string]string{"comm": "sh"}, "sh"),
	}
	if n, err := d.Send(context.Background(), batch); n != len(batch) || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "web", "cpu_*.pb.gz"))
	var got []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var l dirLabels
		j, err := os.ReadFile(f[:len(f)-len(".pb.gz")] + ".json")
		if err != nil || json.Unmarshal(j, &l) != nil {
			t.Fatalf("labels beside %s: %v", f, err)
		}
		if l.Tags["comm"] != "" && l.Tags["comm"] != string(b) {
			t.Errorf("%s holds %q, its labels say comm=%s", f, b, l.Tags["comm"])
		}
		got = append(got, string(b))
	}
	slices.Sort(got)
	if want := []string{"nginx", "sh", "untagged"}; !slices.Equal(got, want) {
		t.Errorf("files hold %q, want %q (one per series)", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "web", "cpu_20261201T100000.000Z_20261201T100010.000Z.pb.gz")); err != nil {
		t.Errorf("an untagged window keeps the plain name: %v", err)
	}
}
