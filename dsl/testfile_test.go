package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// testsDir holds the configuration the mapping-test cases run against,
// its fixtures, and the cases: valid/ must load and pass, invalid/ must
// report the error their header names.
const testsDir = "testdata/tests"

func testsPlan(t testing.TB) *Plan {
	t.Helper()
	res := Load(testsDir, Options{Now: loadNow})
	if res.Plan == nil || len(res.Diagnostics) > 0 {
		t.Fatalf("the tests' configuration does not load:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
	return res.Plan
}

// loadTestCase loads one *.test.hcl file against the tests' configuration.
func loadTestCase(t *testing.T, plan *Plan, path string, opts TestOptions) *TestSuite {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return LoadTestFiles(testsDir, map[string][]byte{filepath.Base(path): src}, plan, opts)
}

func TestTestFiles(t *testing.T) {
	plan := testsPlan(t)
	valid, _ := filepath.Glob(filepath.Join(testsDir, "valid", "*.test.hcl"))
	invalid, _ := filepath.Glob(filepath.Join(testsDir, "invalid", "*.test.hcl"))
	if len(valid) < 3 || len(invalid) < 10 {
		t.Fatalf("found %d valid and %d invalid cases", len(valid), len(invalid))
	}
	for _, path := range valid {
		t.Run("valid/"+filepath.Base(path), func(t *testing.T) {
			s := loadTestCase(t, plan, path, TestOptions{})
			if len(s.Diagnostics) > 0 {
				t.Fatalf("want no diagnostics, got:\n%s", loadDiagText(s.Files, s.Diagnostics))
			}
			if len(s.Tests) == 0 {
				t.Fatal("no tests decoded")
			}
			for _, mt := range s.Tests {
				res := mt.Run()
				for _, c := range res.Cases {
					if !c.Passed() {
						golden, _ := res.GoldenJSON()
						t.Errorf("%s: record at %s: %s %+v\noutcomes:\n%s", mt.Name, c.Case.Range, c.Problem, c.Diffs, golden)
					}
				}
			}
		})
	}
	for _, path := range invalid {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := loadExpectation(map[string][]byte{filepath.Base(path): src})
			if err != nil {
				t.Fatal(err)
			}
			s := loadTestCase(t, plan, path, TestOptions{})
			for _, d := range s.Diagnostics {
				if d.Severity != hcl.DiagError || !strings.Contains(d.Summary+": "+d.Detail, exp.Summary) {
					continue
				}
				if d.Subject == nil {
					t.Fatalf("the error has no source range: %s", d.Summary)
				}
				if exp.File != "" && (filepath.Base(d.Subject.Filename) != exp.File || d.Subject.Start.Line != exp.Line) {
					continue
				}
				return
			}
			t.Fatalf("want an error with %q at %s:%d, got:\n%s", exp.Summary, exp.File, exp.Line, loadDiagText(s.Files, s.Diagnostics))
		})
	}
}

