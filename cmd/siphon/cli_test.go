package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// siphon runs the CLI in-process and returns its exit code and output.
func siphon(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"siphon"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFiles creates files (name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// twoTenantConfig writes a configuration of one users pipeline into a
// sqlite destination for tenants a and b, reading the source at baseURL,
// and returns its directory; the store is the default .siphon/state.db.
func twoTenantConfig(t *testing.T, baseURL, a, b string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": `
source "vomo" {
  kind     = "vomo"
  base_url = "` + baseURL + `"
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}
destination "db" {
  plugin = "sqlite"
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields = {
    email = record.email
  }
}
tenant "` + a + `" {
  pipelines = [pipeline.volunteers]
}
tenant "` + b + `" {
  pipelines = [pipeline.volunteers]
}
`})
	return dir
}
