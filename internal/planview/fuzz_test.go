package planview

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
)

// FuzzViews renders whatever the compiler makes of arbitrary HCL, valid or
// not, in both views: a diagnostic with an odd range (past the end of a
// file, empty, in a file that is not there) must never crash `plan`.
func FuzzViews(f *testing.F) {
	seeds, _ := filepath.Glob("../../pipelines/*/*.hcl")
	invalid, _ := filepath.Glob("../../cmd/siphon/testdata/invalid/*.hcl")
	for _, path := range append(seeds, invalid...) {
		if src, err := os.ReadFile(path); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("tenant \"a\" {\n  pipelines = [pipeline.\n"))
	opts := dsl.Options{
		Now:       time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
		LookupEnv: func(string) (string, bool) { return "", false },
		ReadFile:  func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") },
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		res := dsl.LoadFiles(map[string][]byte{"main.hcl": src}, opts)
		if err := Human(io.Discard, res, Options{Color: true, Width: 60}); err != nil {
			t.Fatal(err)
		}
		if err := JSON(io.Discard, res); err != nil {
			t.Fatal(err)
		}
	})
}
