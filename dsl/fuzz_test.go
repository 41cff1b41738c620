package dsl

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad feeds arbitrary config (as HCL and as JSON) and variable files
// to the loader with env() and file() stubbed: whatever the input, Load must not panic, must
// return a plan exactly when there is no error, and the plan must encode.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			src, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src, []byte(""))
		}
	}
	f.Add([]byte(jobsConfig), []byte("x = 1\n"))
	opts := Options{
		Now: loadNow,
		LookupEnv: func(name string) (string, bool) {
			if name == "SET" {
				return "value", true
			}
			return "", false
		},
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
		Vars:     map[string]string{"n": "[1, 2]"},
	}
	f.Fuzz(func(t *testing.T, config, vars []byte) {
		for _, mode := range []Mode{ModePlan, ModeRun} {
			opts.Mode = mode
			res := LoadFiles(map[string][]byte{"main.hcl": config, "x.auto.vars.hcl": vars}, opts)
			if res.Diagnostics.HasErrors() != (res.Plan == nil) {
				t.Fatalf("plan %v with diagnostics %v", res.Plan != nil, res.Diagnostics)
			}
			for _, d := range res.Diagnostics {
				if d.Severity == hcl.DiagError && d.Summary == "" {
					t.Fatalf("an error without a summary: %#v", d)
				}
			}
			if res.Plan != nil {
				if _, err := json.Marshal(res.Plan); err != nil {
					t.Fatalf("plan does not encode: %v", err)
				}
			}
		}
		// The same bytes as HCL's JSON form.
		res := LoadFiles(map[string][]byte{"main.hcl.json": config}, opts)
		if res.Diagnostics.HasErrors() != (res.Plan == nil) {
			t.Fatalf("JSON: plan %v with diagnostics %v", res.Plan != nil, res.Diagnostics)
		}
	})
}
