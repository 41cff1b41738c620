package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/runtime"
)

// backfillConfig is one users pipeline into sqlite for tenants a (in
// Chicago, backfill at 02:00) and b, reading the source at baseURL at the
// given rate; extraDest goes in the destination block.
func backfillConfig(t *testing.T, baseURL, rate, a, b, extraDest string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": `
source "vomo" {
  kind       = "vomo"
  base_url   = "` + baseURL + `"
  rate_limit = "` + rate + `"
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field = "updated_at"
    param = "updated_after"
  }
}
destination "db" {
  plugin = "sqlite"
  ` + extraDest + `
}
pipeline "volunteers" {
  resource    = resource.users
  destination = destination.db
  fields = {
    email = record.email
  }
}
tenant "` + a + `" {
  pipelines   = [pipeline.volunteers]
  timezone    = "America/Chicago"
  backfill_at = "02:00"
}
tenant "` + b + `" {
  pipelines = [pipeline.volunteers]
}
`})
	return dir
}

func setBackfillToken(t *testing.T, tenant, token string, args ...string) {
	t.Helper()
	withStdin(t, token+"\n", func() {
		if code, out, errOut := siphon(t, append([]string{"credentials", "set", tenant}, args...)...); code != 0 {
			t.Fatalf("credentials set: %d %s %s", code, out, errOut)
		}
	})
}

// backfill --estimate prints the cost table or JSON; backfill schedules
// the start in the tenant's zone, audits it, refuses unknown resources and
// times, and asks again for pipelines that already have a cursor.
func TestBackfillCommand(t *testing.T) {
	sim, url := estimateSim(t, 40)
	ts := sim.Tenants()
	a := ts[0].ID
	dir := backfillConfig(t, url, "600/1m", a, ts[1].ID, "")
	setBackfillToken(t, a, ts[0].Token, "--config", dir)
	if code, _, errOut := siphon(t, "backfill", ts[1].ID, "--estimate", "--config", dir); code != 1 || !strings.Contains(errOut, "no credentials: run siphon credentials set "+ts[1].ID) {
		t.Fatalf("estimate without a token: %d %s", code, errOut)
	}

	code, out, errOut := siphon(t, "backfill", a, "--estimate", "--json", "--config", dir)
	if code != 0 {
		t.Fatalf("estimate: %d %s", code, errOut)
	}
	var est BackfillEstimate
	if err := json.Unmarshal([]byte(out), &est); err != nil {
		t.Fatalf("estimate --json: %v\n%s", err, out)
	}
	// 40 records at 15 a page: 3 pages and the probe; 4 requests at the
	// backfill's half of 600/min.
	if est.Records != 40 || est.Pages != 3 || est.Requests != 4 || len(est.Budgets) != 1 || est.Budgets[0].TenantSeconds != 0.8 {
		t.Fatalf("estimate: %s", out)
	}
	code, out, _ = siphon(t, "backfill", a, "--estimate", "--config", dir)
	if code != 0 || !strings.Contains(out, "users     volunteers  40       15        3      4") ||
		!strings.Contains(out, "vomo: 4 requests; about 1s at the backfill's 50% of the tenant's rate_limit 600/1m") {
		t.Fatalf("estimate table: %d\n%s", code, out)
	}
	if strings.Contains(out+errOut, ts[0].Token) {
		t.Fatal("the token was printed")
	}

	for _, bad := range [][]string{{"--resources", "usres"}, {"--at", "25:00"}, {"--estimate", "--at", "now"}} {
		code, _, errOut := siphon(t, append([]string{"backfill", a, "--config", dir}, bad...)...)
		if code != 1 || errOut == "" {
			t.Fatalf("backfill %v: %d %s", bad, code, errOut)
		}
		if bad[0] == "--resources" && !strings.Contains(errOut, `no resource "usres"; did you mean "users"?`) {
			t.Fatalf("unknown resource: %s", errOut)
		}
	}

	before := time.Now()
	code, out, errOut = siphon(t, "backfill", a, "--at", "03:15", "--config", dir)
	stagger := runtime.BackfillStagger(a)
	if code != 0 || !strings.Contains(out, "03:15 plus the tenant's stagger of "+stagger.String()) || !strings.Contains(out, "new: volunteers") {
		t.Fatalf("backfill --at 03:15: %d %s %s", code, out, errOut)
	}
	st, err := state.Open(context.Background(), dir+"/.siphon/state.db", state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var due time.Time
	refs, err := st.DueJobs(context.Background(), before.AddDate(1, 0, 0), 100)
	for _, r := range refs {
		if r.Tenant == a && r.Job == runtime.BackfillJob {
			due = r.Due
		}
	}
	chicago, _ := time.LoadLocation("America/Chicago")
	// 03:15 in Chicago plus the tenant's stagger within the hour.
	if l := due.Add(-stagger).In(chicago); err != nil || l.Hour() != 3 || l.Minute() != 15 || l.Second() != 0 ||
		!due.After(before) || due.After(before.Add(25*time.Hour)) {
		t.Fatalf("stored backfill due %s (%s local, stagger %s) %v", due, due.In(chicago), stagger, err)
	}
	if !strings.Contains(out, due.In(chicago).Format("15:04:05")) {
		t.Fatalf("backfill --at 03:15 printed %q, not the staggered time %s", out, due.In(chicago))
	}
	entries, _, err := st.Audit(context.Background(), a, "", 10)
	if err != nil || len(entries) == 0 || entries[len(entries)-1].Action != "backfill" || !strings.Contains(entries[len(entries)-1].Detail, "03:15") {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	_ = st.Close()

	// run --once backfills at once; asking again backfills the pipeline,
	// which now has a cursor, a second time.
	if code, out, errOut := siphon(t, "run", "--once", dir); !strings.Contains(out, "jobs run 2") {
		t.Fatalf("run --once: %d %s %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "backfill", a, "--at", "now", "--resources", "users", "--config", dir)
	if code != 0 || !strings.Contains(out, "backfilled again (they have a cursor): volunteers") {
		t.Fatalf("backfill again: %d %s %s", code, out, errOut)
	}
	st, err = state.Open(context.Background(), dir+"/.siphon/state.db", state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	flags, err := st.Flags(context.Background(), a)
	if err != nil || len(flags) != 1 || flags[0].Kind != state.FlagBackfillRequested || flags[0].Scope != "volunteers" {
		t.Fatalf("flags: %+v %v", flags, err)
	}
}

// backfill --wait shows the progress another process makes, read from the
// shared store, and returns when the backfill completes.
func TestBackfillWait(t *testing.T) {
	sim, url := estimateSim(t, 300)
	ts := sim.Tenants()
	a := ts[0].ID
	store := redistest.Start(t).URL()
	dir := backfillConfig(t, url, "60000/1m", a, ts[1].ID, "allow_single_node = true")
	setBackfillToken(t, a, ts[0].Token, "--config", dir, "--store", store)

	// The waiting command runs in its own process (this test binary as
	// siphon, see TestMain): two commands in one process share flag state.
	var out, errOut bytes.Buffer
	wait := exec.Command(os.Args[0], "backfill", a, "--at", "now", "--wait", "--json", "--interval", "20ms", "--config", dir, "--store", store)
	wait.Env = append(os.Environ(), "SIPHON_TEST_CLI=1")
	wait.Stdout, wait.Stderr = &out, &errOut
	if err := wait.Start(); err != nil {
		t.Fatal(err)
	}
	// The run starts once the backfill is scheduled (--once would start
	// it anyway; the schedule is what --wait reports against).
	time.Sleep(200 * time.Millisecond)
	if c, o, e := siphon(t, "run", "--once", dir, "--store", store); !strings.Contains(o, "jobs run 2") {
		t.Fatalf("run --once: %d %s %s", c, o, e)
	}
	if err := wait.Wait(); err != nil {
		t.Fatalf("backfill --wait: %v %s %s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatalf("last line: %v\n%s", err, out.String())
	}
	if last["item"] != "users" || last["state"] != "done" || last["records"] != float64(300) {
		t.Fatalf("last progress line: %v\n%s", last, out.String())
	}
}
