package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/internal/state"
)

func init() {
	flags := operatorFlags
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	allFlag := &cli.BoolFlag{Name: "all", Usage: "every dead letter of the tenant"}
	commands = append(commands, &cli.Command{
		Name:  "dlq",
		Usage: "inspect, replay or purge a tenant's dead letters (records that will not be retried automatically)",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list TENANT's dead letters, oldest first",
				ArgsUsage: "TENANT",
				Flags:     flags(jsonFlag, &cli.IntFlag{Name: "limit", Usage: "show at most `N` letters (0: all)", Value: 100}),
				Action:    runDLQList,
			},
			{
				Name:      "show",
				Usage:     "show one dead letter in full: entry, error, trace id and payload",
				ArgsUsage: "TENANT ID",
				Flags:     flags(jsonFlag),
				Action:    runDLQShow,
			},
			{
				Name:      "replay",
				Usage:     "put dead letters back on their queues with attempts reset (version and sequence kept)",
				ArgsUsage: "TENANT (ID...|--all)",
				Flags:     flags(allFlag),
				Action:    runDLQReplay,
			},
			{
				Name:      "purge",
				Usage:     "delete dead letters for good",
				ArgsUsage: "TENANT (ID...|--all --yes)",
				Flags:     flags(allFlag, &cli.BoolFlag{Name: "yes", Usage: "confirm --all"}),
				Action:    runDLQPurge,
			},
		},
	})
}

// letterSummary is one line of dlq list.
type letterSummary struct {
	ID          string    `json:"id"`
	Destination string    `json:"destination"`
	Pipeline    string    `json:"pipeline"`
	Key         string    `json:"key"`
	Op          string    `json:"op"`
	Attempts    int       `json:"attempts"`
	Reason      string    `json:"reason"`
	LastError   string    `json:"last_error,omitempty"`
	At          time.Time `json:"at"`
}

type letterList struct {
	Tenant  string          `json:"tenant"`
	Letters []letterSummary `json:"letters"`
	// More says the list stopped at --limit with letters left.
	More bool `json:"more"`
}

// letterDetail is everything dlq show knows about a letter.
type letterDetail struct {
	letterSummary
	Version          time.Time `json:"version"`
	ConfigGeneration int64     `json:"config_generation"`
	Seq              int64     `json:"seq"`
	ContentHash      string    `json:"content_hash,omitempty"`
	Trace            string    `json:"trace,omitempty"`
	TraceID          string    `json:"trace_id,omitempty"`
	// Payload is the source record as it was read; a payload that is not
	// JSON (it always should be) is shown as a string rather than dropped.
	Payload json.RawMessage `json:"payload,omitempty"`
}

func summarize(l state.DeadLetter) letterSummary {
	e := l.Entry
	return letterSummary{ID: l.ID, Destination: l.Destination, Pipeline: e.Pipeline, Key: e.Key, Op: e.Op,
		Attempts: e.Attempts, Reason: l.Reason, LastError: e.LastError, At: l.At.UTC()}
}

// dlqPage is how many letters one store call returns while walking a DLQ.
const dlqPage = 500

// listLetters returns up to limit letters (all when limit < 1) and whether
// more are left.
func listLetters(c *cli.Context, st state.Store, tenant string, limit int) ([]state.DeadLetter, bool, error) {
	var out []state.DeadLetter
	after := ""
	for {
		n := dlqPage
		if limit > 0 {
			// One more than asked, to learn whether any are left.
			n = min(n, limit-len(out)+1)
		}
		page, next, err := st.DeadLetterList(c.Context, tenant, after, n)
		if err != nil {
			return nil, false, err
		}
		out = append(out, page...)
		if limit > 0 && len(out) > limit {
			return out[:limit], true, nil
		}
		if next == "" {
			return out, false, nil
		}
		after = next
	}
}

