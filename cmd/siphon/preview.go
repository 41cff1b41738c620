package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/siphonhq/siphon/runtime"
)

// Preview bounds: a preview is a look at a few records, never a sync.
const (
	previewDefaultLimit = 10
	previewMaxLimit     = 100
	// previewMaxRequests caps the requests of one preview (pages of a
	// child resource's parents included), whatever the limit.
	previewMaxRequests = 5
	// previewAttempts and previewMaxBackoff bound the retries of a request.
	previewAttempts   = 3
	previewMaxBackoff = 5 * time.Second
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "preview",
		Usage:     "fetch a few records from the live source with a tenant's credentials and show what they map to",
		ArgsUsage: "TENANT PIPELINE",
		Description: "Reads up to --limit records of the pipeline's resource from the source with TENANT's\n" +
			"stored token (one page or a few, paced at the tenant's rate_limit) and shows each source\n" +
			"record with what the pipeline's filter and mapping make of it: the mapped fields, filtered\n" +
			"out, or the mapping error that would send it to the dead-letter queue. With\n" +
			"--against-destination it also reads what the destination holds for those records and\n" +
			"shows the field-level change a sync would apply. It writes no state, and of the\n" +
			"destination it calls only Read.",
		Flags: operatorFlags(
			&cli.IntFlag{Name: "limit", Value: previewDefaultLimit, Usage: fmt.Sprintf("fetch at most `N` records (1-%d)", previewMaxLimit)},
			&cli.BoolFlag{Name: "against-destination", Usage: "also show what the destination holds and what a sync would change"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document instead of a table"},
		),
		Action: runPreview,
	})
}

// previewReport is what a preview found, for either view.
type previewReport struct {
	Tenant      string          `json:"tenant"`
	Pipeline    string          `json:"pipeline"`
	Resource    string          `json:"resource"`
	Path        string          `json:"path"`
	Requests    int             `json:"requests"`
	Destination string          `json:"destination,omitempty"`
	Records     []previewRecord `json:"records"`
	Summary     map[string]int  `json:"summary"`
	// Filter is the pipeline's filter text, for the human view.
	Filter string `json:"-"`
	// Fields are the mapped field names in declaration order.
	Fields []string `json:"-"`
}

// previewRecord is one source record and what becomes of it.
type previewRecord struct {
	Key    string         `json:"key"`
	Source map[string]any `json:"source"`
	// Outcome is "mapped", "filtered" or "error".
	Outcome string         `json:"outcome"`
	Output  map[string]any `json:"output,omitempty"`
	Error   string         `json:"error,omitempty"`
	// Held is what the destination holds (--against-destination only);
	// nil when it holds nothing for the key.
	Held *heldRow `json:"held,omitempty"`
	// Action is what a sync would do at the destination: insert, update,
	// unchanged, delete, none, stale (it holds a newer version) or
	// dead-letter (the record cannot be mapped).
	Action  string        `json:"action,omitempty"`
	Changes []fieldChange `json:"changes,omitempty"`
}

// heldRow is a destination's row for a key.
type heldRow struct {
	Version   time.Time      `json:"version"`
	Tombstone bool           `json:"tombstone,omitempty"`
	Fields    map[string]any `json:"fields,omitempty"`
}

// fieldChange is one field a sync would change.
type fieldChange struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// previewTarget is what the preview reads: the tenant's pipeline, its
// resource and source.
type previewTarget struct {
	target
	pipeline *dsl.Pipeline
	resource *dsl.Resource
	source   *dsl.Source
}

func runPreview(c *cli.Context) error {
	const usage = "preview TENANT PIPELINE [--limit N] [--against-destination] [-json]"
	tg, err := operatorTarget(c, usage, 2, 2)
	if err != nil {
		return err
	}
	limit := c.Int("limit")
	if limit < 1 || limit > previewMaxLimit {
		return &exitError{code: 1, msg: fmt.Sprintf("--limit %d: a preview reads 1 to %d records", limit, previewMaxLimit)}
	}
	pt, err := previewTargetOf(tg)
	if err != nil {
		return err
	}
	token, err := storedToken(c, tg)
	if err != nil {
		return err
	}
	recs, requests, err := fetchPreview(c.Context, pt, token, limit)
	if err != nil {
		return err
	}
	rep := mapPreview(pt, recs)
	rep.Requests = requests
	if c.Bool("against-destination") {
		if err := compareDestination(c.Context, pt, rep, c.App.ErrWriter); err != nil {
			return err
		}
	}
	rep.summarize()
	if tg.json {
		return printJSON(c.App.Writer, rep)
	}
	_, width := terminal(c.App.Writer)
	return rep.human(c.App.Writer, int(width))
}

