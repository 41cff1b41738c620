package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/schedule"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/runtime"
)

// onboardReport is what tenant onboard did.
type onboardReport struct {
	Tenant string `json:"tenant"`
	// Organizations is, per source, the organization the token answers
	// for; Recorded says whether this run recorded it (false: it matched
	// the one recorded before).
	Organizations map[string]runtime.OrgRef `json:"organizations"`
	Recorded      bool                      `json:"recorded"`
	Estimate      BackfillEstimate          `json:"estimate"`
	// BackfillAt is when the backfill starts; BackfillLocal the same
	// instant in the tenant's time zone.
	BackfillAt    time.Time `json:"backfill_at"`
	BackfillLocal string    `json:"backfill_local"`
	// Synced lists the pipelines that have a cursor already: a backfill
	// does not read them again.
	Synced []string `json:"already_synced,omitempty"`
}

// onboardTweak adjusts the source clients onboarding makes (tests).
var onboardTweak func(*vomo.Config)

func runTenantOnboard(c *cli.Context) error {
	tg, err := operatorTarget(c, "tenant onboard TENANT [--at HH:MM|now] [--reverify]", 1, 1)
	if err != nil {
		return err
	}
	t := tg.tenant
	ctx := c.Context
	now := time.Now()
	due, err := onboardDue(c.String("at"), t, now)
	if err != nil {
		return err
	}
	st, err := tg.open(c)
	if err != nil {
		return err
	}
	defer st.Close()
	if f, err := flagOf(ctx, st, t.ID, state.FlagDisabled); err != nil {
		return err
	} else if f != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("%s is disabled (by %s: %s): enable it first (siphon tenant enable %s)", t.ID, f.By, f.Reason, t.ID)}
	}
	token, err := onboardToken(ctx, tg, st)
	if err != nil {
		return err
	}
	rep := onboardReport{Tenant: t.ID, Organizations: map[string]runtime.OrgRef{}}
	for _, src := range tenantSources(tg.plan, t) {
		org, err := verifyToken(ctx, tg.plan, t, src, token)
		if err != nil {
			return err
		}
		rep.Organizations[src] = org
	}
	if rep.Recorded, err = recordOrg(ctx, st, t, rep.Organizations, c.Bool("reverify")); err != nil {
		return err
	}
	if rep.Estimate, err = EstimateBackfill(ctx, tg.plan, t, token, nil, onboardTweak); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("estimate the backfill of %s (nothing scheduled): %v", t.ID, err)}
	}
	for _, name := range t.Active {
		cp, err := st.Checkpoint(ctx, t.ID, name)
		if err != nil {
			return fmt.Errorf("checkpoint %s/%s: %w", t.ID, name, err)
		}
		if !cp.Cursor.IsZero() {
			rep.Synced = append(rep.Synced, name)
		}
	}
	if rep.BackfillAt, err = st.ScheduleJob(ctx, t.ID, runtime.BackfillJob, due, true); err != nil {
		return fmt.Errorf("schedule the backfill of %s: %w", t.ID, err)
	}
	rep.BackfillAt = rep.BackfillAt.UTC()
	rep.BackfillLocal = rep.BackfillAt.In(tenantLocation(t)).Format("2006-01-02 15:04 MST")
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else if err := printOnboard(c.App.Writer, rep); err != nil {
		return err
	}
	var orgs []string
	for _, src := range sortedKeys(rep.Organizations) {
		orgs = append(orgs, src+" "+orgText(rep.Organizations[src]))
	}
	detail := fmt.Sprintf("organization recorded: %t; estimate %d records, %d requests; backfill at %s",
		rep.Recorded, rep.Estimate.Records, rep.Estimate.Requests, rep.BackfillAt.Format(time.RFC3339))
	// The organization's id and name at the source are the tenant's data.
	return audit(c, tg, st, "tenant onboard", detail, "organization "+strings.Join(orgs, ", "))
}