func runDLQList(c *cli.Context) error {
	tg, err := operatorTarget(c, "dlq list TENANT", 1, 1)
	if err != nil {
		return err
	}
	if c.Int("limit") < 0 {
		return &exitError{code: 1, msg: "--limit must be 0 (all) or more"}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	letters, more, err := listLetters(c, st, tg.tenant.ID, c.Int("limit"))
	if err != nil {
		return err
	}
	out := letterList{Tenant: tg.tenant.ID, Letters: []letterSummary{}, More: more}
	for _, l := range letters {
		out.Letters = append(out.Letters, summarize(l))
	}
	if tg.json {
		return printJSON(c.App.Writer, out)
	}
	w := c.App.Writer
	if len(out.Letters) == 0 {
		fmt.Fprintf(w, "the dead-letter queue of %s is empty\n", tg.tenant.ID)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPIPELINE\tKEY\tATTEMPTS\tWHEN\tLAST ERROR")
	for _, l := range out.Letters {
		why := l.LastError
		if why == "" {
			why = l.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", l.ID, l.Pipeline, l.Key, l.Attempts, l.At.Format(time.RFC3339), shorten(why, 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more {
		fmt.Fprintf(w, "(showing the first %d; --limit 0 lists all)\n", len(out.Letters))
	}
	return nil
}

// shorten keeps an error to one line of at most n runes, so a long HTTP
// body does not wrap the table.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func runDLQShow(c *cli.Context) error {
	tg, err := operatorTarget(c, "dlq show TENANT ID", 2, 2)
	if err != nil {
		return err
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := st.DeadLetter(c.Context, tg.tenant.ID, tg.args[1])
	if errors.Is(err, state.ErrNotFound) {
		return &exitError{code: 1, msg: fmt.Sprintf("no dead letter %q for tenant %s (siphon dlq list %s shows the ids)", tg.args[1], tg.tenant.ID, tg.tenant.ID)}
	}
	if err != nil {
		return err
	}
	e := l.Entry
	d := letterDetail{letterSummary: summarize(l), Version: e.Version.UTC(), ConfigGeneration: e.ConfigGeneration,
		Seq: e.Seq, ContentHash: e.ContentHash, Trace: e.Trace, TraceID: traceID(e.Trace), Payload: payloadJSON(e.Payload)}
	if tg.json {
		return printJSON(c.App.Writer, d)
	}
	printLetter(c.App.Writer, d)
	return nil
}

// traceID is the trace id of a W3C traceparent (version-traceid-spanid-
// flags), the id a tracing backend searches by; "" when it is not one.
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}

func payloadJSON(p []byte) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Indent(&buf, p, "", "  ") == nil {
		return buf.Bytes()
	}
	s, _ := json.Marshal(string(p)) // a string always marshals
	return s
}

func printLetter(w io.Writer, d letterDetail) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// A value's further lines (a multi-line error) stay in the value column.
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%s\n", k, strings.ReplaceAll(fmt.Sprint(v), "\n", "\n\t")) }
	row("id", d.ID)
	row("destination", d.Destination)
	row("pipeline", d.Pipeline)
	row("key", d.Key)
	row("op", d.Op)
	row("reason", d.Reason)
	row("dead since", d.At.Format(time.RFC3339)+" ("+time.Since(d.At).Round(time.Second).String()+" ago)")
	row("attempts", d.Attempts)
	row("last error", d.LastError)
	row("version", d.Version.Format(time.RFC3339Nano))
	row("config generation", d.ConfigGeneration)
	row("seq", d.Seq)
	row("content hash", d.ContentHash)
	if d.TraceID != "" {
		row("trace id", d.TraceID)
	}
	row("trace", d.Trace)
	tw.Flush()
	fmt.Fprintln(w, "payload:")
	fmt.Fprintln(w, string(d.Payload))
}

// letterIDs resolves the letters an action names: the ids given after the
// tenant, every one of which must exist (so a typo changes nothing), or
// with --all every letter of the tenant.
func letterIDs(c *cli.Context, st state.Store, tg target) ([]string, error) {
	ids := tg.args[1:]
	if c.Bool("all") {
		letters, _, err := listLetters(c, st, tg.tenant.ID, 0)
		if err != nil {
			return nil, err
		}
		for _, l := range letters {
			ids = append(ids, l.ID)
		}
		return ids, nil
	}
	var missing []string
	for _, id := range ids {
		_, err := st.DeadLetter(c.Context, tg.tenant.ID, id)
		if errors.Is(err, state.ErrNotFound) {
			missing = append(missing, id)
		} else if err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("no dead letter %s for tenant %s; nothing changed (siphon dlq list %s shows the ids)", strings.Join(missing, ", "), tg.tenant.ID, tg.tenant.ID)}
	}
	return ids, nil
}

// needIDs refuses an action with neither ids nor --all, or both, before
// the store is opened.
func needIDs(c *cli.Context, tg target) error {
	switch ids := len(tg.args) > 1; {
	case !ids && !c.Bool("all"):
		return &exitError{code: 1, msg: "siphon dlq " + c.Command.Name + " needs the letters' ids or --all"}
	case ids && c.Bool("all"):
		return &exitError{code: 1, msg: "give letter ids or --all, not both"}
	}
	return nil
}

// auditDetail says what an action touched: the ids when named, else the
// count only, which keeps an --all entry short.
func auditDetail(c *cli.Context, ids []string, n int) string {
	if c.Bool("all") {
		return "all, " + letterCount(n)
	}
	return letterCount(n) + ": " + strings.Join(ids, " ")
}

func letterCount(n int) string {
	if n == 1 {
		return "1 dead letter"
	}
	return fmt.Sprintf("%d dead letters", n)
}

func runDLQReplay(c *cli.Context) error {
	tg, err := operatorTarget(c, "dlq replay TENANT (ID...|--all)", 1, -1)
	if err != nil {
		return err
	}
	if err := needIDs(c, tg); err != nil {
		return err
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ids, err := letterIDs(c, st, tg)
	if err != nil {
		return err
	}
	n, err := st.Replay(c.Context, tg.tenant.ID, tg.tenant.Lane, ids)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "replayed %s of %s onto their queues\n", letterCount(n), tg.tenant.ID)
	return audit(c, tg, st, "dlq replay", auditDetail(c, ids, n))
}

func runDLQPurge(c *cli.Context) error {
	tg, err := operatorTarget(c, "dlq purge TENANT (ID...|--all --yes)", 1, -1)
	if err != nil {
		return err
	}
	if err := needIDs(c, tg); err != nil {
		return err
	}
	if c.Bool("all") && !c.Bool("yes") {
		return &exitError{code: 1, msg: fmt.Sprintf("purge --all deletes every dead letter of %s for good; add --yes to confirm", tg.tenant.ID)}
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	var n int
	ids := tg.args[1:]
	if c.Bool("all") {
		n, err = st.PurgeAll(c.Context, tg.tenant.ID)
	} else if ids, err = letterIDs(c, st, tg); err == nil {
		n, err = st.Purge(c.Context, tg.tenant.ID, ids)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "purged %s of %s\n", letterCount(n), tg.tenant.ID)
	return audit(c, tg, st, "dlq purge", auditDetail(c, ids, n))
}
