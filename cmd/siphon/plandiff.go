package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// storeDiff is what `plan --store` adds: the config the store last ran and
// what this plan changes against it.
type storeDiff struct {
	// Active is the store's active config; nil when it has run none.
	Active *activeConfig `json:"active"`
	// Changed: running this plan activates a new config version.
	Changed bool         `json:"changed"`
	Changes []dsl.Change `json:"changes"`
	// Note explains a diff that cannot list everything: the store ran
	// nothing yet, or its config has no summary, or only what the summary
	// does not cover changed.
	Note string `json:"note,omitempty"`
}

type activeConfig struct {
	Version     int64     `json:"version"`
	Hash        string    `json:"hash"`
	ActivatedAt time.Time `json:"activated_at"`
}

// diffAgainstStore reads the active config of the store at url and diffs
// the plan against it. It only reads: a local store that does not exist is
// not created, and is a store that has run nothing.
func diffAgainstStore(ctx context.Context, url string, plan *dsl.Plan) (*storeDiff, error) {
	if !strings.Contains(url, "://") {
		if _, err := os.Stat(url); errors.Is(err, os.ErrNotExist) {
			return diffSummaries(nil, nil, plan), nil
		}
	}
	// The durability checks guard a store's writes; plan makes none, so
	// an undurable Redis is no reason to refuse a read.
	st, err := state.Open(ctx, url, state.Options{Unsafe: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	v, ok, err := st.ActiveConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the store's active config: %w", err)
	}
	if !ok {
		return diffSummaries(nil, nil, plan), nil
	}
	var old *dsl.Summary
	if len(v.Summary) > 0 {
		old = &dsl.Summary{}
		if err := json.Unmarshal(v.Summary, old); err != nil {
			return nil, fmt.Errorf("the store's active config %s (version %d) has a summary that does not decode: %w", shortHash(v.Hash), v.Version, err)
		}
	}
	return diffSummaries(&v, old, plan), nil
}

// diffSummaries diffs the plan against the active config v (nil: none) and
// its summary (nil: none stored).
func diffSummaries(v *state.ConfigVersion, old *dsl.Summary, plan *dsl.Plan) *storeDiff {
	d := &storeDiff{Changes: []dsl.Change{}}
	now := plan.Summary()
	switch {
	case v == nil:
		d.Changed = true
		d.Changes = dsl.Diff(dsl.Summary{}, now)
		d.Note = "the store has run no configuration yet: everything in this plan is new"
		return d
	case v.Hash == plan.ConfigHash:
	case old == nil:
		d.Changed = true
		d.Note = "the store's config was activated by a siphon that kept no summary of it, so its changes cannot be listed; only its hash differs"
	default:
		d.Changed = true
		d.Changes = dsl.Diff(*old, now)
		if len(d.Changes) == 0 {
			d.Note = "tenants, pipelines, cadences and mappings are unchanged; the configuration differs in what they do not cover (rate limits, destination settings, reconcile times, ...)"
		}
	}
	d.Active = &activeConfig{Version: v.Version, Hash: v.Hash, ActivatedAt: v.ActivatedAt.UTC()}
	return d
}

// printStoreDiff writes the human form of the diff after the plan.
func printStoreDiff(w io.Writer, d *storeDiff) {
	fmt.Fprintln(w)
	if d.Active == nil {
		fmt.Fprintln(w, "Store: no config has run yet.")
	} else {
		fmt.Fprintf(w, "Store: last ran config %s (version %d), activated %s.\n", shortHash(d.Active.Hash), d.Active.Version,
			d.Active.ActivatedAt.Format("2006-01-02 15:04:05 UTC"))
	}
	for _, c := range d.Changes {
		sign := "~"
		switch c.Kind {
		case dsl.PipelineAdded, dsl.TenantAdded, dsl.TenantPipelineAdded, dsl.TenantEnabled:
			sign = "+"
		case dsl.PipelineRemoved, dsl.TenantRemoved, dsl.TenantPipelineRemoved, dsl.TenantDisabled:
			sign = "-"
		}
		fmt.Fprintf(w, "  %s %s\n", sign, c)
	}
	if d.Note != "" {
		fmt.Fprintf(w, "  (%s)\n", d.Note)
	}
	switch {
	case !d.Changed:
		fmt.Fprintln(w, "No changes: this is the configuration the store runs.")
	case len(d.Changes) == 0:
		fmt.Fprintln(w, "Changes: the configuration differs from the one the store runs.")
	case len(d.Changes) == 1:
		fmt.Fprintln(w, "Changes: 1 against the store.")
	default:
		fmt.Fprintf(w, "Changes: %d against the store.\n", len(d.Changes))
	}
}

// shortHash is a config hash as plan and the run's logs show it.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
