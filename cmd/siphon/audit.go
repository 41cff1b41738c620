package main

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "audit",
		Usage:     "show the append-only log of operator actions: the hub's, or TENANT's",
		ArgsUsage: "[TENANT]",
		Flags: operatorFlags(
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.IntFlag{Name: "limit", Usage: "show the last `N` entries (0: all)", Value: 50},
			&cli.StringFlag{Name: "after", Usage: "show the entries after the one with this `ID` (oldest first, up to --limit)"},
		),
		Action: runAudit,
	})
}

// operatorName is who an operator action is recorded as: $SIPHON_OPERATOR
// (a hub run by a team sets it to the person or ticket), else the OS user.
func operatorName() string {
	if who := strings.TrimSpace(os.Getenv("SIPHON_OPERATOR")); who != "" {
		return who
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// auditPage is how many entries one store call reads.
const auditPage = 500

// auditView is one entry as `siphon audit` prints it.
type auditView struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Tenant string    `json:"tenant,omitempty"`
	// Region is the region whose store keeps the tenant's own log, on the
	// hub log's entries of a regional tenant.
	Region string `json:"region,omitempty"`
	Action string `json:"action"`
	Detail string `json:"detail"`
}

func runAudit(c *cli.Context) error {
	a := argsOf(c)
	if len(a.args) > 1 {
		return &exitError{code: 1, msg: "usage: siphon audit [TENANT] (the configuration directory goes in --config)"}
	}
	limit := c.Int("limit")
	if limit < 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("--limit %d: want 0 (all) or more", limit)}
	}
	tenant := ""
	var st state.Store
	// hub opens the hub store for a tenant whose log has no entries
	// (offboarded, its log purged): the hub store's hub log keeps them.
	// It is st unless the tenant's region has a store of its own.
	var hub func() (state.Store, error)
	if len(a.args) == 1 {
		tenant = a.args[0]
		if err := state.CheckName("tenant", tenant); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		tg, err := loadTarget(a)
		if err != nil {
			return err
		}
		if tg.tenant != nil {
			st, err = tg.open(c)
		} else {
			// A tenant whose block left the configuration after it was
			// offboarded still has entries in the hub log.
			st, err = openStoreIn(c, a.store, tg.plan, tg.config)
		}
		if err != nil {
			return err
		}
		hub = func() (state.Store, error) { return st, nil }
		if tg.tenant != nil {
			if _, regional := runtime.RegionStore(tg.plan, tg.tenant.Region); regional {
				hub = func() (state.Store, error) { return openStoreIn(c, a.store, tg.plan, tg.config) }
			}
		}
	} else {
		dir, plan, err := loadConfig(a.config)
		if err != nil {
			return err
		}
		if st, err = openStoreIn(c, a.store, plan, dir); err != nil {
			return err
		}
	}
	defer st.Close()
	entries, fromHub, err := readAudit(c, st, hub, tenant, c.String("after"), limit)
	if err != nil {
		return err
	}
	if fromHub {
		fmt.Fprintf(c.App.ErrWriter, "siphon: %s has no log of its own (offboarded?); showing its entries in the hub log\n", tenant)
	}
	if a.json {
		out := make([]auditView, len(entries))
		for i, e := range entries {
			out[i] = auditView{ID: e.ID, At: e.At.UTC(), Who: e.Who, Tenant: e.Tenant, Region: e.Region, Action: e.Action, Detail: e.Detail}
		}
		return printJSON(c.App.Writer, out)
	}
	printAudit(c.App.Writer, entries)
	return nil
}

// readAudit reads a log, oldest first: after the given id up to limit
// entries, or without one the last limit entries (all with 0). A tenant's
// own log in st is read when it has entries; an offboarded tenant's was
// purged, and its entries are then read from the hub log of the store
// hub opens (fromHub), where --after ids are that log's.
func readAudit(c *cli.Context, st state.Store, hub func() (state.Store, error), tenant, after string, limit int) (entries []state.AuditEntry, fromHub bool, err error) {
	if tenant == "" {
		entries, err = scanAudit(c, st, "", after, limit, nil)
		return entries, false, err
	}
	first, _, err := st.Audit(c.Context, tenant, "", 1)
	if err != nil {
		return nil, false, fmt.Errorf("read the audit log of %s: %w", tenant, err)
	}
	if len(first) > 0 {
		entries, err = scanAudit(c, st, tenant, after, limit, nil)
		return entries, false, err
	}
	hs, err := hub()
	if err != nil {
		return nil, false, err
	}
	if hs != st {
		defer hs.Close()
	}
	entries, err = scanAudit(c, hs, "", after, limit, func(e state.AuditEntry) bool { return e.Tenant == tenant })
	return entries, len(entries) > 0 || after != "", err
}

// scanAudit pages a log from after; keep, when set, selects entries.
// Without after, only the last limit entries are kept as it goes.
func scanAudit(c *cli.Context, st state.Store, tenant, after string, limit int, keep func(state.AuditEntry) bool) ([]state.AuditEntry, error) {
	var out []state.AuditEntry
	tail := after == ""
	for first := true; ; first = false {
		page, next, err := st.Audit(c.Context, tenant, after, auditPage)
		if err != nil {
			if first && after != "" {
				return nil, &exitError{code: 1, msg: fmt.Sprintf("--after %q: %v", after, err)}
			}
			return nil, fmt.Errorf("read the audit log: %w", err)
		}
		for _, e := range page {
			if keep == nil || keep(e) {
				out = append(out, e)
			}
		}
		if !tail && limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if tail && limit > 0 && len(out) > limit {
			out = append(out[:0], out[len(out)-limit:]...)
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

func printAudit(w io.Writer, entries []state.AuditEntry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no audit entries")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME (UTC)\tWHO\tTENANT\tACTION\tDETAIL")
	for _, e := range entries {
		tenant := e.Tenant
		if tenant == "" {
			tenant = "-"
		}
		if e.Region != "" {
			tenant += " (" + e.Region + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format("2006-01-02 15:04:05"), e.Who, tenant, e.Action,
			strings.ReplaceAll(e.Detail, "\n", " "))
	}
	tw.Flush()
}