// A failing test reports, per record, the fields that differ with the
// range of the mapping expression that produced each, and outcome
// mismatches (filtered, error) as problems.
func TestTestFailuresPointAtTheMapping(t *testing.T) {
	plan := testsPlan(t)
	src := `
test "wrong" {
  pipeline = pipeline.volunteers
  tenant   = "acme"
  records = [
    { email = "Ada@Example.org", first_name = "Ada", score = 1 },
    { membership_status = "REMOVED" },
    { email = "b@example.org", score = 2 },
    { email = "c@example.org", score = "x" },
  ]
  expect = [
    { email = "Ada@Example.org", full_name = "Ada", score = 2 },
    { email = "x@example.org" },
    { email = "b@example.org" },
    { score = 1 },
  ]
}
`
	s := LoadTestFiles(testsDir, map[string][]byte{"wrong.test.hcl": []byte(src)}, plan, TestOptions{})
	if len(s.Diagnostics) > 0 || len(s.Tests) != 1 {
		t.Fatalf("%d tests; diagnostics:\n%s", len(s.Tests), loadDiagText(s.Files, s.Diagnostics))
	}
	res := s.Tests[0].Run()
	if res.Failed != 3 || res.Passed() {
		t.Fatalf("failed %d, want 3", res.Failed)
	}
	first := res.Cases[0]
	if first.Problem != "" || len(first.Diffs) != 2 {
		t.Fatalf("record 1: problem %q, diffs %+v", first.Problem, first.Diffs)
	}
	email, name := first.Diffs[0], first.Diffs[1]
	if email.Field != "email" || email.Want != "Ada@Example.org" || email.Got != "ada@example.org" ||
		email.Mapping == nil || email.Mapping.Expr != "lower(record.email)" || email.Mapping.Range.Start.Line != 23 {
		t.Errorf("email diff: %+v (mapping %+v)", email, email.Mapping)
	}
	if name.Field != "full_name" || name.Got != "Ada " || name.Mapping == nil || name.Mapping.Range.Start.Line != 24 {
		t.Errorf("full_name diff: %+v", name)
	}
	if first.Case.Range.Start.Line != 6 || first.Case.Range.Filename != "wrong.test.hcl" {
		t.Errorf("record 1 range: %s", first.Case.Range)
	}
	if p := res.Cases[1].Problem; !strings.Contains(p, "want the record mapped, got it filtered out (filter: record.membership_status != \"REMOVED\")") {
		t.Errorf("record 2 problem: %q", p)
	}
	if !res.Cases[2].Passed() {
		t.Errorf("record 3 should pass: %+v", res.Cases[2])
	}
	if p := res.Cases[3].Problem; !strings.HasPrefix(p, "want the record mapped, got the error \"pipeline volunteers field score:") {
		t.Errorf("record 4 problem: %q", p)
	}
}

// -update writes a golden file that does not exist yet from what the
// mapping produces, and a run against it then passes; a changed mapping
// then shows as field diffs of the golden records.
func TestTestGoldenUpdate(t *testing.T) {
	plan := testsPlan(t)
	dir := t.TempDir()
	fixture, err := os.ReadFile(filepath.Join(testsDir, "fixtures", "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.json"), fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"g.test.hcl": []byte(`
test "golden" {
  pipeline = pipeline.volunteers
  records  = file("users.json")
  golden   = "out/users.golden.json"
}
`)}
	s := LoadTestFiles(dir, files, plan, TestOptions{})
	if !s.Diagnostics.HasErrors() {
		t.Fatal("a missing golden file must be an error without -update")
	}
	s = LoadTestFiles(dir, files, plan, TestOptions{Update: true})
	if len(s.Diagnostics) > 0 {
		t.Fatalf("with -update: %s", loadDiagText(s.Files, s.Diagnostics))
	}
	res := s.Tests[0].Run()
	if res.Failed != 3 || !strings.Contains(res.Cases[0].Problem, "no entry for this record") {
		t.Fatalf("before the golden file exists: %+v", res.Cases[0])
	}
	out, err := res.GoldenJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Tests[0].GoldenPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s = LoadTestFiles(dir, files, plan, TestOptions{})
	if len(s.Diagnostics) > 0 {
		t.Fatalf("after -update: %s", loadDiagText(s.Files, s.Diagnostics))
	}
	if res := s.Tests[0].Run(); !res.Passed() {
		t.Fatalf("after -update the test fails: %+v", res.Cases)
	}

	// The same records under a tenant: org changes from "" to its name.
	files["g.test.hcl"] = []byte(strings.Replace(string(files["g.test.hcl"]), "records", "tenant   = \"acme\"\n  records", 1))
	s = LoadTestFiles(dir, files, plan, TestOptions{})
	res = s.Tests[0].Run()
	if res.Failed != 1 {
		t.Fatalf("failed %d, want 1 (the mapped record)", res.Failed)
	}
	d := res.Cases[0].Diffs
	if len(d) != 1 || d[0].Field != "org" || d[0].Want != "" || d[0].Got != "Acme Food Bank" || d[0].WantAbsent {
		t.Fatalf("diffs: %+v", d)
	}
	if rng := res.Cases[0].Case.Range; rng.Filename != filepath.Join(dir, "users.json") || rng.Start.Line != 2 || rng.Start.Column != 3 {
		t.Fatalf("the fixture record's range is %s", rng)
	}
}