// previewTargetOf finds the pipeline named on the command line among the
// tenant's active ones, with its resource and source.
func previewTargetOf(tg target) (*previewTarget, error) {
	name := tg.args[1]
	if err := tg.activePipeline(name); err != nil {
		return nil, err
	}
	pt := &previewTarget{target: tg}
	for _, p := range tg.plan.Pipelines {
		if p.Name == name {
			pt.pipeline = p
		}
	}
	for _, r := range tg.plan.Resources {
		if r.Name == pt.pipeline.Resource {
			pt.resource = r
		}
	}
	for _, s := range tg.plan.Sources {
		if pt.resource != nil && s.Name == pt.resource.Source {
			pt.source = s
		}
	}
	if pt.pipeline == nil || pt.resource == nil || pt.source == nil || pt.pipeline.Transform == nil {
		return nil, fmt.Errorf("pipeline %s: its resource or source is missing from the plan", name)
	}
	if pt.source.Kind != "vomo" {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("source %s is of kind %q; preview reads vomo sources", pt.source.Name, pt.source.Kind)}
	}
	return pt, nil
}

// storedToken opens the tenant's sealed token from the store. The store is
// opened only to read it and closed at once; a local store that does not
// exist is not created.
func storedToken(c *cli.Context, tg target) (string, error) {
	ctx := c.Context
	t := tg.tenant
	setHint := fmt.Sprintf("run siphon credentials set %s --config %s", t.ID, tg.config)
	u, err := storeURL(tg.store, tg.plan, tg.config)
	if err != nil {
		return "", &exitError{code: 1, msg: err.Error()}
	}
	if !strings.Contains(u, "://") {
		if _, err := os.Stat(u); errors.Is(err, os.ErrNotExist) {
			return "", &exitError{code: 1, msg: fmt.Sprintf("no credentials for %s: the store %s does not exist yet; %s", t.ID, u, setHint)}
		}
	}
	kms, err := secrets.LoadKeyring(tg.config, "", false, nil)
	if err != nil {
		return "", &exitError{code: 1, msg: fmt.Sprintf("credentials of %s: %v", t.ID, err)}
	}
	st, err := state.Open(ctx, u, storeOptions(c))
	if err != nil {
		return "", &exitError{code: 1, msg: err.Error()}
	}
	defer st.Close()
	tok, err := runtime.SealedCredentials{Store: st, KMS: kms}.Token(ctx, t)
	if errors.Is(err, runtime.ErrNoCredentials) {
		return "", &exitError{code: 1, msg: fmt.Sprintf("no credentials stored for %s (as %q): %s", t.ID, runtime.CredentialName(t), setHint)}
	}
	if err != nil {
		return "", fmt.Errorf("credentials of %s: %w", t.ID, err)
	}
	return tok, nil
}

// pacer spaces requests at a rate: a preview stays within the tenant's
// rate_limit on its own, whatever else is using the budget.
type pacer struct {
	every time.Duration
	next  time.Time
}

func (p *pacer) Wait(ctx context.Context) error {
	now := time.Now()
	if wait := p.next.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		now = p.next
	}
	p.next = now.Add(p.every)
	return nil
}

// errEnough stops a scan once the preview has its records.
var errEnough = errors.New("enough records")

