package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPluginList(t *testing.T) {
	code, out, errOut := siphon(t, "plugin", "list", "--plugin-dir", t.TempDir())
	if code != 0 || !regexp.MustCompile(`(?m)^sqlite +built-in`).MatchString(out) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
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
