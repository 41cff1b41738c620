package runtime_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	_ "github.com/siphonhq/siphon/internal/state/local" // bbolt store
	_ "github.com/siphonhq/siphon/internal/state/redis" // redis store
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/runtime"
)

// harness is one simulated VOMO, one store and one configuration on a
// shared scaled clock.
type harness struct {
	t     testing.TB
	clk   clock.Clock
	sim   *vomosim.Server
	url   string // the simulator's API base URL
	dir   string
	plan  *dsl.Plan
	store state.Store
	kms   secrets.KMS
}

type harnessOpts struct {
	tenants, users int
	store          string // URL; "" for bbolt in a temp dir
	pipeline       string // the pipeline block's body
	churnPerMinute float64
	// extra is more configuration (resources, pipelines); tenantPipelines
	// the tenants' pipelines list (default [pipeline.volunteers]).
	extra, tenantPipelines string
	// singleNodeUnset leaves allow_single_node out with a Redis store.
	singleNodeUnset bool
	// adjust changes the scenario (switches, faults) before the simulator
	// starts.
	adjust func(*vomosim.Scenario)
	// destination is the destination block's plugin and config lines
	// (default: sqlite at out/destination.db).
	destination string
	// trips, when set, counts the store's round trips.
	trips *state.Trips
	// tenantAttrs are more attributes of every tenant (default
	// backfill_at = "now", so a run backfills new tenants at once).
	tenantAttrs string
}