// fetchPreview reads up to limit records of the pipeline's resource: the
// first pages of its list, or for a child resource the first parents'
// children. It returns the records and the number of requests made.
func fetchPreview(ctx context.Context, pt *previewTarget, token string, limit int) ([]vomo.Record, int, error) {
	src, t := pt.source, pt.tenant
	if !src.BaseURL.Known || src.BaseURL.Text == "" {
		return nil, 0, &exitError{code: 1, msg: fmt.Sprintf("source %s: base_url has no value", src.Name)}
	}
	rate, ok := t.RateLimits[src.Name]
	if !ok || rate.N < 1 {
		rate = src.RateLimit
	}
	// The offset is taken as zero rather than probed: a preview fixes no
	// window, so probing the API's clock would only cost a request.
	off := &vomo.ClockOffset{}
	off.Set(0)
	// Someone is waiting at a terminal: retry a little, not for minutes
	// as a sync would.
	retry := vomo.Retry{Attempts: min(src.Retry.Attempts, previewAttempts), Backoff: src.Retry.Backoff.D(),
		MaxBackoff: min(src.Retry.MaxBackoff.D(), previewMaxBackoff)}
	requests := 0
	c, err := vomo.New(vomo.Config{BaseURL: src.BaseURL.Text, Tenant: t.ID, Token: vomo.StaticToken(token),
		Timeout: src.Timeout.D(), Offset: off, PerPage: limit, Retry: retry, MaxRetryAfter: previewMaxBackoff,
		Limiter: &pacer{every: rate.Per.D() / time.Duration(rate.N)},
		Hooks:   vomo.Hooks{OnRequest: func(vomo.RequestInfo) { requests++ }}})
	if err != nil {
		return nil, 0, fmt.Errorf("source %s for %s: %w", src.Name, t.ID, err)
	}
	var out []vomo.Record
	read := func(res *dsl.Resource, parent string, want int, fn func(vomo.Record)) error {
		vr := vomo.Resource{Path: res.Path, Parent: parent, PrimaryKey: res.PrimaryKey}
		p, err := c.NewScan(ctx, vr)
		if err != nil {
			return err
		}
		got := 0
		_, err = c.Scan(ctx, vr, p, func(_ context.Context, pg vomo.Page) error {
			for _, r := range pg.Records {
				if got == want {
					break
				}
				fn(r)
				got++
			}
			if got == want || requests >= previewMaxRequests {
				return errEnough
			}
			return nil
		})
		if errors.Is(err, errEnough) {
			return nil
		}
		return err
	}
	res := pt.resource
	if res.Parent == "" {
		err = read(res, "", limit, func(r vomo.Record) { out = append(out, r) })
	} else {
		err = readChildren(pt, read, limit, &requests, &out)
	}
	if err != nil {
		return nil, requests, fmt.Errorf("preview %s/%s: %w", t.ID, res.Name, err)
	}
	return out, requests, nil
}

// readChildren reads a child resource's records under the parents of the
// first parent page, until it has limit records or has spent its requests.
func readChildren(pt *previewTarget, read func(*dsl.Resource, string, int, func(vomo.Record)) error, limit int, requests *int, out *[]vomo.Record) error {
	var parent *dsl.Resource
	for _, r := range pt.plan.Resources {
		if r.Name == pt.resource.Parent {
			parent = r
		}
	}
	if parent == nil {
		return fmt.Errorf("resource %s: parent %s is missing from the plan", pt.resource.Name, pt.resource.Parent)
	}
	var ids []string
	var keyErr error
	err := read(parent, "", limit, func(r vomo.Record) {
		keys, err := runtime.ParentKeys(r, pt.resource)
		if err != nil && keyErr == nil {
			keyErr = fmt.Errorf("parent_key of %s record %s: %w", parent.Name, r.Key, err)
		}
		ids = append(ids, keys...)
	})
	if err != nil {
		return err
	}
	if keyErr != nil {
		return keyErr
	}
	for _, id := range ids {
		if len(*out) >= limit || *requests >= previewMaxRequests {
			break
		}
		if err := read(pt.resource, id, limit-len(*out), func(r vomo.Record) { *out = append(*out, r) }); err != nil {
			return err
		}
	}
	return nil
}

// mapPreview runs each record through the pipeline's compiled filter and
// mapping for the tenant, as the runtime does.
func mapPreview(pt *previewTarget, recs []vomo.Record) *previewReport {
	p := pt.pipeline
	rep := &previewReport{Tenant: pt.tenant.ID, Pipeline: p.Name, Resource: pt.resource.Name, Path: pt.resource.Path,
		Records: make([]previewRecord, 0, len(recs)), Filter: p.Filter, Fields: p.Transform.Fields()}
	for _, r := range recs {
		fields, decodeErr := r.Fields()
		pr := previewRecord{Key: r.Key, Source: fields}
		row, keep, err := p.Transform.Apply(fields, pt.tenant)
		switch {
		case decodeErr != nil:
			pr.Outcome, pr.Error = "error", decodeErr.Error()
		case err != nil:
			pr.Outcome, pr.Error = "error", err.Error()
		case !keep:
			pr.Outcome = "filtered"
		default:
			pr.Outcome, pr.Output = "mapped", row
		}
		rep.Records = append(rep.Records, pr)
	}
	return rep
}

