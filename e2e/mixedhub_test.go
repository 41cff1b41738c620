package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
	siphonrt "github.com/siphonhq/siphon/runtime"
)

// The mixed hub: fifty healthy tenants share two `siphon run` processes
// on one Redis with three tenants in trouble, each in its own way:
//
//   - revoked: its token starts answering 401 in the middle of the run;
//     it is paused with the reason in `siphon status` and nobody else is,
//     and once the operator stores a working token (`credentials set`) it
//     catches up;
//   - backlogged: a tenant far larger than the others whose backfill
//     starts in the middle of the run (its backfill_at), flooding its
//     queue while the others keep polling and writing;
//   - down: its pipeline writes to its own destination, which cannot be
//     opened; its breaker opens, its queue holds the work while polling
//     goes on filling it, and once the destination is back the queue
//     drains with nothing in the DLQ.
//
// The source churns throughout. Afterwards every tenant's destination
// equals the source, no DLQ holds anything, and the healthy tenants'
// freshness (from a change's updated_at at the source to its row's
// synced_at at the destination, on the shared scaled clock) stayed within
// cadence + settle + one more cadence, counted apart for the changes made
// while the big tenant's backlog was in the queue and for the others.

const (
	healthyTenants = 50
	downPipeline   = "volunteers_down"
	downDest       = "down"
	// cadence is the users resource's cadence in writeConfig.
	cadence = 30 * time.Second
	// freshnessGoal: a change becomes visible to a walk settle after it
	// is made, the next poll comes within a cadence, and writing it may
	// take up to one more cadence.
	freshnessGoal = settle + 2*cadence
	// lateShare is the share of healthy changes allowed past the goal: a
	// shared CI machine can stall a process for a moment.
	lateShare = 0.01
)

// mixedSize sizes the run.
type mixedSize struct {
	users int // users of every tenant but the backlogged one
	big   int // the backlogged tenant's users
	// lead is how long after the workers start (on the shared clock) the
	// big tenant's backfill may begin at the earliest; after is how long
	// the run goes on once its backlog has drained.
	lead  time.Duration
	after time.Duration
	// limit bounds every wait, so a broken run fails instead of hanging.
	limit time.Duration
	// cooldown is the down destination's breaker cooldown (real time) and
	// attempts its pipeline's max_attempts, kept small: an outage spends
	// no attempts (half-open trials and batches handed back while the
	// destination is down do not count against the records), so however
	// many cooldowns it spans, nothing may reach the DLQ.
	cooldown time.Duration
	attempts int
}

func mixedRunSize() mixedSize {
	if soak() {
		return mixedSize{users: 2000, big: 1000000, lead: 10 * time.Minute, after: time.Minute, limit: 30 * time.Minute,
			cooldown: 5 * time.Second, attempts: 3}
	}
	return mixedSize{users: 100, big: 5000, lead: 3 * time.Minute, after: 4 * time.Second, limit: time.Minute,
		cooldown: time.Second, attempts: 3}
}

