package dsl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// loadNow fixes the clock of every test load.
var loadNow = time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)

// loadEnv is the environment test loads see.
var loadEnv = map[string]string{"WAREHOUSE_DSN": "postgres://siphon@db/siphon"}

func loadOptions() Options {
	return Options{
		Now:       loadNow,
		LookupEnv: func(k string) (string, bool) { v, ok := loadEnv[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if filepath.Base(p) == "ca.pem" {
				return []byte("-----BEGIN CERTIFICATE-----\n"), nil
			}
			return nil, fs.ErrNotExist
		},
	}
}

// loadCase reads one test case: a single .hcl file, or a directory of them
// (for cases that need variable files beside the config).
func loadCase(t *testing.T, path string) map[string][]byte {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	if !info.IsDir() {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(path)] = src
		return files
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(path, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = src
	}
	return files
}

func loadCases(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".hcl") || strings.HasSuffix(e.Name(), ".hcl.json") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func loadDiagText(files map[string]*hcl.File, diags hcl.Diagnostics) string {
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, files, 100, false)
	_ = w.WriteDiagnostics(diags)
	return buf.String()
}

// caseExpectation is what an invalid case's header comments promise: an error
// whose summary (or detail) holds Summary, at File:Line when given.
type caseExpectation struct {
	Summary string
	File    string
	Line    int
}

func loadExpectation(files map[string][]byte) (caseExpectation, error) {
	var exp caseExpectation
	for _, name := range sortedKeys(files) {
		sc := bufio.NewScanner(bytes.NewReader(files[name]))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "#") {
				break
			}
			line = strings.TrimSpace(strings.TrimPrefix(line, "#"))
			if s, ok := strings.CutPrefix(line, "error:"); ok {
				exp.Summary = strings.TrimSpace(s)
			}
			if s, ok := strings.CutPrefix(line, "at:"); ok {
				file, ln, _ := strings.Cut(strings.TrimSpace(s), ":")
				n, err := strconv.Atoi(ln)
				if err != nil {
					return exp, fmt.Errorf("bad # at: %q", s)
				}
				exp.File, exp.Line = file, n
			}
		}
	}
	if exp.Summary == "" {
		return exp, errors.New("no # error: comment at the top of the case")
	}
	return exp, nil
}

// TestTestdata loads every case under testdata: valid ones must plan with
// no diagnostics at all, invalid ones must report the error their header
// comment names (and where, when it says).
func TestTestdata(t *testing.T) {
	for _, path := range loadCases(t, "testdata/valid") {
		t.Run("valid/"+filepath.Base(path), func(t *testing.T) {
			files := loadCase(t, path)
			res := LoadFiles(files, loadOptions())
			if len(res.Diagnostics) > 0 {
				t.Fatalf("want no diagnostics, got:\n%s", loadDiagText(res.Files, res.Diagnostics))
			}
			if res.Plan == nil {
				t.Fatal("no plan")
			}
		})
	}
	for _, path := range loadCases(t, "testdata/invalid") {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			files := loadCase(t, path)
			exp, err := loadExpectation(files)
			if err != nil {
				t.Fatal(err)
			}
			res := LoadFiles(files, loadOptions())
			if res.Plan != nil {
				t.Fatalf("want error %q, got a plan; diagnostics:\n%s", exp.Summary, loadDiagText(res.Files, res.Diagnostics))
			}
			for _, d := range res.Diagnostics {
				if d.Severity != hcl.DiagError || !strings.Contains(d.Summary+": "+d.Detail, exp.Summary) {
					continue
				}
				if exp.File != "" {
					if d.Subject == nil || filepath.Base(d.Subject.Filename) != exp.File || d.Subject.Start.Line != exp.Line {
						continue
					}
				}
				if d.Subject == nil && !strings.HasPrefix(exp.Summary, "No configuration") {
					t.Errorf("the error has no source range: %s", d.Summary)
				}
				return
			}
			where := ""
			if exp.File != "" {
				where = fmt.Sprintf(" at %s:%d", exp.File, exp.Line)
			}
			t.Fatalf("want an error with %q%s, got:\n%s", exp.Summary, where, loadDiagText(res.Files, res.Diagnostics))
		})
	}
}