// onboardDue is when the backfill starts: --at (HH:MM tenant-local, or
// now), else the tenant's backfill_at.
func onboardDue(at string, t *dsl.Tenant, now time.Time) (time.Time, error) {
	switch at = strings.TrimSpace(at); at {
	case "":
		return runtime.NextBackfill(t, now), nil
	case "now":
		return now, nil
	}
	h, m, ok := strings.Cut(at, ":")
	hour, herr := strconv.Atoi(h)
	minute, merr := strconv.Atoi(m)
	if !ok || herr != nil || merr != nil || len(m) != 2 || hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return time.Time{}, &exitError{code: 1, msg: fmt.Sprintf("--at %q: want HH:MM (tenant-local, 00:00 to 23:59) or now", at)}
	}
	return schedule.NextDaily(now, t.Location, hour, minute), nil
}

func tenantLocation(t *dsl.Tenant) *time.Location {
	if t.Location == nil {
		return time.UTC
	}
	return t.Location
}

// onboardToken opens the tenant's stored token, saying what to do when
// there is none.
func onboardToken(ctx context.Context, tg target, st state.Store) (string, error) {
	t := tg.tenant
	setHint := fmt.Sprintf("store it first: siphon credentials set %s --config %s < token", t.ID, tg.config)
	if _, err := st.Credential(ctx, runtime.CredentialName(t)); errors.Is(err, state.ErrNotFound) {
		return "", &exitError{code: 1, msg: fmt.Sprintf("no token stored for %s (as %q): %s", t.ID, runtime.CredentialName(t), setHint)}
	} else if err != nil {
		return "", fmt.Errorf("credential of %s: %w", t.ID, err)
	}
	kms, err := secrets.LoadKeyring(tg.config, "", false, nil)
	if err != nil {
		return "", &exitError{code: 1, msg: fmt.Sprintf("credentials of %s: %v", t.ID, err)}
	}
	tok, err := runtime.SealedCredentials{Store: st, KMS: kms}.Token(ctx, t)
	if err != nil {
		return "", fmt.Errorf("credentials of %s: %w", t.ID, err)
	}
	return tok, nil
}

// tenantSources lists the sources the tenant's active pipelines read.
func tenantSources(plan *dsl.Plan, t *dsl.Tenant) []string {
	var out []string
	for _, p := range plan.Pipelines {
		if !slices.Contains(t.Active, p.Name) {
			continue
		}
		for _, r := range plan.Resources {
			if r.Name == p.Resource && !slices.Contains(out, r.Source) {
				out = append(out, r.Source)
			}
		}
	}
	slices.Sort(out)
	return out
}

// verifyToken asks the source which organization the token answers for
// (GET /organizations): the token works, and belongs to someone.
func verifyToken(ctx context.Context, plan *dsl.Plan, t *dsl.Tenant, source, token string) (runtime.OrgRef, error) {
	var s *dsl.Source
	for _, x := range plan.Sources {
		if x.Name == source {
			s = x
		}
	}
	if s == nil || !s.BaseURL.Known || s.BaseURL.Text == "" {
		return runtime.OrgRef{}, &exitError{code: 1, msg: fmt.Sprintf("source %s: base_url has no value", source)}
	}
	cfg := vomo.Config{BaseURL: s.BaseURL.Text, Tenant: t.ID, Token: vomo.StaticToken(token), Timeout: s.Timeout.D(),
		Retry: vomo.Retry{Attempts: s.Retry.Attempts, Backoff: s.Retry.Backoff.D(), MaxBackoff: s.Retry.MaxBackoff.D()}}
	if onboardTweak != nil {
		onboardTweak(&cfg)
	}
	c, err := vomo.New(cfg)
	if err != nil {
		return runtime.OrgRef{}, fmt.Errorf("source %s for %s: %w", source, t.ID, err)
	}
	org, err := c.Organization(ctx)
	switch {
	case errors.Is(err, vomo.ErrUnauthorized):
		return runtime.OrgRef{}, &exitError{code: 1, msg: fmt.Sprintf("source %s refused the token of %s (401: expired, revoked or mistyped): "+
			"store a valid one with siphon credentials set %s", source, t.ID, t.ID)}
	case err != nil:
		return runtime.OrgRef{}, &exitError{code: 1, msg: fmt.Sprintf("verify the token of %s on source %s (GET /organizations): %v", t.ID, source, err)}
	}
	return runtime.OrgRef{ID: org.ID, Name: org.Name}, nil
}

