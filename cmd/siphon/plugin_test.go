package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/plugins/host"
)

// TestPluginList checks that the listing is a table whose columns line up,
// whatever the widths of the names in it.
func TestPluginList(t *testing.T) {
	dir := t.TempDir()
	external := filepath.Join(dir, "siphon-destination-a-rather-long-plugin-name")
	if err := os.WriteFile(external, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := siphon(t, "plugin", "list", "--plugin-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	kind, path := strings.Index(lines[0], "KIND"), strings.Index(lines[0], "PATH")
	if !strings.HasPrefix(lines[0], "NAME ") || kind < 0 || path < kind {
		t.Fatalf("header %q\n%s", lines[0], out)
	}
	rows := map[string]string{} // name -> the rest of its row
	for _, line := range lines[1:] {
		if strings.HasPrefix(line, "searched: ") {
			break
		}
		if strings.TrimRight(line, " ") != line || len(line) < kind || line[kind-1] != ' ' || line[kind] == ' ' {
			t.Fatalf("row %q is not aligned under KIND (column %d) or ends in spaces\n%s", line, kind, out)
		}
		rows[strings.TrimSpace(line[:kind])] = line[kind:]
	}
	for _, name := range []string{"jsonl", "postgres", "sqlite"} {
		if rows[name] != "built-in" {
			t.Errorf("%s: %q, want built-in\n%s", name, rows[name], out)
		}
	}
	if want := "external" + strings.Repeat(" ", path-kind-len("external")) + external; rows["a-rather-long-plugin-name"] != want {
		t.Errorf("external plugin: %q, want %q\n%s", rows["a-rather-long-plugin-name"], want, out)
	}
	if !strings.HasSuffix(out, "\nsearched: "+strings.Join(host.SearchPath(dir), ", ")+"\n") {
		t.Errorf("no search path at the end\n%s", out)
	}
}

func TestPluginServeUnknown(t *testing.T) {
	code, _, errOut := siphon(t, "plugin", "serve", "nosuch")
	if code != 1 || !strings.Contains(errOut, `unknown built-in destination "nosuch" (built-in: `) || !strings.Contains(errOut, "sqlite") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestPluginTest runs `siphon plugin test` on the example plugin, built
// here, and on a binary that is not a plugin.
func TestPluginTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example plugin")
	}
	bin := filepath.Join(t.TempDir(), "siphon-destination-memory")
	build := exec.Command("go", "build", "-o", bin, "github.com/siphonhq/siphon/plugins/examples/memory/cmd/siphon-destination-memory")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the example plugin: %v\n%s", err, out)
	}
	code, out, errOut := siphon(t, "plugin", "test", "--records", "2000", bin)
	if code != 0 || !strings.Contains(out, "\nPASS  ") || !strings.Contains(out, "ok    keys complete and ordered") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = siphon(t, "plugin", "test", "/bin/true")
	if code != 1 || !strings.Contains(out, "FAIL  launch:") || !strings.Contains(out, "sdk.Serve") {
		t.Fatalf("a non-plugin: exit %d\n%s", code, out)
	}
}