// clockScale: one real second is a simulated minute, so a 30s settle
// takes half a real second and 5m cadences pass in seconds.
const clockScale = 60

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	clk := clock.NewScaled(time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), clockScale)
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users = o.tenants, o.users
	sc.Churn.Enabled = o.churnPerMinute > 0
	sc.Churn.PerMinute = o.churnPerMinute
	// Deletions are found only by reconcile, which this slice does not
	// run: the churn here creates, updates and changes emails.
	sc.Churn.Delete = 0
	if o.adjust != nil {
		o.adjust(&sc)
	}
	sim, err := vomosim.New(vomosim.Options{Clock: clk, Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)

	dir := t.TempDir()
	tenantPipelines := o.tenantPipelines
	if tenantPipelines == "" {
		tenantPipelines = "[pipeline.volunteers]"
	}
	tenantAttrs := o.tenantAttrs
	if tenantAttrs == "" {
		tenantAttrs = `backfill_at = "now"`
	}
	var tenants strings.Builder
	for _, ti := range sim.Tenants() {
		fmt.Fprintf(&tenants, "tenant %q {\n  pipelines = %s\n  %s\n}\n", ti.ID, tenantPipelines, tenantAttrs)
	}
	allow := ""
	if o.store != "" && !o.singleNodeUnset {
		allow = "allow_single_node = true"
	}
	destination := o.destination
	if destination == "" {
		destination = "plugin = \"sqlite\"\n  config = { path = \"out/destination.db\" }"
	}
	files := map[string]string{
		"source.hcl": fmt.Sprintf(`source "vomo" {
  kind       = "vomo"
  base_url   = %q
  rate_limit = "100000/1m"
  retry {
    attempts    = 6
    backoff     = "10ms"
    max_backoff = "100ms"
  }
}
resource "users" {
  source      = source.vomo
  path        = "/users"
  primary_key = "id"
  cadence     = "5m"
  cursor {
    field   = "updated_at"
    param   = "updated_after"
    overlap = "2m"
    settle  = "30s"
  }
}
destination "db" {
  %s
  batch_size = 200
  %s
}
`, hs.URL+"/v1", destination, allow),
		"pipeline.hcl": "pipeline \"volunteers\" {\n" + o.pipeline + "\n}\n" + o.extra,
		"tenants.hcl":  tenants.String(),
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res := dsl.Load(dir, dsl.Options{Mode: dsl.ModeRun, Now: clk.Now()})
	if res.Plan == nil {
		t.Fatalf("plan: %v", res.Diagnostics)
	}
	url := o.store
	if url == "" {
		url = filepath.Join(dir, ".siphon", "state.db")
		if err := os.MkdirAll(filepath.Dir(url), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.Open(context.Background(), url, state.Options{Trips: o.trips})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kms, err := secrets.NewMasterKey(key)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clk: clk, sim: sim, url: hs.URL + "/v1", dir: dir, plan: res.Plan, store: st, kms: kms}
	for _, ti := range sim.Tenants() {
		h.setToken(ti.ID, ti.Token)
	}
	return h
}

func (h *harness) setToken(tenant, token string) {
	h.t.Helper()
	blob, err := secrets.Seal(context.Background(), h.kms, tenant, []byte(token))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.PutCredential(context.Background(), tenant, blob); err != nil {
		h.t.Fatal(err)
	}
}

// runner makes a runner as `siphon run` would, with short leases.
func (h *harness) runner() *runtime.Runner {
	h.t.Helper()
	return h.runnerWith("", nil)
}

// runnerWith makes a runner with its own owner name (another process)
// and, when set, its own HTTP client towards the source.
func (h *harness) runnerWith(owner string, hc *http.Client) *runtime.Runner {
	h.t.Helper()
	return h.runnerAdjusted(func(c *runtime.Config) {
		c.Owner = owner
		c.Source = func(c *vomo.Config) {
			c.PerPage = 100
			if hc != nil {
				c.HTTPClient = hc
			}
		}
	})
}

// runnerAdjusted makes a runner as runner does, with adjust applied to its
// Config.
func (h *harness) runnerAdjusted(adjust func(*runtime.Config)) *runtime.Runner {
	h.t.Helper()
	cfg := runtime.Config{Plan: h.plan, Store: h.store, Clock: h.clk, Logger: quietLog(), Workers: 4,
		LeaseTTL: 3 * time.Second, RetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: time.Second,
		Credentials: runtime.SealedCredentials{Store: h.store, KMS: h.kms},
		Source:      func(c *vomo.Config) { c.PerPage = 100 }}
	adjust(&cfg)
	r, err := runtime.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// reload rewrites the pipeline block's body and loads the configuration
// again, as a deployment of a changed mapping would (the pipeline file
// then holds that pipeline alone).
func (h *harness) reload(pipeline string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "pipeline.hcl"), []byte("pipeline \"volunteers\" {\n"+pipeline+"\n}\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	res := dsl.Load(h.dir, dsl.Options{Mode: dsl.ModeRun, Now: h.clk.Now()})
	if res.Plan == nil {
		h.t.Fatalf("plan: %v", res.Diagnostics)
	}
	h.plan = res.Plan
}

// waitSim sleeps until the shared clock has moved by d.
func (h *harness) waitSim(d time.Duration) {
	until := h.clk.Now().Add(d)
	for h.clk.Now().Before(until) {
		time.Sleep(20 * time.Millisecond)
	}
}

// row is one destination row as the test checks it.
type row struct {
	version time.Time
	fields  map[string]string
}

// rows reads every row of an object from the sqlite destination.
func (h *harness) rows(object string, cols ...string) map[string]map[string]row {
	h.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(h.dir, "out", "destination.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	q := "SELECT tenant, key, source_updated_at"
	for _, c := range cols {
		q += ", coalesce(CAST(" + c + " AS TEXT), '')"
	}
	rs, err := db.Query(q + " FROM " + object)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]map[string]row{}
	for rs.Next() {
		var tenant, key, ver string
		vals := make([]string, len(cols))
		dest := []any{&tenant, &key, &ver}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rs.Scan(dest...); err != nil {
			h.t.Fatal(err)
		}
		v, err := time.Parse(time.RFC3339Nano, ver)
		if err != nil {
			h.t.Fatalf("row %s/%s: source_updated_at %q: %v", tenant, key, ver, err)
		}
		r := row{version: v, fields: map[string]string{}}
		for i, c := range cols {
			r.fields[c] = vals[i]
		}
		if out[tenant] == nil {
			out[tenant] = map[string]row{}
		}
		out[tenant][key] = r
	}
	if err := rs.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// truthUser is what the test reads from the simulator's truth.
type truthUser struct {
	UpdatedAt string `json:"updated_at"`
	Email     string `json:"email"`
	Status    string `json:"membership_status"`
}

func (h *harness) truth(tenant string) map[string]truthUser {
	h.t.Helper()
	tr, err := h.sim.Truth(tenant, "users")
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]truthUser{}
	for i, raw := range tr.Records {
		var u truthUser
		if err := json.Unmarshal(raw, &u); err != nil {
			h.t.Fatal(err)
		}
		out[tr.Keys[i]] = u
	}
	return out
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// queue is a tenant's queue for the test destination.
func (h *harness) queue(tenant string) state.QueueRef {
	return state.QueueRef{Tenant: tenant, Destination: "db", Lane: "standard"}
}

// quietLog discards logs unless SIPHON_TEST_LOG is set.
func quietLog() *slog.Logger {
	if os.Getenv("SIPHON_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// waitFor polls cond until it holds; the deadline only stops a broken test
// from hanging.
func (h *harness) waitFor(deadline time.Time, what string, cond func() bool) {
	h.t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cursorsAfter reports whether every tenant's cursor is past t.
func (h *harness) cursorsAfter(t time.Time) bool {
	for _, ti := range h.sim.Tenants() {
		cp, err := h.store.Checkpoint(context.Background(), ti.ID, "volunteers")
		if err != nil || cp.Cursor.IsZero() || !cp.Cursor.After(t) {
			return false
		}
	}
	return true
}

// queuesEmpty reports whether every tenant's queue is empty.
func (h *harness) queuesEmpty() bool {
	for _, ti := range h.sim.Tenants() {
		d, err := h.store.Depth(context.Background(), h.queue(ti.ID))
		if err != nil || d.Stream+d.Retry > 0 {
			return false
		}
	}
	return true
}
