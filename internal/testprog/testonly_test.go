package testprog

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportedOnlyByTests keeps the packages written for tests out of the
// SDK: no .go file outside _test.go files and testdata may import them.
func TestImportedOnlyByTests(t *testing.T) {
	testOnly := map[string]bool{
		"github.com/pyroscope-sdk/pyroscope-go/internal/testprog": true,
		"github.com/pyroscope-sdk/pyroscope-go/internal/proftest": true,
	}
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		// The test-only packages themselves may import each other.
		if dir := filepath.ToSlash(filepath.Dir(path)); strings.HasSuffix(dir, "internal/testprog") || strings.HasSuffix(dir, "internal/proftest") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); testOnly[p] {
				t.Errorf("%s imports %s, which only tests may use", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files under %s; is the walk rooted at the module?", checked, root)
	}
}
