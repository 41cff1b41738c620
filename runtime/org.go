package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// The organization check. `siphon tenant onboard` records, per source,
// the organization the tenant's token answers for (GET /organizations) in
// the tenant's OrgNote. Once that note exists, every poll first checks
// that the token still answers for it: a token of another customer stored
// under this tenant (a copy-paste slip in `siphon credentials set`) would
// otherwise sync that customer's records into this tenant's destination
// rows. A mismatch sets FlagOrgMismatch and halts the tenant before
// anything is polled or written; its queues stop too (tenantctl.go).
//
// The outcome is cached per (tenant, source, recorded organization,
// token) for orgRecheck, so the check costs about one request per tenant
// and source every orgRecheck per process, not one per poll; a new token
// (`siphon credentials set`) is a new cache key and is checked at its first
// poll. When the token answers for the recorded organization again, the
// poll clears FlagOrgMismatch itself: storing the right token is the fix.
// When the organization changed for good, `siphon tenant onboard
// --reverify` records the new one.

// OrgNote is the name of the note holding a tenant's OrgRecord.
const OrgNote = "org"

// OrgRecord is what onboarding recorded: the organization the tenant's
// token answered for, per source name.
type OrgRecord struct {
	Sources map[string]OrgRef `json:"sources"`
	At      time.Time         `json:"at"`
	By      string            `json:"by,omitempty"`
}

// OrgRef names one organization.
type OrgRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// DecodeOrgRecord reads an OrgNote.
func DecodeOrgRecord(b []byte) (OrgRecord, error) {
	var rec OrgRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("the %s note does not decode: %w", OrgNote, err)
	}
	return rec, nil
}

// orgRecheck is how long a check's outcome stands for one token.
const orgRecheck = 10 * time.Minute

// orgChecks caches organization check outcomes; the zero value is ready.
type orgChecks struct {
	mu sync.Mutex
	m  map[orgKey]orgOutcome
}

// orgKey identifies a check. token is a digest, never the token.
type orgKey struct{ tenant, source, recorded, token string }

type orgOutcome struct {
	match bool
	at    time.Time
}

func (o *orgChecks) get(k orgKey) (orgOutcome, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.m[k]
	return v, ok
}

func (o *orgChecks) put(k orgKey, v orgOutcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[orgKey]orgOutcome{}
	}
	o.m[k] = v
}

// verifyOrg checks the token's organization against the one recorded at
// onboarding for each source the job reads. A mismatch halts the tenant;
// a token that matches again clears the halt.
func (pr *pollRun) verifyOrg(ctx context.Context, ctl control) error {
	r, t := pr.r, pr.t
	b, err := r.st.Note(ctx, t.ID, OrgNote)
	if errors.Is(err, state.ErrNotFound) {
		return nil // not onboarded with a recorded organization
	}
	if err != nil {
		return fmt.Errorf("poll %s: read the recorded organization: %w", t.ID, storeErr(err))
	}
	rec, err := DecodeOrgRecord(b)
	if err != nil {
		return fmt.Errorf("poll %s: %w; record it again with siphon tenant onboard %s --reverify", t.ID, err, t.ID)
	}
	for _, res := range pr.jobSources() {
		want, ok := rec.Sources[res.Source]
		if !ok {
			continue
		}
		match, err := pr.orgMatches(ctx, res, want)
		if err != nil {
			return err
		}
		if !match {
			// The other organization's id and name stay out of the
			// reason: they belong to another customer.
			reason := fmt.Sprintf("the token answers for another organization than %s, recorded at onboarding for source %s: "+
				"nothing is polled or written; store this tenant's token (siphon credentials set %s), "+
				"or if its organization changed, record it again (siphon tenant onboard %s --reverify)",
				orgLabel(want), res.Source, t.ID, t.ID)
			r.pauses.halt(t.ID, reason)
			if !ctl.has(state.FlagOrgMismatch, "") {
				r.setFlag(ctx, t.ID, state.Flag{Kind: state.FlagOrgMismatch, Reason: reason}, pr.log)
				pr.log.Error("organization mismatch; tenant halted", "source", res.Source, "recorded_org", want.ID)
			}
			return fmt.Errorf("poll %s: tenant paused: %s", t.ID, reason)
		}
	}
	if ctl.has(state.FlagOrgMismatch, "") {
		if err := r.st.ClearFlag(ctx, t.ID, state.FlagOrgMismatch, ""); err != nil {
			return fmt.Errorf("poll %s: clear the organization mismatch: %w", t.ID, storeErr(err))
		}
		r.pauses.resume(t.ID)
		pr.log.Info("the token answers for the recorded organization again; tenant resumed")
	}
	return nil
}

// orgLabel names a recorded organization in a reason.
func orgLabel(o OrgRef) string {
	if o.Name == "" {
		return o.ID
	}
	return fmt.Sprintf("%s (%s)", o.ID, o.Name)
}

// jobSources is one resource of the job per source it reads, in source
// name order: the client of that resource asks the source.
func (pr *pollRun) jobSources() []*dsl.Resource {
	var out []*dsl.Resource
	for _, f := range pr.job.Fetches {
		res := pr.r.resources[f.Resource]
		if res != nil && !slices.ContainsFunc(out, func(o *dsl.Resource) bool { return o.Source == res.Source }) {
			out = append(out, res)
		}
	}
	slices.SortFunc(out, func(a, b *dsl.Resource) int { return strings.Compare(a.Source, b.Source) })
	return out
}

// orgMatches reports whether the token answers for want on the
// resource's source, from the cache when its outcome is recent. A 401
// pauses the tenant as a poll's would. Any other failure fails this poll,
// unless this token already matched before (an outage of
// /organizations then does not stop a verified tenant): an unverified
// token syncs nothing.
func (pr *pollRun) orgMatches(ctx context.Context, res *dsl.Resource, want OrgRef) (bool, error) {
	r, t := pr.r, pr.t
	sum := sha256.Sum256([]byte(pr.token))
	key := orgKey{tenant: t.ID, source: res.Source, recorded: want.ID, token: hex.EncodeToString(sum[:8])}
	prev, seen := r.orgs.get(key)
	if seen && time.Since(prev.at) < orgRecheck {
		return prev.match, nil
	}
	c, err := pr.client(res, 0)
	if err != nil {
		return false, err
	}
	org, err := c.Organization(ctx)
	switch {
	case errors.Is(err, vomo.ErrUnauthorized):
		reason := fmt.Sprintf("the source answered 401 (token expired or revoked) for /organizations: run siphon credentials set %s", t.ID)
		r.setFlag(ctx, t.ID, state.Flag{Kind: state.FlagAuthPaused, Reason: reason}, pr.log)
		pr.log.Error("tenant paused", "reason", reason)
		return false, fmt.Errorf("poll %s: verify the organization: %w", t.ID, err)
	case err != nil && seen && prev.match:
		pr.log.Warn("could not verify the organization again; it matched before", "source", res.Source, "err", err)
		return true, nil
	case err != nil:
		return false, fmt.Errorf("poll %s: verify the organization on %s (nothing is read until it is verified): %w", t.ID, res.Source, err)
	}
	match := org.ID == want.ID
	r.orgs.put(key, orgOutcome{match: match, at: time.Now()})
	return match, nil
}
