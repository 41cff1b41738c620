package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // reads the destination file

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	_ "github.com/siphonhq/siphon/internal/state/local" // bbolt, read between runs
	_ "github.com/siphonhq/siphon/internal/state/redis" // read while workers run
	"github.com/siphonhq/siphon/internal/vomosim"
)

const pipeline = "volunteers"

// user is a user as the source holds it.
type user struct {
	updated       time.Time
	email, status string
}

// truth is every visible user of a tenant at the source now.
func (e *env) truth(tenant string) (map[string]user, error) {
	var tr vomosim.Truth
	if err := e.sim.call("GET", "truth/"+tenant+"/users", "", &tr); err != nil {
		return nil, err
	}
	return truthUsers(tenant, tr)
}

// truthUsers decodes a tenant's truth into the users the checks compare.
func truthUsers(tenant string, tr vomosim.Truth) (map[string]user, error) {
	out := make(map[string]user, len(tr.Keys))
	for i, raw := range tr.Records {
		var u struct {
			UpdatedAt string `json:"updated_at"`
			Email     string `json:"email"`
			Status    string `json:"membership_status"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			return nil, fmt.Errorf("truth %s/%s: %w", tenant, tr.Keys[i], err)
		}
		at, err := vomo.ParseTime(u.UpdatedAt)
		if err != nil {
			return nil, fmt.Errorf("truth %s/%s: %w", tenant, tr.Keys[i], err)
		}
		out[tr.Keys[i]] = user{updated: at, email: u.Email, status: u.Status}
	}
	return out, nil
}

// row is a destination row as the checks read it.
type row struct {
	version       time.Time
	email, status string
}

// rows reads the destination's rows (of one tenant, or all with ""),
// by tenant and key, read-only beside the running writers (WAL).
func (e *env) rows(tenant string) (map[string]map[string]row, error) {
	path := filepath.Join(e.cfg, "out", "destination.db")
	out := map[string]map[string]row{}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	query := "SELECT tenant, key, source_updated_at, coalesce(CAST(email AS TEXT), ''), coalesce(CAST(status AS TEXT), '') FROM volunteers"
	var args []any
	if tenant != "" {
		query += " WHERE tenant = ?"
		args = append(args, tenant)
	}
	rs, err := db.Query(query, args...)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return out, nil // nothing written yet
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rs.Close()
	for rs.Next() {
		var tn, key, ver string
		var r row
		if err := rs.Scan(&tn, &key, &ver, &r.email, &r.status); err != nil {
			return nil, err
		}
		if r.version, err = time.Parse(time.RFC3339Nano, ver); err != nil {
			return nil, fmt.Errorf("row %s/%s: source_updated_at %q: %w", tn, key, ver, err)
		}
		if out[tn] == nil {
			out[tn] = map[string]row{}
		}
		out[tn][key] = r
	}
	return out, rs.Err()
}

// writesLanding reports whether the destination file changes within a
// short look: a batch is being written right now.
func (e *env) writesLanding() bool {
	path := filepath.Join(e.cfg, "out", "destination.db-wal")
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	time.Sleep(15 * time.Millisecond)
	b, err := os.Stat(path)
	return err == nil && (a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime()))
}

// coveredUpTo lists the users of a source snapshot, taken after the
// checkpoint cursor was read, whose version is at or before the cursor and
// that the destination does not hold at that version or a newer one. The
// cursor only moves when a walk completes, to a cap at least settle before
// the walk began; a user unchanged since a version at or before that cap
// was visible to the walk and was enqueued before the cursor moved. Once
// the queue has been seen empty after that, the destination must hold it.
func coveredUpTo(cursor time.Time, truth map[string]user, rows map[string]row) []string {
	var bad []string
	for key, u := range truth {
		if u.updated.After(cursor) {
			continue
		}
		r, ok := rows[key]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s missing (updated_at %s, cursor %s)", key, u.updated.Format(time.RFC3339Nano), cursor.Format(time.RFC3339Nano)))
		case r.version.Before(u.updated):
			bad = append(bad, fmt.Sprintf("%s at %s, the source had %s at or before the cursor %s", key,
				r.version.Format(time.RFC3339Nano), u.updated.Format(time.RFC3339Nano), cursor.Format(time.RFC3339Nano)))
		}
	}
	sort.Strings(bad)
	return bad
}

// queue is a tenant's queue towards the destination.
func queue(tenant string) state.QueueRef {
	return state.QueueRef{Tenant: tenant, Destination: "db", Lane: "standard"}
}

// openStore opens the store from the test process: Redis beside the
// running workers, bbolt only while no worker holds it.
func (e *env) openStore() state.Store {
	e.t.Helper()
	st, err := state.Open(context.Background(), e.store, state.Options{})
	if err != nil {
		e.t.Fatalf("open the store from the test: %v", err)
	}
	return st
}

// checkpoints watches every tenant's checkpoint and checks, sample after
// sample, that no cursor moves backwards and that nothing at or before a
// cursor is missing from the destination once the queue has drained after
// it (see coveredUpTo).
type checkpoints struct {
	e        *env
	mu       sync.Mutex
	cursors  map[string]time.Time
	moves    int // cursor advances seen
	checked  int // coverage checks that could be made (queue seen drained)
	problems []string

	// For the sampler running beside Redis workers.
	cancel    context.CancelFunc
	done      chan struct{}
	pending   map[string]*coverage // tenant → check waiting for a drained queue
	last      map[string]time.Time // tenant → when its last check began
	snapshots int                  // source snapshots left this round
}

// coverage is a cursor with the source as it stood just after the cursor
// was read.
type coverage struct {
	cursor time.Time
	truth  map[string]user
	since  time.Time
}

func (e *env) newCheckpoints() *checkpoints {
	return &checkpoints{e: e, cursors: map[string]time.Time{}, pending: map[string]*coverage{}, last: map[string]time.Time{}}
}

func (c *checkpoints) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 20 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// observe records a cursor sample; a cursor below the last one seen is a
// checkpoint moving backwards.
func (c *checkpoints) observe(tenant string, cp state.Checkpoint) {
	c.mu.Lock()
	prev := c.cursors[tenant]
	if cp.Cursor.After(prev) {
		c.cursors[tenant] = cp.Cursor
		c.moves++
	}
	c.mu.Unlock()
	if cp.Cursor.Before(prev) {
		c.problem("%s: checkpoint moved backwards from %s to %s", tenant, prev.Format(time.RFC3339Nano), cp.Cursor.Format(time.RFC3339Nano))
	}
}

// cover checks a coverage sample against the destination now that the
// tenant's queue was seen empty.
func (c *checkpoints) cover(tenant string, cv *coverage) error {
	rows, err := c.e.rows(tenant)
	if err != nil {
		return err
	}
	if bad := coveredUpTo(cv.cursor, cv.truth, rows[tenant]); len(bad) > 0 {
		c.problem("%s: the checkpoint passed %d records the destination does not hold after the queue drained: %s",
			tenant, len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()
	return nil
}

// sampleStopped samples every tenant from a bbolt store no worker holds:
// cursors for monotonicity, and coverage where the queue is empty.
func (c *checkpoints) sampleStopped() {
	e := c.e
	e.t.Helper()
	st := e.openStore()
	defer st.Close()
	ctx := context.Background()
	for _, tenant := range e.sim.tenants {
		cp, err := st.Checkpoint(ctx, tenant, pipeline)
		if err != nil {
			e.t.Fatal(err)
		}
		c.observe(tenant, cp)
		d, err := st.Depth(ctx, queue(tenant))
		if err != nil {
			e.t.Fatal(err)
		}
		if cp.Cursor.IsZero() || d.Stream+d.Retry+d.Dead > 0 {
			continue
		}
		tr, err := e.truth(tenant)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := c.cover(tenant, &coverage{cursor: cp.Cursor, truth: tr}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// start samples a Redis store every 100ms until stop.
func (c *checkpoints) start(st state.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			// A source snapshot is the costly part of a sample: a few per
			// round keep every tenant's cursor sampled often.
			c.snapshots = 3
			for _, tenant := range c.e.sim.tenants {
				c.sampleLive(ctx, st, tenant)
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	c.e.t.Cleanup(c.stop)
}

// sampleLive takes one sample of a tenant beside running workers. Store
// errors (Redis restarting) skip the sample.
func (c *checkpoints) sampleLive(ctx context.Context, st state.Store, tenant string) {
	cp, err := st.Checkpoint(ctx, tenant, pipeline)
	if err != nil {
		return
	}
	c.observe(tenant, cp)
	cv := c.pending[tenant]
	if cv == nil {
		if cp.Cursor.IsZero() || time.Since(c.last[tenant]) < coverEvery() || c.snapshots == 0 {
			return
		}
		c.snapshots--
		tr, err := c.e.truth(tenant)
		if err != nil {
			return // the simulator is stopping with the test
		}
		c.pending[tenant] = &coverage{cursor: cp.Cursor, truth: tr, since: time.Now()}
		c.last[tenant] = time.Now()
		return
	}
	d, err := st.Depth(ctx, queue(tenant))
	switch {
	case err != nil:
	case d.Stream+d.Retry+d.Dead == 0:
		if err := c.cover(tenant, cv); err == nil {
			delete(c.pending, tenant)
		}
	case time.Since(cv.since) > 10*time.Second:
		// The queue never drained meanwhile: not checkable, start over.
		delete(c.pending, tenant)
	}
}

// coverEvery is how often a tenant's coverage is checked: a source
// snapshot of a full-size tenant is megabytes of JSON.
func coverEvery() time.Duration {
	if soak() {
		return 10 * time.Second
	}
	return time.Second
}

func (c *checkpoints) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}

// report stops sampling and fails the test with what was found.
func (c *checkpoints) report() {
	c.stop()
	t := c.e.t
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("checkpoints: %d cursor advances seen, %d coverage checks after a drained queue", c.moves, c.checked)
	for _, p := range c.problems {
		t.Error(p)
	}
	if c.moves < len(c.e.sim.tenants) {
		t.Errorf("only %d cursor advances seen for %d tenants: the checkpoints were not sampled", c.moves, len(c.e.sim.tenants))
	}
}

// quiesce stops the source's churn and waits, with the workers running,
// until every tenant's cursor has passed the moment churn stopped (so a
// walk began after settle had passed over the last change) and every
// queue is empty.
func (e *env) quiesce(st state.Store) {
	e.t.Helper()
	stopped := e.stopChurn()
	limit := time.Minute
	if soak() {
		limit = 15 * time.Minute
	}
	ctx := context.Background()
	began := time.Now()
	e.waitFor(limit, "every cursor past the end of churn and every queue drained", func() bool {
		return e.settled(ctx, st, stopped) == nil
	})
	e.t.Logf("quiescent %s after churn stopped", time.Since(began).Round(100*time.Millisecond))
}

// stopChurn stops the source's changes and returns when, on the shared
// clock. The API's clock runs behind it (the scenario's skew is negative)
// and a late write is visible within the scenario's 10s, so a cursor past
// this instant comes from a walk that saw every change.
func (e *env) stopChurn() time.Time {
	e.t.Helper()
	if err := e.sim.call("PATCH", "churn", `{"enabled": false}`, nil); err != nil {
		e.t.Fatal(err)
	}
	return e.clk.Now()
}

// settled says what is not yet settled: a cursor before stopped, or a
// queue with entries.
func (e *env) settled(ctx context.Context, st state.Store, stopped time.Time) error {
	for _, tenant := range e.sim.tenants {
		if e.revoked[tenant] {
			continue
		}
		cp, err := st.Checkpoint(ctx, tenant, pipeline)
		if err != nil {
			return err
		}
		if !cp.Cursor.After(stopped) {
			return fmt.Errorf("%s: cursor %s not past %s", tenant, cp.Cursor.Format(time.RFC3339), stopped.Format(time.RFC3339))
		}
		d, err := st.Depth(ctx, queue(tenant))
		if err != nil {
			return err
		}
		if d.Stream+d.Retry > 0 {
			return fmt.Errorf("%s: queue %+v", tenant, d)
		}
	}
	return nil
}

// assertNoDeadLetters fails the test with the first letters of any DLQ.
func (e *env) assertNoDeadLetters(st state.Store) {
	e.t.Helper()
	for _, tenant := range e.sim.tenants {
		letters, _, err := st.DeadLetterList(context.Background(), tenant, "", 3)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, l := range letters {
			e.t.Errorf("%s: dead letter %s/%s: %s", tenant, l.Entry.Pipeline, l.Entry.Key, l.Entry.LastError)
		}
	}
}

// assertExact compares the destination with the source: every user at
// the source is in the destination at the source's latest updated_at with
// its latest fields. A row the source no longer has is a deletion, which
// is reconcile's to find, not polling's.
func (e *env) assertExact() {
	t := e.t
	t.Helper()
	all, err := e.rows("")
	if err != nil {
		t.Fatal(err)
	}
	records, deleted, bad := 0, 0, 0
	for _, tenant := range e.sim.tenants {
		if e.revoked[tenant] {
			continue
		}
		truth, err := e.truth(tenant)
		if err != nil {
			t.Fatal(err)
		}
		got := all[tenant]
		keys := make([]string, 0, len(truth))
		for k := range truth {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, key := range keys {
			u := truth[key]
			r, ok := got[key]
			var problem string
			switch {
			case !ok:
				problem = "missing"
			case !r.version.Equal(u.updated):
				problem = fmt.Sprintf("at version %s", r.version.Format(time.RFC3339Nano))
			case r.email != u.email || r.status != u.status:
				problem = fmt.Sprintf("holds %q %q", r.email, r.status)
			}
			if problem != "" {
				if bad++; bad <= 20 {
					t.Errorf("%s/%s: %s; the source has %s %q %q", tenant, key, problem, u.updated.Format(time.RFC3339Nano), u.email, u.status)
				}
			}
		}
		records += len(truth)
		for key := range got {
			if _, ok := truth[key]; !ok {
				deleted++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d records at the source are not in the destination as the source has them", bad, records)
	}
	t.Logf("destination exact for %d records of %d tenants (%d rows deleted at the source since, left to reconcile)", records, len(e.sim.tenants)-len(e.revoked), deleted)
}

// call calls the simulator's control surface from any goroutine.
func (s *simProc) call(method, path, body string, out any) error {
	req, err := newControlRequest(method, s.base+"/_sim/"+path, body)
	if err != nil {
		return err
	}
	resp, err := controlClient.Do(req)
	if err != nil {
		return fmt.Errorf("vomosim %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("vomosim %s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("vomosim %s %s: %w", method, path, err)
	}
	return nil
}
