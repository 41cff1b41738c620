package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesGeneratedFilesOnly(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	if err := os.WriteFile(readme, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := write(dir, 1500); err != nil {
		t.Fatal(err)
	}
	if err := write(dir, 10); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	want := []string{readme, filepath.Join(dir, "hub.hcl"), filepath.Join(dir, "tenants-000.hcl")}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("file %d = %s, want %s", i, names[i], want[i])
		}
	}
	if b, _ := os.ReadFile(readme); string(b) != "keep me" {
		t.Error("the README was touched")
	}
	if err := write(dir, 0); err == nil {
		t.Error("-tenants 0 accepted")
	}
}
