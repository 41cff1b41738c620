package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/urfave/cli/v2"
)

// fmtCheckExit is what `fmt -check` returns when a file needs formatting:
// Terraform's code, so CI scripts written for `terraform fmt -check` carry over.
const fmtCheckExit = 3

func init() {
	commands = append(commands, &cli.Command{
		Name:      "fmt",
		Usage:     "rewrite pipeline files in the canonical HCL format",
		ArgsUsage: "[DIR|FILE...]",
		Description: "Formats every *.hcl file of each directory (not recursive) and each file named,\n" +
			"in place, and prints the names of the files it changed. With -check nothing is\n" +
			"written: the files that need formatting are listed and the exit code is 3.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "only list files that are not formatted; exit 3 if any"},
			&cli.BoolFlag{Name: "diff", Usage: "print a unified diff of the changes"},
			configFlag(),
		},
		Action: runFmt,
	})
}

// configFlag is --config DIR, the configuration directory used when a
// command is given none as an argument.
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Usage: "configuration `DIR` when none is given as an argument", EnvVars: []string{"SIPHON_CONFIG"}, Value: "."}
}

func runFmt(c *cli.Context) error {
	targets := c.Args().Slice()
	if len(targets) == 0 {
		targets = []string{c.String("config")}
	}
	files, err := hclFiles(targets)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	f := &formatter{check: c.Bool("check"), diff: c.Bool("diff"), out: c.App.Writer, errOut: c.App.ErrWriter}
	for _, path := range files {
		if err := f.file(path); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
	}
	switch {
	case f.invalid > 0:
		return &exitError{code: 1, msg: fmt.Sprintf("%s could not be parsed; fix the errors above", plural(f.invalid, "file"))}
	case f.check && f.changed > 0:
		return &exitError{code: fmtCheckExit, msg: fmt.Sprintf("%s not formatted; run siphon fmt", plural(f.changed, "file"))}
	}
	return nil
}

// hclFiles expands the targets: a directory gives its *.hcl files (sorted,
// not recursive), a file is taken as named.
func hclFiles(targets []string) ([]string, error) {
	var files []string
	for _, target := range targets {
		info, err := os.Stat(target)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, target)
			continue
		}
		entries, err := os.ReadDir(target)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".hcl") {
				files = append(files, filepath.Join(target, e.Name()))
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

// formatter formats files one at a time and counts the outcomes.
type formatter struct {
	check, diff      bool
	out, errOut      io.Writer
	changed, invalid int
}

// file formats one file. A file that does not parse is reported with its
// diagnostics and left alone: hclwrite would format around the error and
// could make it harder to find.
func (f *formatter) file(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	parsed, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		f.invalid++
		color, width := terminal(f.errOut)
		w := hcl.NewDiagnosticTextWriter(f.errOut, map[string]*hcl.File{path: parsed}, width, color)
		return w.WriteDiagnostics(diags)
	}
	formatted := hclwrite.Format(src)
	if bytes.Equal(src, formatted) {
		return nil
	}
	f.changed++
	if _, err := fmt.Fprintln(f.out, path); err != nil {
		return err
	}
	if f.diff {
		if err := difflib.WriteUnifiedDiff(f.out, difflib.UnifiedDiff{
			A:        lines(src),
			B:        lines(formatted),
			FromFile: path + ".orig",
			ToFile:   path,
			Context:  3,
		}); err != nil {
			return err
		}
	}
	if f.check {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, formatted, info.Mode().Perm())
}

// lines splits text into lines that keep their "\n", for the diff.
func lines(text []byte) []string {
	out := strings.SplitAfter(string(text), "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// plural says "1 file" or "3 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
