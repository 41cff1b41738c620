package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeExamples runs every command of the README's sh blocks, in
// order, in a scratch copy of pipelines/: siphon commands in-process
// (expecting exit 0, or the code a trailing "# exits N" names), the file
// edits of the tour through sh. A text block after an sh block is the
// output it shows, so the README cannot drift from what siphon prints:
// after a plan, every line shown ("..." aside) must appear in the output
// of the same plan at the golden files' --now; after anything else, its
// diagnostic, summary and diff lines must appear in the output.
func TestReadmeExamples(t *testing.T) {
	blocks := codeBlocks(readFile(t, "../../README.md"))
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "pipelines"), os.DirFS("../../pipelines")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)

	ran := 0
	var last, lastFixed, lastLang string
	for _, b := range blocks {
		switch b.lang {
		case "sh":
			for _, line := range b.lines {
				cmd, want := expectedExit(t, line)
				fields := strings.Fields(cmd)
				if len(fields) == 0 {
					continue
				}
				switch fields[0] {
				case "siphon":
					code, out, errOut := siphon(t, fields[1:]...)
					if code != want {
						t.Errorf("%s: exit %d, want %d\n%s%s", cmd, code, want, out, errOut)
					}
					last, lastFixed = out+errOut, ""
					if fields[1] == "plan" && !strings.Contains(cmd, "--now") {
						_, out, errOut := siphon(t, append([]string{"plan", fixedNow}, fields[2:]...)...)
						lastFixed = out + errOut
					}
					ran++
				case "sed", "mv", "rm":
					if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
						t.Fatalf("%s: %v\n%s", cmd, err, out)
					}
				case "make", "export":
					// Building the binary: the test runs the CLI in-process.
				default:
					t.Errorf("the README runs %q, which this test does not know how to check", cmd)
				}
			}
		case "text":
			if lastLang != "sh" {
				break
			}
			for _, line := range b.lines {
				shown := strings.TrimRight(line, " ")
				switch {
				case lastFixed != "":
					if shown != "" && strings.TrimSpace(shown) != "..." && !strings.Contains(lastFixed, shown) {
						t.Errorf("the README shows %q, but the plan printed:\n%s", line, lastFixed)
					}
				case checked(line) && !strings.Contains(last, strings.TrimSpace(line)):
					t.Errorf("the README shows %q, but the command before it printed:\n%s", line, last)
				}
			}
		}
		lastLang = b.lang
	}
	if ran < 10 {
		t.Errorf("ran %d siphon commands from the README; the parser may have lost some", ran)
	}
}

// checked says whether a line of shown output is stable enough to compare:
// diagnostics, summaries and diffs (siphon test's results among them), not
// the times a plan computes from now.
func checked(line string) bool {
	s := strings.TrimSpace(line)
	for _, prefix := range []string{"Plan:", "Error:", "Warning:", "on ", "invalid", "-  ", "+  ", "@@", "---", "+++",
		"Test:", "ok ", "FAIL ", "want:", "got:"} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// expectedExit splits "cmd   # exits N" into the command and N (0 when
// there is no such comment).
func expectedExit(t *testing.T, line string) (string, int) {
	cmd, comment, found := strings.Cut(line, "# exits ")
	if !found {
		return strings.TrimSpace(line), 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(comment))
	if err != nil {
		t.Fatalf("bad exit comment in %q", line)
	}
	return strings.TrimSpace(cmd), n
}

type codeBlock struct {
	lang  string
	lines []string
}

// codeBlocks returns the fenced code blocks of a Markdown text.
func codeBlocks(md string) []codeBlock {
	var blocks []codeBlock
	var cur *codeBlock
	for _, line := range strings.Split(md, "\n") {
		if fence, ok := strings.CutPrefix(line, "```"); ok {
			if cur == nil {
				cur = &codeBlock{lang: strings.TrimSpace(fence)}
			} else {
				blocks = append(blocks, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, line)
		}
	}
	return blocks
}