func TestMixedHub(t *testing.T) {
	binaries(t)
	ms := mixedRunSize()
	e := &env{t: t, size: size{tenants: healthyTenants + 2, users: ms.users, churn: 12}, dir: testDir(t),
		epoch: time.Now(), revoked: map[string]bool{}}
	e.clk = clock.NewScaledSince(e.epoch, clockScale)
	e.redis = redistest.Start(t)
	e.store = e.redis.URL()
	e.sim = e.startSim()
	// The adversarial source's pagination quirks stay (count drift,
	// per_page flips, second-resolution ties, bulk imports); random
	// faults, late-visible writes and the clock skew go, so that a
	// change's updated_at is when it became visible and the freshness
	// figures measure the hub, not the source's tricks. per_page is
	// honoured so the big tenant's backfill is not 15 records a request.
	for path, body := range map[string]string{
		"faults":   `{"enabled": false}`,
		"switches": `{"clock_skew": "0s", "per_page_param": true}`,
		"churn":    `{"late_share": 0}`,
	} {
		if err := e.sim.call("PATCH", path, body, nil); err != nil {
			t.Fatal(err)
		}
	}
	var bigInfo struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := e.sim.call("POST", "tenants", fmt.Sprintf(`{"users": %d}`, ms.big), &bigInfo); err != nil {
		t.Fatal(err)
	}
	healthy := slices.Clone(e.sim.tenants[:healthyTenants])
	revoked, down, big := e.sim.tenants[healthyTenants], e.sim.tenants[healthyTenants+1], bigInfo.ID
	e.sim.tenants = append(e.sim.tenants, big)
	e.sim.tokens[big] = bigInfo.Token
	pipelineOf := func(tenant string) (string, string) {
		if tenant == down {
			return downPipeline, downDest
		}
		return pipeline, "db"
	}

	e.cfg = filepath.Join(e.dir, "hub")
	e.writeConfig(true)
	// The down destination's directory is a plain file: the plugin
	// cannot create its database until the file is removed.
	blocked := filepath.Join(e.cfg, "blocked")
	if err := os.WriteFile(blocked, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeMixedConfig(ms, down, big, e.clk.Now().Add(time.Hour)) // no backfill of the big tenant yet
	e.setCredentials()
	// The big tenant's backfill begins at the first whole minute at
	// least lead after now, the others' at once.
	bigAt := e.writeMixedConfig(ms, down, big, e.clk.Now().Add(ms.lead))
	st := e.openStore()
	defer st.Close()
	bs := e.watchBacklog(st, big)
	live := []*worker{e.startWorker(), e.startWorker()}
	started := time.Now()

	// Steady state: every tenant but the big one has completed a walk.
	ctx := context.Background()
	e.waitFor(ms.limit, "a first completed walk of every tenant but the big one", func() bool {
		for _, tenant := range e.sim.tenants {
			p, _ := pipelineOf(tenant)
			if tenant != big && e.cursorOf(st, tenant, p).IsZero() {
				return false
			}
		}
		return true
	})
	steady := e.clk.Now()

	// The down tenant's destination cannot even create its table: its
	// walks went on into its queue, which holds its work (none of it in
	// the DLQ), and status says why. Then the destination comes back
	// and the queue drains.
	e.checkHeld(st, down, ms.users, "the batches waited for the destination to prepare its table",
		"destination cannot prepare the object; batch waits")
	if err := os.Remove(blocked); err != nil {
		t.Fatal(err)
	}
	e.waitFor(ms.limit, down+"'s queue drained into its destination once back", func() bool {
		d, err := st.Depth(ctx, state.QueueRef{Tenant: down, Destination: downDest, Lane: "standard"})
		return err == nil && d.Stream+d.Retry == 0
	})
	// Then it goes down under the running writers: the database's
	// directory moves away and its plugins die; the restarted ones cannot
	// open it, the writes fail and the tenant's breaker opens.
	e.takeDown(filepath.Join(e.cfg, "blocked"))
	t.Logf("steady %s after the workers started; the big tenant's backfill is due at %s", time.Since(started).Round(100*time.Millisecond), bigAt.Format(time.TimeOnly))
	if !steady.Before(bigAt) {
		t.Fatalf("the hub reached its steady state at %s, after the big tenant's backfill at %s: no freshness without it to compare", steady, bigAt)
	}

	// The revoked tenant's token stops working.
	if err := e.sim.call("POST", "tenants/"+revoked+"/revoke", "", nil); err != nil {
		t.Fatal(err)
	}
	e.revoked[revoked] = true
	e.waitFor(ms.limit, revoked+" paused by its 401s", func() bool { return len(e.authPauses(st, revoked)) > 0 })

	// The big tenant's backlog comes and goes while the rest runs on.
	e.waitFor(ms.limit+2*time.Duration(float64(ms.lead)/clockScale), "the big tenant's backlog in its queue", func() bool { return bs.seen() })
	e.waitFor(ms.limit, "the big tenant's backlog drained and its first walk complete", func() bool {
		d, err := st.Depth(ctx, queue(big))
		return err == nil && d.Stream+d.Retry == 0 && !e.cursorOf(st, big, pipeline).IsZero()
	})
	bs.stop()
	e.waitFor(ms.after+time.Minute, "the run after the backlog", pacer(ms.after))

	e.checkHeld(st, down, 1, "its breaker opened", "destination breaker open; batch waits")
	e.checkBreakerWaits(down)

	stopped := e.stopChurn()
	t.Logf("churn stopped %s after the workers started", time.Since(started).Round(100*time.Millisecond))
	// Every tenant but the revoked one walks past the end of churn, the
	// down one too: its polling goes on into its queue.
	e.waitFor(ms.limit, "every tenant but the revoked and the down one caught up with the end of churn, and the down one's cursor past it", func() bool {
		if !e.cursorOf(st, down, downPipeline).After(stopped) {
			return false
		}
		for _, tenant := range e.sim.tenants {
			if tenant == revoked || tenant == down {
				continue
			}
			if e.caughtUp(st, tenant, pipeline, "db", stopped) != nil {
				return false
			}
		}
		return true
	})

	// siphon status: the revoked tenant is paused with its 401, nobody
	// else is.
	for _, s := range e.status() {
		if (s.Tenant == revoked) != strings.Contains(s.Paused, "401") {
			t.Errorf("siphon status: %s paused %q", s.Tenant, s.Paused)
		}
	}

	// The operator stores a working token (the source accepts the token
	// again, as it would a new one) and the destination comes back.
	if err := e.sim.call("POST", "tenants/"+revoked+"/restore", "", nil); err != nil {
		t.Fatal(err)
	}
	out := e.siphon(strings.NewReader(e.sim.tokens[revoked]+"\n"), "credentials", "set", revoked, "--config", e.cfg, "--store", e.store)
	if !strings.Contains(out, "cleared the auth pause of "+revoked) {
		t.Errorf("credentials set did not say it cleared the auth pause: %s", e.redact([]byte(out)))
	}
	delete(e.revoked, revoked)
	e.bringBack(filepath.Join(e.cfg, "blocked"))
	e.waitFor(ms.limit, "the revoked and the down tenant caught up", func() bool {
		return e.caughtUp(st, revoked, pipeline, "db", stopped) == nil && e.caughtUp(st, down, downPipeline, downDest, stopped) == nil
	})
	t.Logf("every tenant caught up %s after the workers started", time.Since(started).Round(100*time.Millisecond))
	for _, w := range live {
		e.stop(w)
	}

	// Nothing lost anywhere: no dead letter, every destination exact.
	e.assertNoDeadLetters(st)
	for _, tenant := range e.sim.tenants {
		p, dest := pipelineOf(tenant)
		if len(e.authPauses(st, tenant)) > 0 {
			t.Errorf("%s is still paused for its credentials", tenant)
		}
		if err := e.caughtUp(st, tenant, p, dest, stopped); err != nil {
			t.Errorf("after the workers stopped: %v", err)
		}
	}
	rows := map[string]map[string]mixedRow{}
	for _, tenant := range e.sim.tenants {
		path := filepath.Join(e.cfg, "out", "destination.db")
		if tenant == down {
			path = filepath.Join(e.cfg, "blocked", "down.db")
		}
		r, err := readMixedRows(path, tenant)
		if err != nil {
			t.Fatal(err)
		}
		rows[tenant] = r
		e.assertTenantExact(tenant, r)
	}
	e.assertLogsClean()

	// Freshness of the healthy tenants.
	backlog := bs.window()
	var without, withSamples freshnessSamples
	for _, tenant := range healthy {
		for _, r := range rows[tenant] {
			if r.version.Before(steady) || r.version.After(stopped) {
				continue
			}
			lag := e.scaled(r.synced).Sub(r.version)
			if backlog.overlaps(r.version, r.version.Add(freshnessGoal)) {
				withSamples = append(withSamples, lag)
			} else {
				without = append(without, lag)
			}
		}
	}
	t.Logf("freshness of %d healthy tenants (goal %s on the shared clock; big tenant %d records, its backlog from %s to %s):",
		len(healthy), freshnessGoal, ms.big, backlog.from.Format(time.TimeOnly), backlog.to.Format(time.TimeOnly))
	t.Logf("  without the big neighbour: %s", without.summary())
	t.Logf("  with the big neighbour:    %s", withSamples.summary())
	for name, s := range map[string]freshnessSamples{"without the big neighbour": without, "with the big neighbour": withSamples} {
		if len(s) < 50 {
			t.Errorf("only %d changes of healthy tenants measured %s: the run did not measure freshness", len(s), name)
			continue
		}
		if late := s.over(freshnessGoal); float64(late) > lateShare*float64(len(s)) {
			t.Errorf("%s: %d of %d changes of healthy tenants arrived later than %s (p50 %s, p99 %s, max %s)",
				name, late, len(s), freshnessGoal, s.pct(0.50), s.pct(0.99), s.pct(1))
		}
	}
	// The fairness goal: the big neighbour at most doubles the
	// healthy tenants' lag. Counted as changes made beside the backlog
	// that took longer than twice the p99 of those made without it.
	if bound := 2 * without.pct(0.99); len(without) > 0 && float64(withSamples.over(bound)) > lateShare*float64(len(withSamples)) {
		t.Errorf("with the big neighbour %d of %d changes of healthy tenants took longer than %s, twice the p99 without it",
			withSamples.over(bound), len(withSamples), bound)
	}
	t.Logf("mixed hub freshness (goal <= %s, <= 2x without): p50/p99 without the big neighbour %s/%s, with %s/%s (%d records backlogged)",
		freshnessGoal, without.pct(0.5), without.pct(0.99), withSamples.pct(0.5), withSamples.pct(0.99), ms.big)
}

// writeMixedConfig writes the tenants (the down one on its own pipeline
// and destination, the big one backfilling at the first whole minute not
// before bigFrom, the others at once) and returns the big one's start.
func (e *env) writeMixedConfig(ms mixedSize, down, big string, bigFrom time.Time) time.Time {
	// The backfill starts at backfill_at plus the tenant's stagger within
	// the hour: configure the minute that puts its start at or after bigFrom.
	stagger := siphonrt.BackfillStagger(big)
	clockAt := bigFrom.Add(-stagger).UTC().Truncate(time.Minute)
	if clockAt.Add(stagger).Before(bigFrom) {
		clockAt = clockAt.Add(time.Minute)
	}
	at := clockAt.Add(stagger)
	var b strings.Builder
	fmt.Fprintf(&b, `destination %q {
  plugin            = "sqlite"
  config            = { path = "blocked/down.db" }
  batch_size        = 100
  allow_single_node = true
  circuit_breaker {
    failures = 3
    cooldown = %q
  }
}

pipeline %q {
  resource    = resource.users
  destination = destination.%s
  object      = "volunteers"
  fields = {
    email  = record.email
    status = record.membership_status
  }
  retry {
    max_attempts = %d
  }
}

`, downDest, ms.cooldown.String(), downPipeline, downDest, ms.attempts)
	for _, id := range e.sim.tenants {
		p, when := pipeline, "now"
		if id == down {
			p = downPipeline
		}
		if id == big {
			when = clockAt.Format("15:04")
		}
		fmt.Fprintf(&b, "tenant %q {\n  pipelines   = [pipeline.%s]\n  backfill_at = %q\n}\n", id, p, when)
	}
	if err := os.WriteFile(filepath.Join(e.cfg, "tenants.hcl"), []byte(b.String()), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return at
}

// checkHeld checks a tenant whose destination is down: its queue holds
// at least min entries and its DLQ none, status shows the last write
// error, and a worker logged msg for it (what happened, in words).
func (e *env) checkHeld(st state.Store, tenant string, min int, what, msg string) {
	t := e.t
	t.Helper()
	e.waitFor(time.Minute, fmt.Sprintf("%s's queue holding work and a worker saying %s", tenant, what), func() bool {
		d, err := st.Depth(context.Background(), state.QueueRef{Tenant: tenant, Destination: downDest, Lane: "standard"})
		return err == nil && d.Stream+d.Retry >= int64(min) && e.logged(msg, tenant)
	})
	found := false
	for _, s := range e.status() {
		if s.Tenant != tenant {
			continue
		}
		for _, q := range s.Queues {
			if q.Destination == downDest {
				found = true
				if q.Depth+q.Retry == 0 || q.LastWriteError == "" {
					t.Errorf("siphon status: %s's queue to %s is %+v; want its held work and the last write error", tenant, downDest, q)
				}
			}
		}
	}
	if !found {
		t.Errorf("siphon status shows no queue of %s to %s", tenant, downDest)
	}
	letters, _, err := st.DeadLetterList(context.Background(), tenant, "", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range letters {
		t.Errorf("%s: dead letter %s/%s with its destination down: %s", tenant, l.Entry.Pipeline, l.Entry.Key, l.Entry.LastError)
	}
}

// checkBreakerWaits checks every batch of tenant a worker sent back for
// its open breaker: each parked the queue for a while. A park of nothing
// (the breaker's cooldown over while a trial write is still running)
// makes every worker take the queue again at once, in a loop, each
// claim of the held batch counting towards "reclaimed too often".
func (e *env) checkBreakerWaits(tenant string) {
	t := e.t
	t.Helper()
	n, bad := 0, 0
	for _, w := range e.workers {
		b, err := os.ReadFile(w.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var l struct {
				Msg     string `json:"msg"`
				Tenant  string `json:"tenant"`
				RetryIn *int64 `json:"retry_in"` // nanoseconds
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "destination breaker open; batch waits" || l.Tenant != tenant {
				continue
			}
			n++
			if l.RetryIn == nil || *l.RetryIn <= 0 {
				if bad++; bad <= 3 {
					t.Errorf("%s parked %s's queue for nothing with its breaker open: %s", w.name, tenant, line)
				}
			}
		}
	}
	t.Logf("%d batches of %s waited for its open breaker (%d parked for nothing)", n, tenant, bad)
}

// takeDown makes the down destination unusable under running workers:
// its directory moves aside, a plain file takes its name, and every
// plugin process holding its database is killed, so the restarted
// plugins cannot open it.
func (e *env) takeDown(dir string) {
	t := e.t
	t.Helper()
	var holders []int
	for _, w := range e.workers {
		for _, pid := range w.children() {
			if holdsFileIn(pid, dir) {
				holders = append(holders, pid)
			}
		}
	}
	if len(holders) == 0 {
		t.Fatalf("no plugin process holds a file in %s", dir)
	}
	if err := os.Rename(dir, dir+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, pid := range holders {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !processGone(pid) {
			t.Fatalf("kill plugin %d: %v", pid, err)
		}
	}
}

// bringBack undoes takeDown.
func (e *env) bringBack(dir string) {
	e.t.Helper()
	if err := os.Remove(dir); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(dir+".aside", dir); err != nil {
		e.t.Fatal(err)
	}
}

// holdsFileIn reports whether process pid has a file under dir open.
func holdsFileIn(pid int, dir string) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// setCredentials stores every tenant's token with `siphon credentials
// set`: the first alone (it makes the master key file), then a few at a
// time.
func (e *env) setCredentials() {
	t := e.t
	t.Helper()
	began := time.Now()
	set := func(id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, siphonBin, "credentials", "set", id, "--config", e.cfg, "--store", e.store)
		cmd.Stdin, cmd.Env = strings.NewReader(e.sim.tokens[id]+"\n"), siphonEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("siphon credentials set %s: %v\n%s", id, err, e.redact(out))
		}
		return nil
	}
	ids := e.sim.tenants
	if err := set(ids[0]); err != nil {
		t.Fatal(err)
	}
	work := make(chan string)
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				errs <- set(id)
			}
		}()
	}
	for _, id := range ids[1:] {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("stored %d tokens in %s", len(ids), time.Since(began).Round(100*time.Millisecond))
}

// cursorOf is a tenant's cursor of a pipeline; zero on a store error.
func (e *env) cursorOf(st state.Store, tenant, p string) time.Time {
	cp, err := st.Checkpoint(context.Background(), tenant, p)
	if err != nil {
		return time.Time{}
	}
	return cp.Cursor
}

// caughtUp says why a tenant's pipeline has not caught up with stopped:
// its cursor is not past it, or its queue holds entries.
func (e *env) caughtUp(st state.Store, tenant, p, dest string, stopped time.Time) error {
	ctx := context.Background()
	cp, err := st.Checkpoint(ctx, tenant, p)
	if err != nil {
		return err
	}
	if !cp.Cursor.After(stopped) {
		return fmt.Errorf("%s/%s: cursor %s not past %s", tenant, p, cp.Cursor.Format(time.RFC3339), stopped.Format(time.RFC3339))
	}
	d, err := st.Depth(ctx, state.QueueRef{Tenant: tenant, Destination: dest, Lane: "standard"})
	if err != nil {
		return err
	}
	if d.Stream+d.Retry > 0 {
		return fmt.Errorf("%s: queue to %s %+v", tenant, dest, d)
	}
	return nil
}

// logged reports whether a worker logged msg for tenant.
func (e *env) logged(msg, tenant string) bool {
	for _, w := range e.workers {
		for _, l := range w.lines() {
			if l.Msg == msg && l.Tenant == tenant {
				return true
			}
		}
	}
	return false
}

// mixedStatus is `siphon status --json` as these checks read it.
type mixedStatus struct {
	Tenant string `json:"tenant"`
	Paused string `json:"paused"`
	Queues []struct {
		Destination    string `json:"destination"`
		Depth          int64  `json:"depth"`
		Retry          int64  `json:"retry"`
		LastWriteError string `json:"last_write_error"`
	} `json:"queues"`
}

func (e *env) status() []mixedStatus {
	e.t.Helper()
	var out []mixedStatus
	if err := json.Unmarshal([]byte(e.siphon(nil, "status", "--json", "--config", e.cfg, "--store", e.store)), &out); err != nil {
		e.t.Fatalf("siphon status --json: %v", err)
	}
	if len(out) != len(e.sim.tenants) {
		e.t.Errorf("siphon status lists %d tenants, want %d", len(out), len(e.sim.tenants))
	}
	return out
}

// scaled is the shared clock's reading at a real instant.
func (e *env) scaled(real time.Time) time.Time {
	return e.epoch.Add(time.Duration(float64(real.Sub(e.epoch)) * clockScale))
}

// mixedRow is a destination row with when it was written.
type mixedRow struct {
	row
	synced time.Time // real time
}

// readMixedRows reads a tenant's rows of a sqlite destination.
func readMixedRows(path, tenant string) (map[string]mixedRow, error) {
	out := map[string]mixedRow{}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rs, err := db.Query(`SELECT key, source_updated_at, synced_at, coalesce(CAST(email AS TEXT), ''), coalesce(CAST(status AS TEXT), '')
		FROM volunteers WHERE tenant = ?`, tenant)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rs.Close()
	for rs.Next() {
		var key, ver, synced string
		var r mixedRow
		if err := rs.Scan(&key, &ver, &synced, &r.email, &r.status); err != nil {
			return nil, err
		}
		if r.version, err = time.Parse(time.RFC3339Nano, ver); err != nil {
			return nil, fmt.Errorf("%s row %s/%s: source_updated_at %q: %w", path, tenant, key, ver, err)
		}
		if r.synced, err = time.Parse(time.RFC3339Nano, synced); err != nil {
			return nil, fmt.Errorf("%s row %s/%s: synced_at %q: %w", path, tenant, key, synced, err)
		}
		out[key] = r
	}
	return out, rs.Err()
}

// assertTenantExact compares a tenant's rows with the source: every user
// there is in the destination at its latest updated_at with its latest
// fields. Rows of users deleted since are reconcile's, not polling's.
func (e *env) assertTenantExact(tenant string, rows map[string]mixedRow) {
	t := e.t
	t.Helper()
	truth, err := e.bigTruth(tenant)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for key, u := range truth {
		r, ok := rows[key]
		var problem string
		switch {
		case !ok:
			problem = "missing"
		case !r.version.Equal(u.updated):
			problem = "at version " + r.version.Format(time.RFC3339Nano)
		case r.email != u.email || r.status != u.status:
			problem = fmt.Sprintf("holds %q %q", r.email, r.status)
		}
		if problem != "" {
			if bad++; bad <= 5 {
				t.Errorf("%s/%s: %s; the source has %s %q %q", tenant, key, problem, u.updated.Format(time.RFC3339Nano), u.email, u.status)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d records at the source are not in the destination as the source has them", tenant, bad, len(truth))
	}
	if len(truth) == 0 {
		t.Errorf("%s: the source has no users: nothing was checked", tenant)
	}
}

// truthClient reads the source's truth of a tenant of a million users,
// which takes longer than the control client's timeout.
var truthClient = &http.Client{Timeout: 10 * time.Minute}

// bigTruth is truth for a tenant of any size.
func (e *env) bigTruth(tenant string) (map[string]user, error) {
	resp, err := truthClient.Get(e.sim.base + "/_sim/truth/" + tenant + "/users")
	if err != nil {
		return nil, fmt.Errorf("vomosim truth of %s: %w", tenant, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("vomosim truth of %s: %s", tenant, resp.Status)
	}
	var tr vomosim.Truth
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return nil, fmt.Errorf("vomosim truth of %s: %w", tenant, err)
	}
	return truthUsers(tenant, tr)
}

// backlogWatch samples the big tenant's queue every 50ms and keeps the
// real times its queue was first and last seen holding entries.
type backlogWatch struct {
	mu          sync.Mutex
	first, last time.Time
	maxDepth    int64
	cancel      context.CancelFunc
	done        chan struct{}
	e           *env
}

func (e *env) watchBacklog(st state.Store, tenant string) *backlogWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &backlogWatch{cancel: cancel, done: make(chan struct{}), e: e}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			d, err := st.Depth(ctx, queue(tenant))
			if err == nil && d.Stream+d.Retry > 0 {
				now := time.Now()
				w.mu.Lock()
				if w.first.IsZero() {
					w.first = now
				}
				w.last, w.maxDepth = now, max(w.maxDepth, d.Stream+d.Retry)
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	e.t.Cleanup(w.stop)
	return w
}

func (w *backlogWatch) seen() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.first.IsZero()
}

func (w *backlogWatch) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
}

// window is the backlog's span on the shared clock.
func (w *backlogWatch) window() span {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.e.t.Logf("the big tenant's queue held up to %d entries for %s", w.maxDepth, w.last.Sub(w.first).Round(time.Millisecond))
	return span{from: w.e.scaled(w.first), to: w.e.scaled(w.last)}
}

// span is an interval of the shared clock.
type span struct{ from, to time.Time }

func (s span) overlaps(from, to time.Time) bool { return !from.After(s.to) && !to.Before(s.from) }

// freshnessSamples are lags from a change at the source to its row.
type freshnessSamples []time.Duration

// pct is the q quantile (nearest rank).
func (s freshnessSamples) pct(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(q*float64(len(c))+0.999999) - 1
	return c[min(max(i, 0), len(c)-1)].Round(100 * time.Millisecond)
}

func (s freshnessSamples) over(goal time.Duration) int {
	n := 0
	for _, d := range s {
		if d > goal {
			n++
		}
	}
	return n
}

func (s freshnessSamples) summary() string {
	return fmt.Sprintf("%d changes, p50 %s, p99 %s, max %s, %d past the goal", len(s), s.pct(0.5), s.pct(0.99), s.pct(1), s.over(freshnessGoal))
}
