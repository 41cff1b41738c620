package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// pollRun is one poll of one job: the tenant, its lease and the clients
// and parent ids shared by the job's fetches.
type pollRun struct {
	r     *Runner
	t     *dsl.Tenant
	job   *dsl.Job
	lease func() state.Lease
	log   *slog.Logger
	token string
	// stage is what this read is for: "poll", "backfill" or "reconcile";
	// each stage draws on its own share of the tenant's rate budget.
	stage   string
	trace   string // traceparent of the poll span
	clients map[string]*vomo.Client
	// ctl is the tenant's flags as read at the start of the job.
	ctl control
}

// poll runs one job's fetches in order. A 401 pauses the tenant and ends
// the job; a 403 pauses the resource and the job goes on; any other error
// is recorded as the pipelines' last error and the job goes on, so one
// broken resource does not starve the others.
func (r *Runner) poll(ctx context.Context, j jobRef, lease func() state.Lease, log *slog.Logger) error {
	ctx, span := r.startSpan(ctx, "poll", spanAttrs(j.tenant.ID, j.job.ID)...)
	defer span.End()
	log = withTrace(ctx, log)
	err := r.pollJob(ctx, j, lease, log)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

func (r *Runner) pollJob(ctx context.Context, j jobRef, lease func() state.Lease, log *slog.Logger) error {
	t := j.tenant
	ctl, err := r.control(ctx, t.ID)
	if err != nil {
		return err
	}
	if reason, off := ctl.disabled(); off {
		// An operator's decision, not a failure of the run.
		log.Info("tenant disabled by an operator; not polling", "reason", reason)
		return nil
	}
	if reason, paused := ctl.authPaused(); paused {
		log.Warn("tenant paused; not polling", "reason", reason)
		return fmt.Errorf("poll %s: tenant paused: %s", t.ID, reason)
	}
	r.requestedReconciles(ctx, t, ctl) // reconcile_schedule.go: flagged reconciles become due now
	if over, err := r.backpressured(ctx, t, j.job, log); err != nil || over {
		return err
	}
	token, err := r.token(ctx, t)
	if err != nil {
		return err
	}
	pr := &pollRun{r: r, t: t, job: j.job, lease: lease, log: log, token: token, stage: "poll", trace: traceparent(ctx),
		clients: map[string]*vomo.Client{}, ctl: ctl}
	if ctx, err = pr.admit(ctx, ctl); err != nil {
		return err
	}
	var errs []error
	for _, f := range j.job.Fetches {
		members := r.members(t, f, ctl)
		if len(members) == 0 {
			continue
		}
		res := r.resources[f.Resource]
		ferr := pr.fetch(ctx, res, members)
		if ferr == nil {
			r.clearLastError(ctx, t.ID, ctl, members)
			continue
		}
		if ctx.Err() != nil {
			return stopped(ctx)
		}
		switch {
		case errors.Is(ferr, vomo.ErrUnauthorized):
			reason := fmt.Sprintf("the source answered 401 (token expired or revoked) for %s: run siphon credentials set %s", res.Path, t.ID)
			r.setFlag(ctx, t.ID, state.Flag{Kind: state.FlagAuthPaused, Reason: reason}, log)
			log.Error("tenant paused", "reason", reason)
			return fmt.Errorf("poll %s/%s: %w", t.ID, f.Resource, ferr)
		case errors.Is(ferr, vomo.ErrForbidden):
			reason := fmt.Sprintf("the source answered 403 for %s: the token lacks the scope", res.Path)
			r.setFlag(ctx, t.ID, state.Flag{Kind: state.FlagForbidden, Scope: res.Name, Reason: reason}, log)
			log.Error("resource paused", "resource", res.Name, "reason", reason)
		default:
			for _, p := range members {
				r.setFlag(ctx, t.ID, state.Flag{Kind: state.FlagLastError, Scope: p.Name, Reason: ferr.Error()}, log)
			}
			log.Error("fetch failed", "resource", res.Name, "err", ferr)
		}
		errs = append(errs, ferr)
	}
	return errors.Join(errs...)
}

// members are the fetch's pipelines that apply to the tenant and are not
// paused.
func (r *Runner) members(t *dsl.Tenant, f dsl.Fetch, ctl control) []*dsl.Pipeline {
	if ctl.forbidden(f.Resource) {
		return nil
	}
	var out []*dsl.Pipeline
	for _, name := range f.Pipelines {
		if slices.Contains(t.Active, name) && !ctl.pipelinePaused(name) {
			out = append(out, r.pipelines[name])
		}
	}
	return out
}

// fetch reads one resource for its member pipelines.
func (pr *pollRun) fetch(ctx context.Context, res *dsl.Resource, members []*dsl.Pipeline) error {
	c, err := pr.client(res, 0)
	if err != nil {
		return err
	}
	if res.Cursor != nil && res.Parent == "" {
		return pr.walks(ctx, c, res, members)
	}
	return pr.fullScan(ctx, c, res, members)
}

// fullScan reads a cursorless resource whole, or a child resource under
// every parent, and then records the completion on each member's
// checkpoint: without a cursor that is the only sign that the pipeline's
// data is complete up to a known time.
func (pr *pollRun) fullScan(ctx context.Context, c *vomo.Client, res *dsl.Resource, members []*dsl.Pipeline) error {
	ms := make([]member, len(members))
	for i, p := range members {
		cp, err := pr.r.st.Checkpoint(ctx, pr.t.ID, p.Name)
		if err != nil {
			return fmt.Errorf("checkpoint %s/%s: %w", pr.t.ID, p.Name, storeErr(err))
		}
		ms[i] = member{p: p, gen: cp.Generation}
	}
	var records int64
	var err error
	if res.Parent != "" {
		records, err = pr.children(ctx, c, res, ms)
	} else {
		records, _, err = pr.scan(ctx, c, res, "", ms)
	}
	if err != nil {
		return err
	}
	return pr.completeScan(ctx, res, ms, records)
}

// walks walks the window of each group of members that stand at the same
// checkpoint: they share one walk, each member's progress advancing in the
// same page commits. A member whose checkpoint differs (added later, reset
// by an operator) walks alone. Members that need a backfill (no cursor,
// and never synced or nothing in the destination to rebuild one from; or
// an operator's request) share one new capped scan once the tenant's
// backfill is due.
func (pr *pollRun) walks(ctx context.Context, c *vomo.Client, res *dsl.Resource, members []*dsl.Pipeline) error {
	type group struct {
		cp      state.Checkpoint
		members []member
	}
	var groups []*group
	var backfill []member
	var errs []error
	for _, p := range members {
		cp, err := pr.r.st.Checkpoint(ctx, pr.t.ID, p.Name)
		if err != nil {
			return fmt.Errorf("checkpoint %s/%s: %w", pr.t.ID, p.Name, storeErr(err))
		}
		kind, cp, err := pr.start(ctx, res, p, cp)
		if err != nil {
			if isStoreFailure(err) {
				return err
			}
			errs = append(errs, err)
			continue
		}
		switch kind {
		case startWait:
			continue
		case startBackfill:
			backfill = append(backfill, member{p: p, gen: cp.Generation})
			continue
		}
		joined := false
		for _, g := range groups {
			if sameStart(g.cp, cp) {
				g.members = append(g.members, member{p: p, gen: cp.Generation})
				joined = true
				break
			}
		}
		if !joined {
			groups = append(groups, &group{cp: cp, members: []member{{p: p, gen: cp.Generation}}})
		}
	}
	started := false
	if len(backfill) > 0 {
		if err := pr.backfill(ctx, res, state.Checkpoint{}, backfill, vomo.Progress{}); err != nil {
			errs = append(errs, err)
		}
		started = true
	}
	for _, g := range groups {
		if err := pr.walk(ctx, c, res, g.cp, g.members); err != nil {
			errs = append(errs, err)
		}
		// A scan resumed after its process died (before it could forget
		// the due time) forgets it now.
		started = started || isScan(g.cp.Walk)
	}
	if started {
		pr.backfillsStarted(ctx)
	}
	return errors.Join(errs...)
}

// isScan reports whether a stored walk is a backfill's capped scan.
func isScan(w *state.Walk) bool {
	if w == nil || len(w.Progress) == 0 {
		return false
	}
	var p struct{ Mode string }
	return json.Unmarshal(w.Progress, &p) == nil && p.Mode == "scan"
}

// sameStart reports whether two checkpoints would start the same walk.
func sameStart(a, b state.Checkpoint) bool {
	if (a.Walk == nil) != (b.Walk == nil) {
		return false
	}
	if a.Walk != nil {
		x, y := *a.Walk, *b.Walk
		return x.After.Equal(y.After) && x.Cap.Equal(y.Cap) && x.Position == y.Position && x.Total == y.Total &&
			x.Records == y.Records && bytes.Equal(x.Progress, y.Progress)
	}
	return a.Cursor.Equal(b.Cursor)
}

// member is a pipeline taking part in a walk, with the checkpoint
// generation its progress is written under.
type member struct {
	p   *dsl.Pipeline
	gen int64
}

// walk runs one incremental walk from the members' cursor, or resumes
// their stored walk, or their stored backfill scan.
func (pr *pollRun) walk(ctx context.Context, c *vomo.Client, res *dsl.Resource, cp state.Checkpoint, members []member) error {
	vr := vomoResource(res, "")
	var p vomo.Progress
	if cp.Walk != nil {
		var why string
		if p, why = resumeWalk(vr, *cp.Walk); why != "" {
			pr.log.Warn("resuming the walk from its position only; it may re-read records", "resource", res.Name, "reason", why)
		}
		if p.Mode == "scan" {
			return pr.backfill(ctx, res, cp, members, p)
		}
		if p.PerPage > 0 {
			var err error
			if c, err = pr.client(res, p.PerPage); err != nil {
				return err
			}
		}
	} else {
		var err error
		if p, err = c.NewWalk(ctx, vr, cp.Cursor); err != nil {
			return fmt.Errorf("poll %s/%s: open window: %w", pr.t.ID, res.Name, err)
		}
	}
	var records int64
	if cp.Walk != nil {
		records = cp.Walk.Records
	}
	result, err := c.Walk(ctx, vr, p, func(ctx context.Context, pg vomo.Page) error {
		records += int64(len(pg.Records))
		pp := pg.Progress
		src, err := json.Marshal(pp)
		if err != nil {
			return fmt.Errorf("encode the walk's progress: %w", err)
		}
		w := state.Walk{After: pp.After, Cap: pp.Cap, Position: int64(pp.Next), Total: int64(pp.LastTotal), Records: records,
			Progress: src}
		members, err = pr.commit(ctx, res, pg, members, &w)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return errAllSkipped
		}
		return nil
	})
	if errors.Is(err, errAllSkipped) {
		pr.log.Info("walk abandoned: every member's checkpoint was reset meanwhile", "resource", res.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("poll %s/%s page %d: %w", pr.t.ID, res.Name, result.Progress.Pages+1, err)
	}
	return nil
}

var errAllSkipped = errors.New("every member walk was skipped")

// resumeWalk rebuilds a walk's progress from what the store keeps: the
// client's own progress, stored with each page, when it belongs to this
// walk (same list, window and position), so the walk goes on exactly as if
// it had not stopped, page geometry and pending step-back included, and a
// drop in meta.total seen on its first page steps back only as far as the
// drift rules ask. Without it (a walk stored before the store kept it, or
// one that does not decode or match, which why explains) the resumed walk
// knows the position and last total only, and treats the last page as
// starting at 0: a drop seen on its first page steps back further than
// needed, which re-reads records (harmless) and never skips one.
//
// A backfill's capped scan is stored the same way with mode "scan"; its
// progress comes back with that mode (the caller resumes the scan), and
// a resumed page whose meta.total dropped steps back like a walk's.
func resumeWalk(vr vomo.Resource, w state.Walk) (p vomo.Progress, why string) {
	if len(w.Progress) > 0 {
		var sp vomo.Progress
		switch err := json.Unmarshal(w.Progress, &sp); {
		case err != nil:
			why = "the stored progress does not decode: " + err.Error()
		case (sp.Mode != "walk" && sp.Mode != "scan") || sp.Done || sp.Path != vr.Path || sp.Parent != vr.Parent ||
			!sp.After.Equal(w.After) || !sp.Cap.Equal(w.Cap) || sp.Next != int(w.Position):
			why = "the stored progress belongs to another walk"
		default:
			return sp, ""
		}
	}
	p = vomo.Progress{Mode: "walk", Path: vr.Path, Parent: vr.Parent, After: w.After, Cap: w.Cap,
		Next: int(w.Position), LastTotal: int(w.Total)}
	if w.Position > 0 {
		p.Pages = 1
	}
	return p, why
}

// scan reads a whole list (a cursorless resource, or one parent's
// children) and enqueues every record. It returns how many records it read
// and whether the parent of a child list answered 404.
func (pr *pollRun) scan(ctx context.Context, c *vomo.Client, res *dsl.Resource, parent string, members []member) (int64, bool, error) {
	vr := vomoResource(res, parent)
	p, err := c.NewScan(ctx, vr)
	if err != nil {
		return 0, false, fmt.Errorf("poll %s/%s: open scan: %w", pr.t.ID, res.Name, err)
	}
	var records int64
	result, err := c.Scan(ctx, vr, p, func(ctx context.Context, pg vomo.Page) error {
		records += int64(len(pg.Records))
		_, err := pr.commit(ctx, res, pg, members, nil)
		return err
	})
	if err != nil {
		return records, false, fmt.Errorf("poll %s/%s page %d: %w", pr.t.ID, res.Name, result.Progress.Pages+1, err)
	}
	return records, result.ParentGone, nil
}

// children reads the parent's keys with a full scan, then each parent's
// child list, and returns how many child records it read.
func (pr *pollRun) children(ctx context.Context, c *vomo.Client, res *dsl.Resource, members []member) (int64, error) {
	parent := pr.r.resources[res.Parent]
	ids, err := pr.parentKeys(ctx, c, parent, res)
	if err != nil {
		return 0, err
	}
	var records int64
	for _, id := range ids {
		n, gone, err := pr.scan(ctx, c, res, id, members)
		records += n
		if err != nil {
			return records, err
		}
		if gone {
			pr.log.Info("parent vanished mid-scan; skipping its children", "resource", res.Name, "parent", id)
		}
	}
	return records, nil
}

// ParentKeys returns the keys a parent record's children hang off: the
// record's own key, or what the child's parent_key reads from it.
func ParentKeys(rec vomo.Record, child *dsl.Resource) ([]string, error) {
	if child.ParentKey == nil {
		return []string{rec.Key}, nil
	}
	fields, err := rec.Fields()
	if err != nil {
		return nil, err
	}
	return child.ParentKey.Keys(fields)
}

// parentKeys scans the parent resource for the ids its children hang off.
func (pr *pollRun) parentKeys(ctx context.Context, c *vomo.Client, parent, child *dsl.Resource) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	vr := vomoResource(parent, "")
	p, err := c.NewScan(ctx, vr)
	if err != nil {
		return nil, fmt.Errorf("poll %s/%s: open parent scan: %w", pr.t.ID, parent.Name, err)
	}
	result, err := c.Scan(ctx, vr, p, func(_ context.Context, pg vomo.Page) error {
		for _, rec := range pg.Records {
			keys, err := ParentKeys(rec, child)
			if err != nil {
				return fmt.Errorf("parent_key of %s record %s: %w", parent.Name, rec.Key, err)
			}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					ids = append(ids, k)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("poll %s/%s page %d: %w", pr.t.ID, parent.Name, result.Progress.Pages+1, err)
	}
	return ids, nil
}

// client returns the job's client for the resource's source. A perPage
// above 0 asks the API for that page size instead of the client's default:
// a resumed walk asks for the size it was reading at, so its first request
// lands on its position instead of on a page cut at another size.
func (pr *pollRun) client(res *dsl.Resource, perPage int) (*vomo.Client, error) {
	key := res.Source
	if perPage > 0 {
		key += "/" + strconv.Itoa(perPage)
	}
	if c := pr.clients[key]; c != nil {
		return c, nil
	}
	src := pr.r.sources[res.Source]
	if src == nil {
		return nil, fmt.Errorf("resource %s: unknown source %s", res.Name, res.Source)
	}
	if !src.BaseURL.Known || src.BaseURL.Text == "" {
		return nil, fmt.Errorf("source %s: base_url has no value", src.Name)
	}
	off, _ := pr.r.offsets.LoadOrStore(src.Name, &vomo.ClockOffset{})
	cfg := vomo.Config{BaseURL: src.BaseURL.Text, Tenant: pr.t.ID, Token: vomo.StaticToken(pr.token), HTTPClient: pr.r.http,
		Timeout: src.Timeout.D(), Offset: off.(*vomo.ClockOffset), Clock: pr.r.clk, Logger: pr.log,
		Retry: vomo.Retry{Attempts: src.Retry.Attempts, Backoff: src.Retry.Backoff.D(), MaxBackoff: src.Retry.MaxBackoff.D()}}
	if pr.r.cfg.Source != nil {
		pr.r.cfg.Source(&cfg)
	}
	pr.r.withBudget(&cfg, pr.t, src, pr.stage)
	if perPage > 0 && cfg.PerPage >= 0 {
		cfg.PerPage = perPage
	}
	c, err := vomo.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("source %s for %s: %w", src.Name, pr.t.ID, err)
	}
	pr.clients[key] = c
	return c, nil
}

// vomoResource says how the client reads a resource. Resources the API
// filters by update time also take created_before (VOMO-API.md documents
// both for /users and assumes them for /projects); others have neither.
func vomoResource(res *dsl.Resource, parent string) vomo.Resource {
	vr := vomo.Resource{Path: res.Path, Parent: parent, PrimaryKey: res.PrimaryKey}
	if res.Cursor != nil {
		vr.CursorParam = res.Cursor.Param
		vr.CreatedBeforeParam = "created_before"
		vr.Overlap = res.Cursor.Overlap.D()
		vr.Settle = res.Cursor.Settle.D()
	}
	return vr
}

func spanAttrs(tenant, job string) []traceOption {
	return []traceOption{withAttributes(attribute.String("siphon.tenant", tenant), attribute.String("siphon.job", job))}
}
