package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// Every command that changes state writes one audit entry, under
// $SIPHON_OPERATOR, to the hub log (and the tenant's log when it acts on a
// tenant); a command that fails or changes nothing writes none.
func TestEveryOperatorActionIsAudited(t *testing.T) {
	t.Setenv("SIPHON_OPERATOR", "bob@ops")
	h := newTenantHub(t, 5)
	a, dir := h.ts[0].ID, h.dir
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		deadLetters(t, ctx, st, a, "k1", "k2")
		if err := st.SetFlag(ctx, a, state.Flag{Kind: state.FlagPipelinePaused, Scope: "volunteers", Reason: "mapping", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	})
	hubLen := func() []state.AuditEntry {
		var out []state.AuditEntry
		withStore(t, dir, func(ctx context.Context, st state.Store) {
			var err error
			if out, _, err = st.Audit(ctx, "", "", 10000); err != nil {
				t.Fatal(err)
			}
		})
		return out
	}
	cases := []struct {
		args   []string
		action string // "" for a command that must write no entry
		tenant string
	}{
		{[]string{"checkpoint", "set", a, "volunteers", "--cursor", "2026-01-01T00:00:00Z"}, "checkpoint set", a},
		{[]string{"checkpoint", "reset", a, "volunteers"}, "checkpoint reset", a},
		{[]string{"dlq", "replay", a, "--all"}, "dlq replay", a},
		{[]string{"dlq", "purge", a, "--all", "--yes"}, "dlq purge", a},
		{[]string{"pipeline", "resume", a, "volunteers"}, "pipeline resume", a},
		{[]string{"pipeline", "resume", a, "volunteers"}, "", ""}, // not paused any more
		{[]string{"credentials", "rotate", a}, "credentials rotate", a},
		{[]string{"tenant", "disable", a, "--reason", "audit test"}, "tenant disable", a},
		{[]string{"tenant", "disable", a}, "", ""}, // no reason: refused
		{[]string{"tenant", "enable", a}, "tenant enable", a},
		{[]string{"tenant", "onboard", a}, "tenant onboard", a},
		{[]string{"throttle", "50%"}, "throttle", ""},
		{[]string{"throttle", "reset"}, "throttle reset", ""},
		{[]string{"throttle", "show"}, "", ""},
		{[]string{"credentials", "delete", a}, "credentials delete", a},
	}
	n := len(hubLen())
	for _, c := range cases {
		code, out, errOut := siphon(t, append(c.args, "--config", dir)...)
		if c.action != "" && code != 0 {
			t.Fatalf("%v: %d %s %s", c.args, code, out, errOut)
		}
		log := hubLen()
		switch {
		case c.action == "" && len(log) != n:
			t.Errorf("%v wrote an audit entry: %+v", c.args, log[len(log)-1])
		case c.action != "" && len(log) != n+1:
			t.Errorf("%v: %d new audit entries, want 1", c.args, len(log)-n)
		case c.action != "":
			if e := log[len(log)-1]; e.Action != c.action || e.Tenant != c.tenant || e.Who != "bob@ops" || e.Detail == "" {
				t.Errorf("%v: audit entry %+v, want action %q, tenant %q, by bob@ops", c.args, e, c.action, c.tenant)
			}
		}
		n = len(log)
	}
}

// siphon audit prints the hub log or a tenant's, oldest first: the last N
// entries, or N after an id; --json has the same entries.
func TestAuditCommand(t *testing.T) {
	t.Setenv("SIPHON_OPERATOR", "carol")
	h := newTenantHub(t, 3)
	a, b, dir := h.ts[0].ID, h.ts[1].ID, h.dir
	for _, reason := range []string{"one", "two", "three"} {
		if code, _, errOut := siphon(t, "tenant", "disable", a, "--reason", reason, "--config", dir); code != 0 {
			t.Fatal(errOut)
		}
	}
	if code, _, errOut := siphon(t, "throttle", "50%", "--config", dir); code != 0 {
		t.Fatal(errOut)
	}
	// The hub log: 2 credentials set, 3 disables, the throttle.
	code, out, errOut := siphon(t, "audit", "--config", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 7 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "WHO") {
		t.Fatalf("audit: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(lines[1], "credentials set") || !strings.Contains(lines[6], "throttle") ||
		!strings.Contains(lines[6], " - ") || !strings.Contains(lines[5], "reason: three") || !strings.Contains(lines[5], "carol") {
		t.Fatalf("audit rows out of order or incomplete:\n%s", out)
	}

	code, out, _ = siphon(t, "audit", a, "--json", "--limit", "2", "--config", dir)
	var got []auditView
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("audit --json: %d %v %s", code, err, out)
	}
	if len(got) != 2 || got[0].Detail != "reason: two" || got[1].Detail != "reason: three" || got[1].Tenant != a || got[1].Who != "carol" {
		t.Fatalf("last two entries of %s: %+v", a, got)
	}
	code, out, _ = siphon(t, "audit", a, "--json", "--limit", "0", "--config", dir)
	var all []auditView
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil || len(all) != 4 {
		t.Fatalf("all entries of %s: %d %v %s", a, code, err, out)
	}
	code, out, _ = siphon(t, "audit", a, "--json", "--after", all[0].ID, "--limit", "1", "--config", dir)
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got) != 1 || got[0].ID != all[1].ID {
		t.Fatalf("audit --after %s --limit 1: %d %v %s", all[0].ID, code, err, out)
	}
	code, out, _ = siphon(t, "audit", b, "--config", dir)
	if code != 0 || strings.Contains(out, "disable") || !strings.Contains(out, "credentials set") {
		t.Fatalf("audit of %s shows another tenant's entries: %s", b, out)
	}

	code, _, errOut = siphon(t, "audit", "--limit", "-1", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "--limit -1") {
		t.Errorf("negative limit: %d %s", code, errOut)
	}
	code, _, errOut = siphon(t, "audit", "--after", "not-an-id", "--config", dir)
	if code != 1 || !strings.Contains(errOut, `--after "not-an-id"`) {
		t.Errorf("bad --after: %d %s", code, errOut)
	}
	code, _, errOut = siphon(t, "audit", a, b, "--config", dir)
	if code != 1 || !strings.Contains(errOut, "usage: siphon audit [TENANT]") {
		t.Errorf("two tenants: %d %s", code, errOut)
	}
}
