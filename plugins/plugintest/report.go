package plugintest

import (
	"fmt"
	"io"
	"strings"
)

// Write prints the report on one screen: one line per case, the reason
// under a failed one, and a summary.
func (r Report) Write(w io.Writer, label string) error {
	var b strings.Builder
	name := r.Plugin.Name
	if r.Plugin.Version != "" {
		name += " " + r.Plugin.Version
	}
	fmt.Fprintf(&b, "conformance of %s (%s)\n", label, strings.TrimSpace(name))
	if r.Err != nil {
		fmt.Fprintf(&b, "FAIL  %s\n", indent(r.Err.Error()))
		_, err := io.WriteString(w, b.String())
		return err
	}
	failed := 0
	for _, c := range r.Cases {
		status := "ok  "
		if c.Err != nil {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(&b, "  %s  %-32s %6.2fs\n", status, strings.ReplaceAll(c.Name, "_", " "), c.Duration.Seconds())
		if c.Err != nil {
			fmt.Fprintf(&b, "        %s\n", indent(c.Err.Error()))
		}
	}
	if failed == 0 {
		fmt.Fprintf(&b, "PASS  %d cases\n", len(r.Cases))
	} else {
		fmt.Fprintf(&b, "FAIL  %d of %d cases failed\n", failed, len(r.Cases))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// indent keeps a multi-line reason (a plugin's stderr tail) under its case.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 12 {
		lines = append(lines[:12], fmt.Sprintf("… %d more lines", len(lines)-12))
	}
	return strings.Join(lines, "\n        ")
}
