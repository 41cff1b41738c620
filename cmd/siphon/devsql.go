package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/plugins/destinations/sqlite"
)

// devSQLCommand is `siphon dev sql`: a read-only look into a sqlite
// destination, so that the demo (and a newcomer) can see the synced rows
// without installing the sqlite3 shell.
func devSQLCommand() *cli.Command {
	return &cli.Command{
		Name:      "sql",
		Usage:     "run a read-only SQL query against a sqlite destination and print the rows",
		ArgsUsage: "QUERY",
		Description: "Opens the file of the sqlite destination (its config `path`, default\n" +
			sqlite.DefaultPath + ", relative to the configuration directory) read-only and\n" +
			"prints the result as a table. Several arguments are joined with spaces.",
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "destination", Usage: "the sqlite destination `NAME` (needed only when there are several)"},
			&cli.BoolFlag{Name: "json", Usage: "print the rows as a JSON array of objects"},
		},
		Action: runDevSQL,
	}
}

func runDevSQL(c *cli.Context) error {
	query := strings.TrimSpace(strings.Join(c.Args().Slice(), " "))
	if query == "" {
		return &exitError{code: 1, msg: "dev sql needs a QUERY, e.g. siphon dev sql --config DIR 'SELECT tenant, count(*) FROM volunteers GROUP BY tenant'"}
	}
	dir, plan, err := loadConfig(c.String("config"))
	if err != nil {
		return err
	}
	path, err := sqlitePath(plan, c.String("destination"), dir)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	// Checked first because sqlite's own message for a missing file,
	// "unable to open database file", does not say which file or why.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return &exitError{code: 1, msg: fmt.Sprintf("no database at %s yet: siphon run --config %s writes it", path, dir)}
	} else if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	db, err := openReadOnly(path)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	defer db.Close()
	cols, rows, err := queryAll(c, db, query)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", path, err)}
	}
	if c.Bool("json") {
		return printJSONRows(c.App.Writer, cols, rows)
	}
	printTable(c.App.Writer, cols, rows)
	return nil
}

// sqlitePath finds the file of the named sqlite destination, or of the only
// one when no name is given.
func sqlitePath(plan *dsl.Plan, name, dir string) (string, error) {
	var found []*dsl.Destination
	var names []string
	for _, d := range plan.Destinations {
		if d.Plugin != sqlite.Name {
			continue
		}
		names = append(names, d.Name)
		if name == "" || d.Name == name {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 1:
	case name != "":
		return "", fmt.Errorf("no sqlite destination %q in %s (sqlite destinations: %s)", name, dir, listOrNone(names))
	case len(found) == 0:
		return "", fmt.Errorf("no sqlite destination in %s", dir)
	default:
		return "", fmt.Errorf("%s has several sqlite destinations (%s): choose one with --destination", dir, strings.Join(names, ", "))
	}
	path := sqlite.DefaultPath
	cfg := found[0].Config
	if cfg.IsKnown() && !cfg.IsNull() && cfg.Type().IsObjectType() && cfg.Type().HasAttribute("path") {
		v := cfg.GetAttr("path")
		if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return "", fmt.Errorf("the path of destination %s is not a known string", found[0].Name)
		}
		path = v.AsString()
	}
	// The plugin runs in the configuration directory, so its relative path
	// is relative to that, not to where siphon was started.
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return path, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// openReadOnly opens path so that no statement can change it: mode=ro makes
// sqlite refuse writes and never create the file, and query_only guards
// against a statement that would write anyway (ATTACH of another file).
// WAL files a running siphon holds are read, so the rows are current.
func openReadOnly(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	// A file: URI, with the path escaped, so that a space, '?' or '#' in
	// it is part of the name and not of the query.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: the command runs one query, and the pragmas apply per
	// connection anyway.
	db.SetMaxOpenConns(1)
	return db, nil
}

// queryAll runs query and returns every row as display-ready values.
func queryAll(c *cli.Context, db *sql.DB, query string) ([]string, [][]any, error) {
	rs, err := db.QueryContext(c.Context, query)
	if err != nil {
		return nil, nil, readOnlyHint(err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, nil, err
	}
	var rows [][]any
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		for i, v := range vals {
			vals[i] = plainValue(v)
		}
		rows = append(rows, vals)
	}
	if err := rs.Err(); err != nil {
		return nil, nil, readOnlyHint(err)
	}
	return cols, rows, nil
}

// readOnlyHint says why a write failed: sqlite's "attempt to write a
// readonly database" reads like a permissions problem.
func readOnlyHint(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only") || strings.Contains(msg, "query_only") {
		return fmt.Errorf("%w (dev sql opens the database read-only; siphon is the only writer)", err)
	}
	return err
}

// plainValue turns what the driver returns into values that print and
// encode as they read: text stays text, bytes that are not UTF-8 become
// hex, times become RFC 3339.
func plainValue(v any) any {
	switch x := v.(type) {
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return fmt.Sprintf("x'%X'", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// cellText is how a value appears in the table: NULL spelled out, and line
// breaks escaped so that one row stays one line.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return cellEscaper.Replace(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

var cellEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

// printTable prints rows under their column names, numbers right-aligned,
// and a row count, as psql does.
func printTable(w io.Writer, cols []string, rows [][]any) {
	width := make([]int, len(cols))
	numeric := make([]bool, len(cols))
	for i, c := range cols {
		width[i] = utf8.RuneCountInString(c)
		numeric[i] = len(rows) > 0
	}
	cells := make([][]string, len(rows))
	for r, row := range rows {
		cells[r] = make([]string, len(cols))
		for i, v := range row {
			s := cellText(v)
			cells[r][i] = s
			width[i] = max(width[i], utf8.RuneCountInString(s))
			switch v.(type) {
			case int64, float64, nil:
			default:
				numeric[i] = false
			}
		}
	}
	var b bytes.Buffer
	line := func(vals []string, right []bool) {
		var l strings.Builder
		for i, s := range vals {
			if i > 0 {
				l.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			if right[i] {
				l.WriteString(pad + s)
			} else {
				l.WriteString(s + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	line(cols, numeric)
	rules := make([]string, len(cols))
	for i := range cols {
		rules[i] = strings.Repeat("-", width[i])
	}
	line(rules, numeric)
	for _, row := range cells {
		line(row, numeric)
	}
	if len(rows) == 1 {
		b.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(&b, "(%d rows)\n", len(rows))
	}
	_, _ = w.Write(b.Bytes())
}

// printJSONRows prints one object per row with the keys in column order
// (a map would sort them).
func printJSONRows(w io.Writer, cols []string, rows [][]any) error {
	var b bytes.Buffer
	b.WriteString("[")
	for r, row := range rows {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for i, v := range row {
			if i > 0 {
				b.WriteString(", ")
			}
			k, err := json.Marshal(cols[i])
			if err != nil {
				return err
			}
			val, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("column %s: %w", cols[i], err)
			}
			b.Write(k)
			b.WriteString(": ")
			b.Write(val)
		}
		b.WriteString("}")
	}
	if len(rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}