// compareDestination reads what the pipeline's destination holds for the
// previewed keys (sdk.Destination's Read: live rows and tombstones) and
// works out what a sync would do to each. Only Read is called.
func compareDestination(ctx context.Context, pt *previewTarget, rep *previewReport, logTo io.Writer) error {
	var dest *dsl.Destination
	for _, d := range pt.plan.Destinations {
		if d.Name == pt.pipeline.Destination {
			dest = d
		}
	}
	if dest == nil {
		return fmt.Errorf("pipeline %s: destination %s is missing from the plan", pt.pipeline.Name, pt.pipeline.Destination)
	}
	rep.Destination = dest.Name
	d, err := host.Launch(ctx, host.LaunchConfig{Name: dest.Name, Plugin: dest.Plugin, SHA256: dest.SHA256,
		Config: dest.Config, Dir: pt.config, Logger: slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Timeouts: host.Timeouts{Write: dest.Timeout.D()}})
	if err != nil {
		return fmt.Errorf("destination %s: %w", dest.Name, err)
	}
	defer d.Close(context.WithoutCancel(ctx))
	keys := make([]string, len(rep.Records))
	for i, r := range rep.Records {
		keys[i] = r.Key
	}
	rows, err := d.Read(ctx, pt.tenant.ID, pt.pipeline.Object, keys)
	if err != nil {
		return fmt.Errorf("destination %s: read %s of %s: %w", dest.Name, pt.pipeline.Object, pt.tenant.ID, err)
	}
	held := make(map[string]sdk.Row, len(rows))
	for _, r := range rows {
		held[r.Key] = r
	}
	for i := range rep.Records {
		r := &rep.Records[i]
		row, ok := held[r.Key]
		if ok {
			r.Held = &heldRow{Version: row.Version.Source, Tombstone: row.Tombstone, Fields: row.Fields}
		}
		r.Action, r.Changes = syncAction(r, row, ok && !row.Tombstone, recordVersion(pt.resource, r.Source), rep.Fields)
	}
	return nil
}

