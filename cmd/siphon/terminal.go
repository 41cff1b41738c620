package main

import (
	"io"
	"os"
	"strconv"

	"github.com/mattn/go-isatty"
)

// terminal reports whether w is an interactive terminal and, if so, the
// width to wrap diagnostic text at. Color and wrapping are for people:
// piped output (CI logs, golden files) stays plain and unwrapped.
func terminal(w io.Writer) (bool, uint) {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return false, 0
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return true, uint(n)
	}
	return true, 78
}
