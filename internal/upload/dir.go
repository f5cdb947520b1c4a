package upload

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pyroscope-sdk/pyroscope-go/internal/window"
)

// Dir writes each window to a directory as a gzipped pprof file that
// `go tool pprof` opens, with its labels beside it in a .json file. No server
// is needed.
type Dir struct {
	root string
}

// NewDir returns a sink for "file:///abs/dir" or "file://./rel/dir",
// creating the directory if needed.
func NewDir(address string) (*Dir, error) {
	p, ok := strings.CutPrefix(address, "file://")
	if !ok || p == "" {
		return nil, fmt.Errorf("directory address %q is not file:///path", address)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return nil, fmt.Errorf("directory sink: %w", err)
	}
	return &Dir{root: p}, nil
}

// Root is the directory profiles are written to.
func (d *Dir) Root() string { return d.root }

// dirLabels is what the .json file beside each profile holds.
type dirLabels struct {
	Series     string            `json:"series"`
	App        string            `json:"app"`
	Profile    string            `json:"profile"`
	Tags       map[string]string `json:"tags,omitempty"`
	From       time.Time         `json:"from"`
	Until      time.Time         `json:"until"`
	SampleRate int               `json:"sample_rate,omitempty"`
}

// Send writes each window, in order, to
// <dir>/<app>/<profile>_<from>_<until>.pb.gz (times in UTC, to the
// millisecond) and its labels to the same name ending in .json. A window
// with tags gets _<series> before the extension, eight hex digits of a hash
// of its series name, so that series of one application cut at the same
// time (the agent's processes of one unit) never overwrite each other.
func (d *Dir) Send(ctx context.Context, batch []window.Window) (int, error) {
	for i := range batch {
		if err := ctx.Err(); err != nil {
			return i, &Error{Op: "write file", Retryable: true, Err: err}
		}
		if err := d.write(&batch[i]); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

const fileTime = "20060102T150405.000Z"

func (d *Dir) write(w *window.Window) error {
	app := strings.NewReplacer("/", "_", "\\", "_", "..", "_").Replace(w.App)
	dir := filepath.Join(d.root, app)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &Error{Op: "write file", Retryable: true, Err: err}
	}
	series := SeriesName(w.App, w.Tags)
	base := filepath.Join(dir, fmt.Sprintf("%s_%s_%s", w.Name,
		w.From.UTC().Format(fileTime), w.Until.UTC().Format(fileTime)))
	if len(w.Tags) > 0 {
		h := fnv.New32a()
		h.Write([]byte(series))
		base += fmt.Sprintf("_%08x", h.Sum32())
	}
	labels, err := json.MarshalIndent(dirLabels{
		Series: series, App: w.App, Profile: w.Name, Tags: w.Tags,
		From: w.From.UTC(), Until: w.Until.UTC(), SampleRate: w.SampleRate,
	}, "", "  ")
	if err != nil {
		return &Error{Op: "write file", Err: err}
	}
	if err := writeAtomic(base+".pb.gz", w.Data); err != nil {
		return &Error{Op: "write file", Retryable: true, Err: err}
	}
	if err := writeAtomic(base+".json", append(labels, '\n')); err != nil {
		return &Error{Op: "write file", Retryable: true, Err: err}
	}
	return nil
}

// writeAtomic writes data to a temporary file and renames it, so a reader
// never sees half a profile.
func writeAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
