package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testConfig is a configuration of one users pipeline with a filter, for
// the siphon test cases; the test files come with each case.
const testConfig = `
source "vomo" {
  kind     = "vomo"
  base_url = "http://127.0.0.1:8089/v1"
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  filter      = record.membership_status != "REMOVED"
  fields = {
    email  = lower(record.email)
    name   = "${coalesce(record.first_name, "")} ${coalesce(record.last_name, "")}"
    status = record.membership_status
  }
}
pipeline "archive" {
  resource    = resource.users
  destination = destination.db
  fields = {
    email = record.email
  }
}
tenant "acme" {
  name      = "Acme"
  pipelines = [pipeline.volunteers, pipeline.archive]
}
`

// failingTests fail in every way a test can: a field differs, a record
// is filtered that should map, one maps that should fail, and a golden
// file is out of date.
const failingTests = `
test "fields_differ" {
  pipeline = pipeline.volunteers
  tenant   = "acme"
  record   = { id = 1, email = "Ada@Example.org", first_name = "Ada", last_name = "Lovelace", membership_status = "ACTIVE" }
  expect = {
    email = "Ada@Example.org"
    name  = "Ada King"
  }
}

test "filtered_unexpectedly" {
  pipeline = pipeline.volunteers
  record   = { id = 2, email = "b@example.org", membership_status = "REMOVED" }
  expect   = { status = "REMOVED" }
}

test "maps_instead_of_failing" {
  pipeline     = pipeline.volunteers
  record       = { id = 3, email = "c@example.org", membership_status = "ACTIVE" }
  expect_error = "field email"
}

test "passes" {
  pipeline        = pipeline.volunteers
  record          = { id = 4, membership_status = "REMOVED" }
  expect_filtered = true
}

test "golden_out_of_date" {
  pipeline = pipeline.volunteers
  records  = file("fixtures/users.json")
  golden   = "fixtures/users.golden.json"
}
`

const testFixture = `[
  {"id": 10, "email": "Dee@Example.org", "first_name": "Dee", "membership_status": "ACTIVE"},
  {"id": 11, "email": "eve@example.org", "membership_status": "REMOVED"}
]
`

// staleGolden is the golden file of an older mapping: email was not
// lowered, status was not mapped, and a "city" field was.
const staleGolden = `[
  {"output": {"email": "Dee@Example.org", "name": "Dee ", "city": null}},
  {"filtered": true}
]
`

// testCase writes the configuration with the given test files into cfg/
// under a fresh directory, and returns a function that runs siphon test
// on it with the directory cut from the output, so that the paths it
// prints read cfg/… on every machine.
func testCase(t *testing.T, files map[string]string) (dir string, siphonTest func(args ...string) (int, string, string)) {
	t.Helper()
	dir = t.TempDir()
	all := map[string]string{"cfg/main.hcl": testConfig}
	for name, content := range files {
		all["cfg/"+name] = content
	}
	writeFiles(t, dir, all)
	return dir, func(args ...string) (int, string, string) {
		t.Helper()
		code, out, errOut := siphon(t, append(append([]string{"test"}, args...), filepath.Join(dir, "cfg"))...)
		cut := func(s string) string { return strings.ReplaceAll(s, dir+string(filepath.Separator), "") }
		return code, cut(out), cut(errOut)
	}
}

func TestSiphonTestFailures(t *testing.T) {
	_, siphonTest := testCase(t, map[string]string{"users.test.hcl": failingTests, "fixtures/users.json": testFixture, "fixtures/users.golden.json": staleGolden})
	code, out, errOut := siphonTest()
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	golden(t, "test-failures.txt", out)

	code, out, _ = siphonTest("-json")
	if code != 1 {
		t.Fatalf("-json: exit %d", code)
	}
	golden(t, "test-failures.json", out)
	var doc testDocument
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Valid || doc.Passed || doc.Summary["failed"] != 4 || doc.Summary["passed"] != 1 || len(doc.Untested) != 1 || doc.Untested[0] != "archive" {
		t.Fatalf("document: valid %v passed %v summary %v untested %v", doc.Valid, doc.Passed, doc.Summary, doc.Untested)
	}
}

