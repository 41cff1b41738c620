package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// A tenant of a region with its own store keeps its audit log in that
// store, and the hub store's hub log gets every one of its operator
// actions as well (who, when, what, without the tenant's data), with none
// of the tenant's keys: siphon audit on the hub lists them, siphon audit
// TENANT reads the region's log, and once the tenant is offboarded its
// history is still read from the hub. On bbolt files and on two Redis
// servers.
func TestAuditOfRegionalTenantReachesTheHub(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) {
		dir := t.TempDir()
		testRegionalAudit(t, dir, filepath.Join(dir, "hub.db"), "file:eu.db", "")
	})
	t.Run("redis", func(t *testing.T) {
		hub, eu := redistest.Start(t), redistest.Start(t)
		testRegionalAudit(t, t.TempDir(), hub.URL(), eu.URL(), hub.Addr)
	})
}

// testRegionalAudit runs the operator commands on kiez (region eu) and
// harbour (the hub's). hubAddr, for Redis, is the hub server's address,
// whose keys are scanned for kiez's.
func testRegionalAudit(t *testing.T, dir, hubStore, euStore, hubAddr string) {
	writeFiles(t, dir, map[string]string{"main.hcl": regionsConfig})
	t.Setenv("SIPHON_EU_STORE", euStore)
	t.Setenv("SIPHON_OPERATOR", "erin@ops")
	ctx := context.Background()
	openStore := func(u string) state.Store {
		t.Helper()
		if u = strings.TrimPrefix(u, "file:"); !strings.Contains(u, "://") && !filepath.IsAbs(u) {
			u = filepath.Join(dir, u)
		}
		st, err := state.Open(ctx, u, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	sh := func(args ...string) (string, string) {
		t.Helper()
		// --store, not SIPHON_STORE: a flag's value read from the
		// environment stays in the shared command for later tests.
		code, out, errOut := siphon(t, append(args, "--config", dir, "--store", hubStore)...)
		if code != 0 {
			t.Fatalf("siphon %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out, errOut
	}
	auditJSON := func(args ...string) ([]auditView, string) {
		t.Helper()
		out, errOut := sh(append([]string{"audit", "--json", "--limit", "0"}, args...)...)
		var v []auditView
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("siphon audit %v --json: %v\n%s", args, err, out)
		}
		return v, errOut
	}
	actions := func(es []auditView, tenant string) []string {
		var out []string
		for _, e := range es {
			if e.Tenant == tenant {
				out = append(out, e.Action)
			}
		}
		return out
	}

	// A pause reason quotes a record: the tenant's data, which must stay
	// in the EU.
	const secretish = "cannot map email bob@kiez.example"
	eu := openStore(euStore)
	if err := eu.SetFlag(ctx, "kiez", state.Flag{Kind: state.FlagPipelinePaused, Scope: "volunteers", Reason: secretish, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	eu.Close()
	sh("tenant", "disable", "kiez", "--reason", "eu maintenance")
	sh("checkpoint", "set", "kiez", "volunteers", "--cursor", "2026-01-02T03:04:05Z")
	sh("pipeline", "resume", "kiez", "volunteers")
	sh("tenant", "disable", "harbour", "--reason", "hub maintenance")

	hubLog, _ := auditJSON()
	want := []string{"tenant disable", "checkpoint set", "pipeline resume"}
	if got := actions(hubLog, "kiez"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the hub log has kiez's actions %q, want %q:\n%+v", got, want, hubLog)
	}
	for _, e := range hubLog {
		switch {
		case e.Tenant == "kiez" && (e.Region != "eu" || e.Who != "erin@ops" || e.At.IsZero()):
			t.Errorf("hub entry of kiez %+v: want region eu, by erin@ops, with its time", e)
		case strings.Contains(e.Detail, "bob@kiez.example"):
			t.Errorf("the hub log holds kiez's data: %+v", e)
		case e.Tenant == "harbour" && (e.Region != "" || e.Action != "tenant disable"):
			t.Errorf("hub entry of harbour, whose state is the hub's: %+v", e)
		}
	}
	if got := actions(hubLog, "harbour"); len(got) != 1 {
		t.Errorf("the hub log has harbour's actions %q, want one disable", got)
	}
	if e := hubLog[0]; e.Detail != "reason: eu maintenance" {
		t.Errorf("the hub entry of kiez's disable says %q, want its reason", e.Detail)
	}
	if out, _ := sh("audit"); !strings.Contains(out, "kiez (eu)") || !strings.Contains(out, "harbour ") || strings.Contains(out, "harbour (") {
		t.Errorf("siphon audit does not show kiez's region beside it (and only its):\n%s", out)
	}

	own, errOut := auditJSON("kiez")
	if got := actions(own, "kiez"); strings.Join(got, ",") != strings.Join(want, ",") || strings.Contains(errOut, "hub log") {
		t.Fatalf("siphon audit kiez: %q (%s), want %q from its own log", got, errOut, want)
	}
	if d := own[2].Detail; !strings.Contains(d, secretish) || !strings.Contains(d, "pipeline volunteers") {
		t.Errorf("kiez's own log does not keep the pause reason: %q", d)
	}

	// The EU store holds kiez's log; the hub store none of kiez's keys.
	eu = openStore(euStore)
	if es, _, err := eu.Audit(ctx, "kiez", "", 100); err != nil || len(es) != 3 {
		t.Errorf("the EU store's log of kiez: %d entries (%v), want 3", len(es), err)
	}
	eu.Close()
	hub := openStore(hubStore)
	if es, _, err := hub.Audit(ctx, "kiez", "", 100); err != nil || len(es) != 0 {
		t.Errorf("the hub store has a log of kiez: %+v (%v)", es, err)
	}
	if cp, err := hub.Checkpoint(ctx, "kiez", "volunteers"); err != nil || !cp.Cursor.IsZero() {
		t.Errorf("the hub store has kiez's checkpoint: %v %v", cp.Cursor, err)
	}
	hub.Close()
	if hubAddr != "" {
		c := goredis.NewClient(&goredis.Options{Addr: hubAddr})
		defer c.Close()
		keys, err := c.Keys(ctx, "*{kiez}*").Result()
		if err != nil || len(keys) != 0 {
			t.Errorf("the hub's Redis holds keys of kiez: %v %v", keys, err)
		}
	}

	sh("tenant", "offboard", "kiez", "--yes")
	hubLog, _ = auditJSON()
	want = append(want, "tenant offboard")
	if got := actions(hubLog, "kiez"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after the offboard the hub log has kiez's actions %q, want %q", got, want)
	}
	// Its own log is purged: siphon audit kiez reads the hub's entries,
	// even with nothing of kiez left in the EU store.
	if !strings.Contains(euStore, "://") {
		if err := os.Remove(filepath.Join(dir, "eu.db")); err != nil {
			t.Fatal(err)
		}
	}
	own, errOut = auditJSON("kiez")
	if got := actions(own, "kiez"); strings.Join(got, ",") != strings.Join(want, ",") || !strings.Contains(errOut, "showing its entries in the hub log") {
		t.Fatalf("siphon audit kiez after the offboard: %q (%s), want %q from the hub log", got, errOut, want)
	}
	out, _ := sh("audit", "kiez", "--limit", "1")
	if !strings.Contains(out, "tenant offboard") || strings.Contains(out, "checkpoint set") {
		t.Errorf("siphon audit kiez --limit 1 after the offboard:\n%s", out)
	}
}
