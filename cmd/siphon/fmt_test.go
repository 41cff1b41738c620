package main

import (
	"path/filepath"
	"strings"
	"testing"
)

const (
	messy = "lane \"premium\" {\nweight=3\n}\nflag \"x\" {\n  stages = [\"internal\", \"10%\"]\n  stage = \"10%\"\n}\n"
	tidy  = "lane \"premium\" {\n  weight = 3\n}\nflag \"x\" {\n  stages = [\"internal\", \"10%\"]\n  stage  = \"10%\"\n}\n"
)

func TestFmtRewritesInPlace(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"lanes.hcl":       messy,
		"tidy.hcl":        tidy,
		"notes.txt":       "not = hcl   at all",
		"sub/nested.hcl":  messy,
		"x.auto.vars.hcl": "a   = 1\n",
	})
	code, out, errOut := siphon(t, "fmt", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := filepath.Join(dir, "lanes.hcl") + "\n" + filepath.Join(dir, "x.auto.vars.hcl") + "\n"
	if out != want {
		t.Errorf("listed %q, want %q", out, want)
	}
	if got := readFile(t, filepath.Join(dir, "lanes.hcl")); got != tidy {
		t.Errorf("lanes.hcl =\n%s\nwant\n%s", got, tidy)
	}
	if got := readFile(t, filepath.Join(dir, "sub/nested.hcl")); got != messy {
		t.Error("fmt recursed into a subdirectory")
	}
	if got := readFile(t, filepath.Join(dir, "notes.txt")); got != "not = hcl   at all" {
		t.Error("fmt touched a file that is not *.hcl")
	}
	if code, out, _ := siphon(t, "fmt", dir); code != 0 || out != "" {
		t.Errorf("second run: exit %d, listed %q; want 0 and nothing", code, out)
	}
}

func TestFmtCheck(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"lanes.hcl": messy, "tidy.hcl": tidy})
	code, out, errOut := siphon(t, "fmt", "-check", dir)
	if code != fmtCheckExit {
		t.Errorf("exit %d, want %d", code, fmtCheckExit)
	}
	if want := filepath.Join(dir, "lanes.hcl") + "\n"; out != want {
		t.Errorf("listed %q, want %q", out, want)
	}
	if !strings.Contains(errOut, "1 file not formatted; run siphon fmt") {
		t.Errorf("stderr %q does not say what to do", errOut)
	}
	if readFile(t, filepath.Join(dir, "lanes.hcl")) != messy {
		t.Error("-check wrote the file")
	}
	if code, _, _ := siphon(t, "fmt", "-check", filepath.Join(dir, "tidy.hcl")); code != 0 {
		t.Errorf("-check of a formatted file: exit %d, want 0", code)
	}
}

func TestFmtDiff(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"lanes.hcl": messy})
	path := filepath.Join(dir, "lanes.hcl")
	code, out, _ := siphon(t, "fmt", "-check", "-diff", path)
	if code != fmtCheckExit {
		t.Errorf("exit %d, want %d", code, fmtCheckExit)
	}
	want := path + "\n" +
		"--- " + path + ".orig\n" +
		"+++ " + path + "\n" +
		"@@ -1,7 +1,7 @@\n" +
		" lane \"premium\" {\n" +
		"-weight=3\n" +
		"+  weight = 3\n" +
		" }\n" +
		" flag \"x\" {\n" +
		"   stages = [\"internal\", \"10%\"]\n" +
		"-  stage = \"10%\"\n" +
		"+  stage  = \"10%\"\n" +
		" }\n"
	if out != want {
		t.Errorf("diff output:\n%s\nwant:\n%s", out, want)
	}
}

func TestFmtParseError(t *testing.T) {
	dir := t.TempDir()
	broken := "lane \"premium\" {\n  weight = \n}\n"
	writeFiles(t, dir, map[string]string{"broken.hcl": broken, "lanes.hcl": messy})
	code, _, errOut := siphon(t, "fmt", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"Error: ", "broken.hcl line 2", "weight = ", "1 file could not be parsed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if readFile(t, filepath.Join(dir, "broken.hcl")) != broken {
		t.Error("a file that does not parse was rewritten")
	}
	if readFile(t, filepath.Join(dir, "lanes.hcl")) != tidy {
		t.Error("a parse error in one file stopped the others from being formatted")
	}
}

func TestFmtMissingPath(t *testing.T) {
	code, _, errOut := siphon(t, "fmt", filepath.Join(t.TempDir(), "nope"))
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("exit %d, stderr %q; want 1 and the missing path", code, errOut)
	}
}

func TestFmtConfigFlag(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"lanes.hcl": messy})
	t.Setenv("SIPHON_CONFIG", dir)
	if code, out, _ := siphon(t, "fmt", "-check"); code != fmtCheckExit || !strings.Contains(out, "lanes.hcl") {
		t.Errorf("SIPHON_CONFIG: exit %d, listed %q", code, out)
	}
}
