package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// lastReconcile reads the report of the pipeline's last reconcile, nil
// before the first.
func lastReconcile(ctx context.Context, st state.Store, tenant, pipeline string) (*runtime.ReconcileReport, error) {
	b, err := st.Note(ctx, tenant, runtime.ReconcileNote(pipeline))
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last reconcile of %s/%s: %w", tenant, pipeline, err)
	}
	var rep runtime.ReconcileReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("last reconcile of %s/%s: %w", tenant, pipeline, err)
	}
	return &rep, nil
}

// printReconcileStatus adds a pipeline's last reconcile and any
// mass-delete alert to status.
func printReconcileStatus(w io.Writer, p pipelineStatus, now time.Time) {
	if p.MassDelete != "" {
		fmt.Fprintf(w, "    MASS DELETE STOPPED: %s\n", p.MassDelete)
	}
	r := p.LastReconcile
	if r == nil {
		return
	}
	kind := "daily"
	if r.Deep {
		kind = "deep"
	}
	how := "complete"
	if !r.Complete {
		how = "incomplete (" + r.Incomplete + ")"
	}
	fmt.Fprintf(w, "    last reconcile (%s) %s (%s ago), %s: missing %d, stale %d, changed %d, filtered deletes %d, deleted %d, unconfirmed %d\n",
		kind, r.Finished.UTC().Format("2006-01-02 15:04:05 UTC"), now.Sub(r.Finished).Truncate(time.Second), how,
		r.Missing, r.Stale, r.Changed, r.FilteredDeletes, r.Deleted, r.Unconfirmed)
}
