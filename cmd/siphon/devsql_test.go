package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// devSQLConfig writes a configuration with two sqlite destinations, "db"
// at the default path and "other" at other.db, and returns its directory.
func devSQLConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": `
source "vomo" {
  kind     = "vomo"
  base_url = "http://127.0.0.1:1/v1"
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
destination "other" {
  plugin = "sqlite"
  config = {
    path = "other.db"
  }
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields = {
    email = record.email
  }
}
tenant "acme" {
  pipelines = [pipeline.volunteers]
}
`})
	return dir
}

// writeDB creates a sqlite file at path and runs stmts in it.
func writeDB(t *testing.T, path string, stmts ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestDevSQL(t *testing.T) {
	dir := devSQLConfig(t)
	dbPath := filepath.Join(dir, ".siphon", "destination.db")
	writeDB(t, dbPath,
		`CREATE TABLE volunteers (tenant TEXT, key TEXT, email TEXT, hours REAL, note TEXT)`,
		`INSERT INTO volunteers VALUES ('acme', '1', 'ada@example.org', 2.5, NULL), ('acme', '2', 'grace@example.org', 10, 'two
lines'), ('kiez', '3', 'jörg@example.org', 1, '')`)
	writeDB(t, filepath.Join(dir, "other.db"), `CREATE TABLE other (n INTEGER)`, `INSERT INTO other VALUES (42)`)

	t.Run("table", func(t *testing.T) {
		// The destination is named because the configuration has two.
		code, out, errOut := siphon(t, "dev", "sql", "--config", dir, "--destination", "db",
			"SELECT tenant, count(*) AS n FROM volunteers GROUP BY tenant ORDER BY tenant")
		want := "" +
			"tenant  n\n" +
			"------  -\n" +
			"acme    2\n" +
			"kiez    1\n" +
			"(2 rows)\n"
		if code != 0 || out != want {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
		}
	})

	t.Run("cells", func(t *testing.T) {
		// Flags after the query and a query in several arguments, as a
		// shell passes an unquoted one; NULL spelled out, a line break
		// escaped, non-ASCII text aligned by characters.
		code, out, errOut := siphon(t, "dev", "sql", "SELECT", "email,", "hours,", "note", "FROM", "volunteers", "ORDER", "BY", "key",
			"--config", dir, "--destination", "db")
		want := "" +
			"email              hours  note\n" +
			"-----------------  -----  ----------\n" +
			"ada@example.org      2.5  NULL\n" +
			"grace@example.org     10  two\\nlines\n" +
			"jörg@example.org       1\n" +
			"(3 rows)\n"
		if code != 0 || out != want {
			t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, errOut := siphon(t, "dev", "sql", "--json", "--config", dir, "--destination", "db",
			"SELECT key, email, note FROM volunteers WHERE tenant = 'acme' ORDER BY key")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if len(rows) != 2 || rows[0]["email"] != "ada@example.org" || rows[0]["note"] != nil || rows[1]["note"] != "two\nlines" {
			t.Fatalf("rows: %v", rows)
		}
		if !strings.Contains(out, `{"key": "1", "email": "ada@example.org", "note": null}`) {
			t.Errorf("keys not in column order:\n%s", out)
		}
	})

	t.Run("configured path", func(t *testing.T) {
		code, out, errOut := siphon(t, "dev", "sql", "--config", dir, "--destination", "other", "SELECT n FROM other")
		if code != 0 || !strings.Contains(out, "42") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		for _, q := range []string{
			"DELETE FROM volunteers",
			"CREATE TABLE t (x)",
			"INSERT INTO volunteers (tenant) VALUES ('x')",
		} {
			code, out, errOut := siphon(t, "dev", "sql", "--config", dir, "--destination", "db", q)
			if code != 1 || !strings.Contains(errOut, "read-only") {
				t.Errorf("%s: exit %d, %s%s", q, code, out, errOut)
			}
		}
		code, out, errOut := siphon(t, "dev", "sql", "--config", dir, "--destination", "db", "SELECT count(*) FROM volunteers")
		if code != 0 || !strings.Contains(out, "3") {
			t.Fatalf("after the refused writes: exit %d, %s%s", code, out, errOut)
		}
	})

	t.Run("several destinations", func(t *testing.T) {
		code, _, errOut := siphon(t, "dev", "sql", "--config", dir, "SELECT 1")
		if code != 1 || !strings.Contains(errOut, "--destination") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		code, _, errOut = siphon(t, "dev", "sql", "--config", dir, "--destination", "nope", "SELECT 1")
		if code != 1 || !strings.Contains(errOut, `no sqlite destination "nope"`) || !strings.Contains(errOut, "db, other") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})

	t.Run("bad query", func(t *testing.T) {
		code, _, errOut := siphon(t, "dev", "sql", "--config", dir, "--destination", "db", "SELECT * FROM nowhere")
		if code != 1 || !strings.Contains(errOut, "no such table: nowhere") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		code, _, errOut = siphon(t, "dev", "sql", "--config", dir, "--destination", "db")
		if code != 1 || !strings.Contains(errOut, "needs a QUERY") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

func TestDevSQLMissingFile(t *testing.T) {
	dir := devSQLConfig(t)
	code, out, errOut := siphon(t, "dev", "sql", "--config", dir, "--destination", "db", "SELECT 1")
	path := filepath.Join(dir, ".siphon", "destination.db")
	if code != 1 || !strings.Contains(errOut, "no database at "+path) || !strings.Contains(errOut, "siphon run") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	// Opening read-only must not have created the file.
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the file was created: %v", err)
	}
}