// *.test.hcl files are not configuration: a directory whose only other
// content is a valid configuration plans cleanly whatever they hold.
func TestTestFilesAreNotConfig(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join(testsDir, "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	res := LoadFiles(map[string][]byte{"main.hcl": cfg, "x.test.hcl": []byte(`test "a" { pipeline = pipeline.nope }`)}, Options{Now: loadNow})
	if res.Plan == nil || len(res.Diagnostics) > 0 {
		t.Fatalf("a test file changed the plan:\n%s", loadDiagText(res.Files, res.Diagnostics))
	}
}

// BenchmarkMappingTests runs a golden test of 10,000 fixture records,
// from reading the fixture and golden files to comparing every outcome:
// what `siphon test` costs per 10,000 records, in wall and CPU time (the
// CPU figure does not grow with other load on the machine).
func BenchmarkMappingTests(b *testing.B) {
	plan := testsPlan(b)
	dir := b.TempDir()
	var recs, outs strings.Builder
	recs.WriteString("[\n")
	outs.WriteString("[\n")
	const n = 10000
	for i := range n {
		sep := ",\n"
		if i == n-1 {
			sep = "\n"
		}
		fmt.Fprintf(&recs, `{"id": %d, "email": "User%d@Example.org", "first_name": "U", "last_name": "%d", "membership_status": "ACTIVE", "score": %d}%s`, i, i, i, i, sep)
		fmt.Fprintf(&outs, `{"output": {"city": null, "email": "user%d@example.org", "full_name": "U %d", "org": "Acme Food Bank", "phone": null, "score": %d}}%s`, i, i, 2*i, sep)
	}
	recs.WriteString("]\n")
	outs.WriteString("]\n")
	for name, content := range map[string]string{"users.json": recs.String(), "users.golden.json": outs.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	files := map[string][]byte{"big.test.hcl": []byte(`
test "big" {
  pipeline = pipeline.volunteers
  tenant   = "acme"
  records  = file("users.json")
  golden   = "users.golden.json"
}
`)}
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := cpuTime(b)
	for range b.N {
		s := LoadTestFiles(dir, files, plan, TestOptions{})
		if len(s.Diagnostics) > 0 {
			b.Fatal(loadDiagText(s.Files, s.Diagnostics))
		}
		if res := s.Tests[0].Run(); !res.Passed() {
			b.Fatalf("%d of %d records failed: %+v", res.Failed, n, res.Cases[0])
		}
	}
	cpu := cpuTime(b) - cpuStart
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/10k-records")
}

// FuzzLoadTests feeds arbitrary test files, with an arbitrary file behind
// every fixture and golden path: decoding must not panic, every error must
// point into a file, and the tests that decode must run.
func FuzzLoadTests(f *testing.F) {
	plan := testsPlan(f)
	for _, dir := range []string{"valid", "invalid"} {
		paths, _ := filepath.Glob(filepath.Join(testsDir, dir, "*.test.hcl"))
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src, []byte(`[{"id": 1, "email": "A@X.ORG"}]`))
		}
	}
	fixtures, _ := filepath.Glob(filepath.Join(testsDir, "fixtures", "*.json"))
	for _, p := range fixtures {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte("test \"f\" {\n  pipeline = pipeline.volunteers\n  records = file(\"x.json\")\n  golden = \"x.json\"\n}\n"), src)
	}
	f.Fuzz(func(t *testing.T, test, fixture []byte) {
		opts := TestOptions{ReadFile: func(string) ([]byte, error) { return fixture, nil }}
		s := LoadTestFiles("", map[string][]byte{"f.test.hcl": test}, plan, opts)
		for _, d := range s.Diagnostics {
			if d.Severity == hcl.DiagError && (d.Summary == "" || d.Subject == nil) {
				t.Fatalf("an error without a summary or a range: %#v", d)
			}
		}
		for _, mt := range s.Tests {
			res := mt.Run()
			if _, err := res.GoldenJSON(); err != nil {
				t.Fatalf("golden output: %v", err)
			}
		}
	})
}
