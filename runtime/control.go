package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// control is a tenant's flags as read at the start of a job.
type control struct{ flags []state.Flag }

func (r *Runner) control(ctx context.Context, tenant string) (control, error) {
	start := time.Now()
	fs, err := r.st.Flags(ctx, tenant)
	if err != nil {
		return control{}, fmt.Errorf("flags of %s: %w", tenant, storeErr(err))
	}
	r.pauses.note(tenant, fs, start)
	r.knowWriteErrors(tenant, fs, start)
	return control{flags: fs}, nil
}

// disabled reports whether an operator disabled the tenant, and why.
func (c control) disabled() (string, bool) {
	for _, f := range c.flags {
		if f.Kind == state.FlagDisabled {
			return f.Reason, true
		}
	}
	return "", false
}

// authPaused reports whether the source refused the tenant's token (or
// there is none), and why.
func (c control) authPaused() (string, bool) {
	for _, f := range c.flags {
		if f.Kind == state.FlagAuthPaused {
			return f.Reason, true
		}
	}
	return "", false
}

func (c control) has(kind state.FlagKind, scope string) bool {
	return slices.ContainsFunc(c.flags, func(f state.Flag) bool { return f.Kind == kind && f.Scope == scope })
}

func (c control) forbidden(resource string) bool { return c.has(state.FlagForbidden, resource) }

func (c control) pipelinePaused(p string) bool { return c.has(state.FlagPipelinePaused, p) }

// setFlag records a pause or an error; failing to record it is logged, not
// fatal, because the job's own error already says what went wrong.
func (r *Runner) setFlag(ctx context.Context, tenant string, f state.Flag, log *slog.Logger) {
	f.By, f.At = "siphon run", r.clk.Now()
	if err := r.st.SetFlag(context.WithoutCancel(ctx), tenant, f); err != nil {
		log.Warn("record flag", "kind", f.Kind, "err", err)
	}
}

// clearLastError forgets the last error of pipelines that just synced.
// Only a pipeline the job's flags (read under its lease) show an error for
// has one to clear: only its own job's poll sets it, and a store trip per
// pipeline and run for a flag that is not there was a tenth of a quiet
// hub's trips.
func (r *Runner) clearLastError(ctx context.Context, tenant string, ctl control, ps []*dsl.Pipeline) {
	for _, p := range ps {
		if !ctl.has(state.FlagLastError, p.Name) {
			continue
		}
		if err := r.st.ClearFlag(ctx, tenant, state.FlagLastError, p.Name); err != nil {
			r.log.Warn("clear last error", "tenant", tenant, "pipeline", p.Name, "err", err)
		}
	}
}

// tenant finds a tenant of the plan by id (nil when this runner does not
// run it). A map, not a scan: processing asks once per queue round, and a
// hub has thousands of tenants.
func (r *Runner) tenant(id string) *dsl.Tenant { return r.tenants[id] }

// tenantDestinations lists the destinations the tenant's active pipelines
// write to.
func (r *Runner) tenantDestinations(t *dsl.Tenant) []string {
	var out []string
	for _, name := range t.Active {
		if p := r.pipelines[name]; p != nil && !slices.Contains(out, p.Destination) {
			out = append(out, p.Destination)
		}
	}
	return out
}