// recordOrg records the organizations in the tenant's OrgNote. When one is
// recorded already, a different organization is refused unless reverify
// (the token is likely another customer's); with reverify the new one
// replaces it and an organization mismatch pause is cleared. It reports
// whether it wrote the note.
func recordOrg(ctx context.Context, st state.Store, t *dsl.Tenant, orgs map[string]runtime.OrgRef, reverify bool) (bool, error) {
	b, err := st.Note(ctx, t.ID, runtime.OrgNote)
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return false, fmt.Errorf("recorded organization of %s: %w", t.ID, err)
	case !reverify:
		old, err := runtime.DecodeOrgRecord(b)
		if err != nil {
			return false, &exitError{code: 1, msg: fmt.Sprintf("%s: %v; record it again with --reverify", t.ID, err)}
		}
		same := true
		for src, org := range orgs {
			if was, ok := old.Sources[src]; ok && was.ID != org.ID {
				// Only the recorded organization is named: the other
				// belongs to another customer.
				return false, &exitError{code: 1, msg: fmt.Sprintf("the token of %s answers on source %s for another organization than %s, "+
					"recorded at onboarding: store this tenant's token (siphon credentials set %s), or if its organization changed, "+
					"pass --reverify", t.ID, src, orgText(was), t.ID)}
			} else if !ok {
				same = false
			}
		}
		if same {
			return false, nil
		}
	}
	rec := runtime.OrgRecord{Sources: orgs, At: time.Now().UTC(), By: operatorName()}
	nb, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	if err := st.PutNote(ctx, t.ID, runtime.OrgNote, nb); err != nil {
		return false, fmt.Errorf("record the organization of %s: %w", t.ID, err)
	}
	if err := st.ClearFlag(ctx, t.ID, state.FlagOrgMismatch, ""); err != nil {
		return true, fmt.Errorf("clear the organization mismatch of %s: %w", t.ID, err)
	}
	return true, nil
}

func orgText(o runtime.OrgRef) string {
	if o.Name == "" {
		return o.ID
	}
	return fmt.Sprintf("%s (%s)", o.ID, o.Name)
}

func printOnboard(w io.Writer, rep onboardReport) error {
	fmt.Fprintf(w, "tenant %s\n", rep.Tenant)
	verb := "matches the one recorded"
	if rep.Recorded {
		verb = "recorded"
	}
	for _, src := range sortedKeys(rep.Organizations) {
		fmt.Fprintf(w, "  token: verified on %s; organization %s (%s)\n", src, orgText(rep.Organizations[src]), verb)
	}
	fmt.Fprintf(w, "  backfill: %d records, %d pages, %d requests\n", rep.Estimate.Records, rep.Estimate.Pages, rep.Estimate.Requests)
	var est bytes.Buffer
	if err := printEstimate(&est, rep.Estimate); err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimRight(est.String(), "\n"), "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
	fmt.Fprintf(w, "  backfill starts at %s local (%s UTC); polling follows when it completes\n",
		rep.BackfillLocal, rep.BackfillAt.Format("2006-01-02 15:04"))
	if len(rep.Synced) > 0 {
		fmt.Fprintf(w, "  note: %s already synced (have a cursor) and are not read again by it\n", strings.Join(rep.Synced, ", "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