// -run selects tests by name; -update rewrites the golden file from what
// the mapping produces, after which the test passes.
func TestSiphonTestRunAndUpdate(t *testing.T) {
	dir, siphonTest := testCase(t, map[string]string{"users.test.hcl": failingTests, "fixtures/users.json": testFixture, "fixtures/users.golden.json": staleGolden})
	code, out, _ := siphonTest("-run", "^pass")
	if code != 0 || !strings.Contains(out, "ok   passes (volunteers, 1 record)") || strings.Contains(out, "fields_differ") ||
		!strings.Contains(out, "Test: 1 passed, 0 failed (1 record).") {
		t.Fatalf("-run ^pass: exit %d\n%s", code, out)
	}
	code, out, _ = siphonTest("-run", "golden", "-update")
	if code != 0 || !strings.Contains(out, "updated cfg/fixtures/users.golden.json") {
		t.Fatalf("-update: exit %d\n%s", code, out)
	}
	var outs []map[string]any
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "cfg", "fixtures", "users.golden.json"))), &outs); err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0]["output"].(map[string]any)["email"] != "dee@example.org" || outs[1]["filtered"] != true {
		t.Fatalf("golden file: %v", outs)
	}
	code, out, _ = siphonTest("-run", "golden")
	if code != 0 || !strings.Contains(out, "ok   golden_out_of_date (volunteers, 2 records)") {
		t.Fatalf("after -update: exit %d\n%s", code, out)
	}
	if code, _, errOut := siphonTest("-run", "("); code != 1 || !strings.Contains(errOut, `invalid -run "("`) {
		t.Fatalf("bad -run: exit %d, %s", code, errOut)
	}
}

// Bad tests are diagnostics with file, line and source, printed as plan
// prints them; nothing runs.
func TestSiphonTestDiagnostics(t *testing.T) {
	_, siphonTest := testCase(t, map[string]string{
		"bad.test.hcl": `
test "unknown_pipeline" {
  pipeline = pipeline.volunters
  record   = { id = 1 }
  expect   = { email = "x" }
}

test "unknown_tenant" {
  pipeline = pipeline.volunteers
  tenant   = "acne"
  record   = { id = 1 }
  expect   = { email = "x" }
}

test "unmapped_field" {
  pipeline = pipeline.volunteers
  record   = { id = 1 }
  expect   = { emial = "x" }
}

test "broken_fixture" {
  pipeline        = pipeline.volunteers
  records         = file("fixtures/broken.json")
  expect_filtered = true
}
`,
		"fixtures/broken.json": "[\n  {\"id\": 1},\n  {\"id\": 2,}\n]\n",
	})
	code, out, _ := siphonTest()
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	golden(t, "test-invalid.txt", out)
	code, out, _ = siphonTest("-json")
	var doc testDocument
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 1 {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if doc.Valid || len(doc.Diagnostics) != 4 || doc.Diagnostics[0].Range == nil {
		t.Fatalf("document: %s", out)
	}
}

// -var reaches the mappings as it reaches plan's.
func TestSiphonTestVars(t *testing.T) {
	_, siphonTest := testCase(t, map[string]string{
		"tagged.hcl": `
variable "org" {
  type = string
}
pipeline "tagged" {
  resource    = resource.users
  destination = destination.db
  fields = {
    tag = "${var.org}-${record.id}"
  }
}
`,
		"tagged.test.hcl": `
test "tag" {
  pipeline = pipeline.tagged
  record   = { id = 7 }
  expect   = { tag = "acme-7" }
}
`})
	if code, out, errOut := siphonTest(); code != 1 || !strings.Contains(out, `Variable "org" has no default`) {
		t.Fatalf("without -var: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := siphonTest("-var", "org=acme"); code != 0 || !strings.Contains(out, "ok   tag (tagged, 1 record)") {
		t.Fatalf("with -var: exit %d\n%s", code, out)
	}
}

// A configuration that does not load is reported as plan reports it.
func TestSiphonTestInvalidConfig(t *testing.T) {
	dir, siphonTest := testCase(t, map[string]string{"x.test.hcl": failingTests})
	if err := os.WriteFile(filepath.Join(dir, "cfg", "main.hcl"), []byte(strings.Replace(testConfig, `"5m"`, `"5 minutes"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := siphonTest()
	if code != 1 || !strings.Contains(out, "Error: Invalid duration for cadence") || !strings.Contains(out, "on cfg/main.hcl line 10") ||
		!strings.Contains(out, "Test: invalid configuration or tests; 1 error.") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// The demo ships tests; they pass, and the pipelines without any are named.
func TestSiphonTestDemo(t *testing.T) {
	code, out, errOut := siphon(t, "test", "../../pipelines/demo")
	if code != 0 || !strings.Contains(out, "ok   saved_users_page (volunteers for kiez, 4 records)") ||
		!strings.Contains(out, "Pipelines without tests: ") || strings.Contains(out, "FAIL") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