// recordVersion is a record's source version from its version field; zero
// when the resource has none or the field does not parse.
func recordVersion(res *dsl.Resource, rec map[string]any) time.Time {
	if res.VersionHash || res.VersionField == "" {
		return time.Time{}
	}
	s, ok := rec[res.VersionField].(string)
	if !ok {
		return time.Time{}
	}
	t, err := vomo.ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// syncAction is what a sync would do with a previewed record given what
// the destination holds: the version rule first (an older record is
// skipped), then the field-level change.
func syncAction(r *previewRecord, row sdk.Row, live bool, version time.Time, fields []string) (string, []fieldChange) {
	switch r.Outcome {
	case "error":
		return "dead-letter", nil
	case "filtered":
		if live {
			return "delete", nil
		}
		return "none", nil
	}
	// An upsert applies only when it orders after what is held; one at or
	// below a tombstone's version is blocked by it.
	if h := r.Held; h != nil && !version.IsZero() && (version.Before(h.Version) || h.Tombstone && version.Equal(h.Version)) {
		return "stale", nil
	}
	var changes []fieldChange
	for _, f := range fields {
		var from any
		if live {
			from = row.Fields[f]
		}
		if !live || !sameValue(from, r.Output[f]) {
			changes = append(changes, fieldChange{Field: f, From: from, To: r.Output[f]})
		}
	}
	switch {
	case !live:
		return "insert", changes
	case len(changes) == 0:
		return "unchanged", nil
	}
	return "update", changes
}

// sameValue compares a held value with a mapped one by their JSON forms
// (so int64 3 and float64 3 agree), and a held time with a mapped
// timestamp string by instant.
func sameValue(held, mapped any) bool {
	if t, ok := held.(time.Time); ok {
		if s, ok := mapped.(string); ok {
			if mt, err := vomo.ParseTime(s); err == nil {
				return mt.Equal(t)
			}
		}
	}
	a, errA := json.Marshal(held)
	b, errB := json.Marshal(mapped)
	return errA == nil && errB == nil && string(a) == string(b)
}

// summarize counts the outcomes and actions.
func (rep *previewReport) summarize() {
	rep.Summary = map[string]int{"records": len(rep.Records)}
	for _, r := range rep.Records {
		rep.Summary[r.Outcome]++
		if r.Action != "" {
			rep.Summary[r.Action]++
		}
	}
}

// human writes the preview as a table per record: the source record, then
// each mapped field (with what the destination holds and whether a sync
// changes it, with --against-destination). width, when not zero, is the
// terminal's: long source records are cut to it.
func (rep *previewReport) human(w io.Writer, width int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Preview of %s for %s: %s from %s (%s)\n", rep.Pipeline, rep.Tenant, plural(len(rep.Records), "record"), rep.Path, plural(rep.Requests, "request"))
	against := rep.Destination != ""
	for i, r := range rep.Records {
		b.WriteString("\n")
		head := fmt.Sprintf("record %d  key %s  %s", i+1, r.Key, r.Outcome)
		switch r.Outcome {
		case "filtered":
			head = fmt.Sprintf("record %d  key %s  filtered out (filter: %s)", i+1, r.Key, rep.Filter)
		case "error":
			head = fmt.Sprintf("record %d  key %s  mapping error: %s", i+1, r.Key, r.Error)
		}
		if against {
			head += "  → " + r.Action
		}
		b.WriteString(head + "\n")
		src, _ := json.Marshal(r.Source)
		line := "  source  " + string(src)
		if width > 0 && len(line) > width {
			line = line[:max(width-1, 20)] + "…"
		}
		b.WriteString(line + "\n")
		if r.Outcome != "mapped" {
			if against && r.Held != nil {
				fmt.Fprintf(&b, "  held    %s\n", heldText(r.Held))
			}
			continue
		}
		var table strings.Builder
		tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
		if against {
			fmt.Fprintln(tw, "  FIELD\tMAPPED\tDESTINATION\t")
		} else {
			fmt.Fprintln(tw, "  FIELD\tMAPPED")
		}
		changed := map[string]bool{}
		for _, c := range r.Changes {
			changed[c.Field] = true
		}
		for _, f := range rep.Fields {
			mapped := shownValue(r.Output[f], false, "")
			if !against {
				fmt.Fprintf(tw, "  %s\t%s\n", f, mapped)
				continue
			}
			held := "(none)"
			if r.Held != nil && !r.Held.Tombstone {
				v, ok := r.Held.Fields[f]
				held = shownValue(v, !ok, "(none)")
			}
			mark := ""
			if changed[f] && r.Action != "stale" {
				mark = "changes"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f, mapped, held, mark)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// Padding the last column would leave trailing blanks.
		for _, line := range strings.SplitAfter(table.String(), "\n") {
			if line != "" {
				b.WriteString(strings.TrimRight(line, " \n") + "\n")
			}
		}
		if against && r.Held != nil && r.Action == "stale" {
			fmt.Fprintf(&b, "  held    %s (newer than this record: a sync skips it)\n", heldText(r.Held))
		}
	}
	b.WriteString("\n" + rep.summaryLine() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// heldText describes a destination row in a few words.
func heldText(h *heldRow) string {
	if h.Tombstone {
		return "a tombstone at version " + h.Version.UTC().Format(time.RFC3339Nano)
	}
	return "a row at version " + h.Version.UTC().Format(time.RFC3339Nano)
}

// summaryLine is the last line: outcomes, then actions.
func (rep *previewReport) summaryLine() string {
	s := rep.Summary
	line := fmt.Sprintf("Preview: %s: %d mapped, %d filtered out, %d mapping %s",
		plural(s["records"], "record"), s["mapped"], s["filtered"], s["error"], map[bool]string{true: "error", false: "errors"}[s["error"] == 1])
	if rep.Destination != "" {
		var parts []string
		for _, a := range []string{"insert", "update", "unchanged", "delete", "stale", "dead-letter", "none"} {
			if n := s[a]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, a))
			}
		}
		line += "; against " + rep.Destination + ": " + strings.Join(parts, ", ")
	}
	return line + "."
}
