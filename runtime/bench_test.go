package runtime_test

// The figures of issue 6's "Performance" section, measured through the
// real runtime: vomosim over HTTP, a real state store (bbolt, or a
// redis-server the benchmark starts) and the destination as a plugin
// subprocess. Sizes are small by default so `go test -bench . -benchtime
// 1x` takes seconds; SIPHON_BENCH_BIG=1 runs the size the figures are
// quoted at (scripts/bench.sh prints them).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
	"github.com/siphonhq/siphon/internal/vomosim"
	"github.com/siphonhq/siphon/plugins/destinations/pgserver"
	_ "github.com/siphonhq/siphon/plugins/destinations/postgres" // served by TestMain's re-exec, as sqlite is
	"github.com/siphonhq/siphon/runtime"
)

// benchPerPage is the page size both the runtime and the baseline read at:
// the simulator honours per_page up to it.
const benchPerPage = 100

// benchWorkers is the runner's worker count and the baseline's number of
// concurrent tenant loops, so neither side has more parallelism.
const benchWorkers = 4

// benchSize is tenants × users of one benchmark run.
func benchSize() (tenants, users int) {
	if os.Getenv("SIPHON_BENCH_BIG") != "" {
		return 20, 5000
	}
	return 4, 500
}

// benchOpts is a harness over the benchmark's data set, with no churn, no
// faults and the simulator's rate limit off.
func benchOpts(store, destination string, trips *state.Trips) harnessOpts {
	tenants, users := benchSize()
	return harnessOpts{tenants: tenants, users: users, pipeline: volunteers, store: store,
		destination: destination, trips: trips, adjust: func(sc *vomosim.Scenario) {
			sc.Switches.PerPageParam, sc.Switches.MaxPerPage = true, benchPerPage
		}}
}

// benchRunner is a runner as `siphon run --once` makes it, with leases
// long enough that no renewal lands in the counts.
func (h *harness) benchRunner(store state.Store) *runtime.Runner {
	return h.runnerAdjusted(func(c *runtime.Config) {
		c.Workers, c.LeaseTTL = benchWorkers, 10*time.Minute
		if store != nil {
			c.Store = store
		}
	})
}

// total is the number of users the simulator holds over all tenants: what
// a first run from an empty store must write.
func (h *harness) total() int64 {
	n := 0
	for _, ti := range h.sim.Tenants() {
		n += len(h.truth(ti.ID))
	}
	return int64(n)
}

// sink is a baseline's destination: upsert writes one page in one
// transaction.
type sink interface {
	upsert(ctx context.Context, tenant string, users []benchUser) error
	close()
}

// benchUser is the part of a VOMO user the baseline writes: the fields
// the volunteers pipeline maps, the key and the version.
type benchUser struct {
	ID        json.Number `json:"id"`
	Email     string      `json:"email"`
	Status    string      `json:"membership_status"`
	UpdatedAt string      `json:"updated_at"`
}

// destinationCase is one destination under benchmark: its block in the
// harness's configuration and its baseline sink, both fresh per run.
type destinationCase struct {
	block func(run int) string
	sink  func(b *testing.B, h *harness, run int) sink
}

// BenchmarkEndToEnd syncs every tenant from an empty store into sqlite
// through RunOnce, then runs the raw baseline against the same simulator.
func BenchmarkEndToEnd(b *testing.B) {
	sqlite := destinationCase{
		block: func(int) string { return "plugin = \"sqlite\"\n  config = { path = \"out/destination.db\" }" },
		sink:  newSQLiteSink,
	}
	b.Run("sqlite/bbolt", func(b *testing.B) { benchEndToEnd(b, sqlite, false) })
	b.Run("sqlite/redis", func(b *testing.B) { benchEndToEnd(b, sqlite, true) })
}

// BenchmarkEndToEndPostgres is BenchmarkEndToEnd into a PostgreSQL the
// benchmark starts once; each run writes to schemas of its own.
func BenchmarkEndToEndPostgres(b *testing.B) {
	dsn := pgserver.Start(b, "bench")
	var runs atomic.Int64
	pg := destinationCase{
		block: func(run int) string {
			return fmt.Sprintf("plugin = \"postgres\"\n  config = { dsn = %q, schema = \"runtime%d\" }", dsn, run)
		},
		sink: func(b *testing.B, _ *harness, run int) sink { return newPostgresSink(b, dsn, run) },
	}
	next := func() int { return int(runs.Add(1)) }
	b.Run("postgres/bbolt", func(b *testing.B) { benchEndToEndNumbered(b, pg, false, next) })
	b.Run("postgres/redis", func(b *testing.B) { benchEndToEndNumbered(b, pg, true, next) })
}

func benchEndToEnd(b *testing.B, d destinationCase, redis bool) {
	n := 0
	benchEndToEndNumbered(b, d, redis, func() int { n++; return n })
}

// benchEndToEndNumbered times RunOnce and the baseline on each of b.N
// fresh data sets; next numbers the runs so destinations that outlive
// one (a PostgreSQL server) start empty each time.
func benchEndToEndNumbered(b *testing.B, d destinationCase, redis bool, next func() int) {
	ctx := context.Background()
	var records int64
	var runtimeTime, pollTime, baselineTime, sourceTime time.Duration
	var runtimeCPU, childrenCPU, baselineCPU, sourceCPU time.Duration
	b.StopTimer()
	for range b.N {
		run := next()
		store := ""
		var srv *redistest.Server
		if redis {
			srv = redistest.Start(b)
			store = srv.URL()
		}
		h := newHarness(b, benchOpts(store, d.block(run), nil))
		want := h.total()
		ps := newPhaseStore(h.store, nil)
		r := h.benchRunner(ps)

		self0, children0 := cpuTimes()
		b.StartTimer()
		start := time.Now()
		sum, err := r.RunOnce(ctx)
		took := time.Since(start)
		b.StopTimer()
		self1, _ := cpuTimes()
		runtimeCPU += self1 - self0
		pollTime += ps.pollEnd().Sub(start)
		if err != nil || sum.Failed() || sum.Written != want {
			b.Fatalf("run %d: %+v %v; want %d records written", run, sum, err, want)
		}
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
		runtimeTime += took

		s := d.sink(b, h, run)
		self0, _ = cpuTimes()
		start = time.Now()
		got, err := baseline(ctx, h, s)
		baselineTime += time.Since(start)
		s.close()
		self1, _ = cpuTimes()
		baselineCPU += self1 - self0
		if err != nil || got != want {
			b.Fatalf("baseline run %d: %d records, %v; want %d", run, got, err, want)
		}
		// The source alone, for how much of either side's time it takes.
		self0, _ = cpuTimes()
		start = time.Now()
		got, err = baseline(ctx, h, nopSink{})
		sourceTime += time.Since(start)
		self1, _ = cpuTimes()
		sourceCPU += self1 - self0
		if err != nil || got != want {
			b.Fatalf("source run %d: %d records, %v; want %d", run, got, err, want)
		}
		records += want
		if srv != nil {
			srv.Stop()
		}
		// The plugin (closed above) and redis-server are the runtime's
		// children; the baseline starts none. A PostgreSQL server outlives
		// the runs, so neither side's figure includes it.
		_, children1 := cpuTimes()
		runtimeCPU += children1 - children0
		childrenCPU += children1 - children0
	}
	rt := float64(records) / runtimeTime.Seconds()
	bl := float64(records) / baselineTime.Seconds()
	b.ReportMetric(rt, "records/s")
	b.ReportMetric(bl, "baseline_records/s")
	b.ReportMetric(rt/bl, "ratio")
	b.ReportMetric(float64(records)/pollTime.Seconds(), "poll_records/s")
	b.ReportMetric(float64(records)/(runtimeTime-pollTime).Seconds(), "process_records/s")
	b.ReportMetric(float64(records)/sourceTime.Seconds(), "source_records/s")
	// Every CPU figure includes the simulator's share, which
	// source_cpu-µs/record is alone.
	perRecord := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(records) }
	b.ReportMetric(perRecord(runtimeCPU), "cpu-µs/record")
	b.ReportMetric(perRecord(childrenCPU), "children_cpu-µs/record")
	b.ReportMetric(perRecord(baselineCPU), "baseline_cpu-µs/record")
	b.ReportMetric(perRecord(sourceCPU), "source_cpu-µs/record")
}

// baseline is the hand loop the runtime is measured against: each tenant's
// users fetched page by page over the window a first run reads (everything
// up to the API's time less the settle) and upserted, one transaction a
// page, benchWorkers tenants at a time, with nothing in between. It
// returns the number of records written.
func baseline(ctx context.Context, h *harness, s sink) (int64, error) {
	res := h.plan.Resources[0]
	before := h.sim.APINow().Add(-res.Cursor.Settle.D()).UTC().Format("2006-01-02T15:04:05.000000Z")
	tenants := make(chan vomosim.TenantInfo)
	var written atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ti := range tenants {
				n, err := baselineTenant(ctx, h.url+res.Path, ti, before, s)
				written.Add(n)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("baseline %s: %w", ti.ID, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, ti := range h.sim.Tenants() {
		tenants <- ti
	}
	close(tenants)
	wg.Wait()
	return written.Load(), errors.Join(errs...)
}

func baselineTenant(ctx context.Context, base string, ti vomosim.TenantInfo, before string, s sink) (int64, error) {
	var n int64
	for page := 1; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(benchPerPage)}, "updated_before": {before}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"?"+q.Encode(), nil)
		if err != nil {
			return n, err
		}
		req.Header.Set("Authorization", "Bearer "+ti.Token)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return n, err
		}
		var body struct {
			Data  []benchUser `json:"data"`
			Links struct {
				Next *string `json:"next"`
			} `json:"links"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return n, fmt.Errorf("page %d: HTTP %d", page, resp.StatusCode)
		}
		if err != nil {
			return n, fmt.Errorf("page %d: %w", page, err)
		}
		if len(body.Data) > 0 {
			if err := s.upsert(ctx, ti.ID, body.Data); err != nil {
				return n, fmt.Errorf("page %d: %w", page, err)
			}
			n += int64(len(body.Data))
		}
		if len(body.Data) < benchPerPage || body.Links.Next == nil {
			return n, nil
		}
	}
}

// sqliteSink writes to a file of its own with the sqlite plugin's
// durability: WAL, synchronous FULL, one writer connection.
type sqliteSink struct{ db *sql.DB }

func newSQLiteSink(b *testing.B, h *harness, _ int) sink {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", filepath.Join(h.dir, "baseline.db")+"?"+q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE volunteers (tenant TEXT NOT NULL, key TEXT NOT NULL, email TEXT, status TEXT,
source_updated_at TEXT NOT NULL, PRIMARY KEY (tenant, key))`); err != nil {
		b.Fatal(err)
	}
	return sqliteSink{db: db}
}

func (s sqliteSink) upsert(ctx context.Context, tenant string, users []benchUser) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO volunteers (tenant, key, email, status, source_updated_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, key) DO UPDATE SET email = excluded.email, status = excluded.status,
source_updated_at = excluded.source_updated_at WHERE excluded.source_updated_at > volunteers.source_updated_at`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, u := range users {
		if _, err := st.ExecContext(ctx, tenant, u.ID.String(), u.Email, u.Status, u.UpdatedAt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s sqliteSink) close() { _ = s.db.Close() }

// nopSink writes nothing: the baseline with it measures the source alone.
type nopSink struct{}

func (nopSink) upsert(context.Context, string, []benchUser) error { return nil }
func (nopSink) close()                                            {}

// postgresSink writes to a schema of its own on the server the runtime's
// plugin writes to, so both have the same durability settings.
type postgresSink struct {
	pool  *pgxpool.Pool
	table string
}

func newPostgresSink(b *testing.B, dsn string, run int) sink {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	schema := fmt.Sprintf("baseline%d", run)
	table := pgx.Identifier{schema, "volunteers"}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()+"; CREATE TABLE "+table+
		` (tenant text NOT NULL, key text NOT NULL, email text, status text, source_updated_at timestamptz NOT NULL,
PRIMARY KEY (tenant, key))`); err != nil {
		pool.Close()
		b.Fatal(err)
	}
	return postgresSink{pool: pool, table: table}
}

func (s postgresSink) upsert(ctx context.Context, tenant string, users []benchUser) error {
	var batch pgx.Batch
	for _, u := range users {
		batch.Queue(`INSERT INTO `+s.table+` AS t (tenant, key, email, status, source_updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant, key) DO UPDATE SET email = excluded.email, status = excluded.status,
source_updated_at = excluded.source_updated_at WHERE excluded.source_updated_at > t.source_updated_at`,
			tenant, u.ID.String(), u.Email, u.Status, u.UpdatedAt)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &batch).Close() })
}

func (s postgresSink) close() { s.pool.Close() }

// phaseStore counts a RunOnce's store round trips by stage. RunOnce polls
// every job before it drains a queue, so the poll stage runs from the
// configuration's activation to the first Ready and the process stage from
// there to the end; pages are the page commits and batches the claims
// (alone or with acks) that returned entries.
type phaseStore struct {
	state.Store
	trips          *state.Trips
	pollStart      atomic.Int64
	processStart   atomic.Int64 // -1 until the first Ready
	processAt      atomic.Int64 // the first Ready's time, Unix ns
	pages, batches atomic.Int64
}

// newPhaseStore wraps st; trips may be nil when only the stages' times
// are wanted.
func newPhaseStore(st state.Store, trips *state.Trips) *phaseStore {
	s := &phaseStore{Store: st, trips: trips}
	s.processStart.Store(-1)
	return s
}

// pollEnd is when the process stage began.
func (s *phaseStore) pollEnd() time.Time { return time.Unix(0, s.processAt.Load()) }

func (s *phaseStore) ActivateConfig(ctx context.Context, v state.ConfigVersion, force bool) (state.ConfigVersion, error) {
	got, err := s.Store.ActivateConfig(ctx, v, force)
	s.pollStart.Store(s.trips.Load())
	return got, err
}

func (s *phaseStore) CommitPage(ctx context.Context, c state.PageCommit) (state.CommitResult, error) {
	s.pages.Add(1)
	return s.Store.CommitPage(ctx, c)
}

func (s *phaseStore) Ready(ctx context.Context, lane string, limit int) ([]state.ReadyQueue, error) {
	if s.processStart.CompareAndSwap(-1, s.trips.Load()) {
		s.processAt.Store(time.Now().UnixNano())
	}
	return s.Store.Ready(ctx, lane, limit)
}

func (s *phaseStore) Claim(ctx context.Context, q state.QueueRef, consumer string, n, maxAttempts int) (state.Claimed, error) {
	c, err := s.Store.Claim(ctx, q, consumer, n, maxAttempts)
	if len(c.Entries) > 0 {
		s.batches.Add(1)
	}
	return c, err
}

func (s *phaseStore) AckClaim(ctx context.Context, q state.QueueRef, consumer string, ids []string, n, maxAttempts int) (int, state.Claimed, error) {
	acked, c, err := s.Store.AckClaim(ctx, q, consumer, ids, n, maxAttempts)
	if len(c.Entries) > 0 {
		s.batches.Add(1)
	}
	return acked, c, err
}

func (s *phaseStore) Reclaim(ctx context.Context, q state.QueueRef, consumer string, minIdle time.Duration, n, maxAttempts int) (state.Claimed, error) {
	c, err := s.Store.Reclaim(ctx, q, consumer, minIdle, n, maxAttempts)
	if len(c.Entries) > 0 {
		s.batches.Add(1)
	}
	return c, err
}

// BenchmarkStoreTrips counts the store round trips of a first RunOnce
// (the backends count Redis commands and pipelines sent, bbolt
// transactions) per page polled and per batch processed. Each stage's
// count includes its fixed costs (leases, checkpoints, control flags,
// queue scans), spread over its pages or batches.
func BenchmarkStoreTrips(b *testing.B) {
	b.Run("bbolt", func(b *testing.B) { benchStoreTrips(b, false) })
	b.Run("redis", func(b *testing.B) { benchStoreTrips(b, true) })
}

func benchStoreTrips(b *testing.B, redis bool) {
	ctx := context.Background()
	var pollTrips, processTrips, pages, batches int64
	b.StopTimer()
	for range b.N {
		store := ""
		var srv *redistest.Server
		if redis {
			srv = redistest.Start(b)
			store = srv.URL()
		}
		trips := &state.Trips{}
		h := newHarness(b, benchOpts(store, "", trips))
		want := h.total()
		ps := newPhaseStore(h.store, trips)
		r := h.benchRunner(ps)
		b.StartTimer()
		sum, err := r.RunOnce(ctx)
		b.StopTimer()
		end := trips.Load()
		if err != nil || sum.Failed() || sum.Written != want {
			b.Fatalf("%+v %v; want %d records written", sum, err, want)
		}
		if ps.processStart.Load() < 0 {
			b.Fatal("the process stage never asked for ready queues")
		}
		pollTrips += ps.processStart.Load() - ps.pollStart.Load()
		processTrips += end - ps.processStart.Load()
		pages += ps.pages.Load()
		batches += ps.batches.Load()
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if srv != nil {
			srv.Stop()
		}
	}
	b.ReportMetric(float64(pollTrips)/float64(pages), "trips/page")
	b.ReportMetric(float64(processTrips)/float64(batches), "trips/batch")
	b.ReportMetric(float64(pages)/float64(b.N), "pages/op")
	b.ReportMetric(float64(batches)/float64(b.N), "batches/op")
}

// BenchmarkSteadyStatePoll measures source requests per steady-state poll
// against the minimum ⌈changed/per_page⌉+1, where changed counts every
// record inside the walk's window [checkpoint − overlap, new cap] at the
// source (the changes since the last poll and the records re-read in the
// overlap). Each iteration lets the simulator churn, stops it, waits out
// the settle and polls every tenant once with a new runner, as `siphon run
// --once` from cron does; ns/op includes those waits.
func BenchmarkSteadyStatePoll(b *testing.B) {
	ctx := context.Background()
	h := newHarness(b, benchOpts("", "", nil))
	if sum, err := h.benchRunner(nil).RunOnce(ctx); err != nil || sum.Failed() {
		b.Fatalf("first run: %+v %v", sum, err)
	}
	cur := h.plan.Resources[0].Cursor
	overlap, settle := cur.Overlap.D(), cur.Settle.D()
	var requests, minimum, polls int64
	b.ResetTimer()
	for range b.N {
		ch := h.sim.Scenario().Churn
		ch.Enabled, ch.PerMinute, ch.Delete = true, 1200, 0
		if err := h.sim.SetChurn(ch); err != nil {
			b.Fatal(err)
		}
		// The simulator schedules a tenant's changes from the first read
		// after churn starts and applies them at the next: read each then.
		h.touchTenants()
		h.waitSim(20 * time.Second)
		h.touchTenants()
		ch.Enabled = false
		if err := h.sim.SetChurn(ch); err != nil {
			b.Fatal(err)
		}
		h.waitSim(settle + 5*time.Second)

		before := map[string]time.Time{}
		for _, ti := range h.sim.Tenants() {
			cp, err := h.store.Checkpoint(ctx, ti.ID, "volunteers")
			if err != nil {
				b.Fatal(err)
			}
			before[ti.ID] = cp.Cursor
		}
		h.dueNow()
		h.sim.ResetCounters()
		if sum, err := h.benchRunner(nil).RunOnce(ctx); err != nil || sum.Failed() || sum.JobsRun != len(before) {
			b.Fatalf("steady run: %+v %v; want %d jobs run", sum, err, len(before))
		}
		counts := h.sim.Counters()
		for _, ti := range h.sim.Tenants() {
			cp, err := h.store.Checkpoint(ctx, ti.ID, "volunteers")
			if err != nil {
				b.Fatal(err)
			}
			if !cp.Cursor.After(before[ti.ID]) {
				b.Fatalf("%s: the cursor did not move past %s", ti.ID, before[ti.ID])
			}
			changed := h.inWindow(ti.ID, before[ti.ID].Add(-overlap).Truncate(time.Microsecond), cp.Cursor)
			minimum += int64((changed+benchPerPage-1)/benchPerPage) + 1
			requests += counts[ti.ID]["GET /v1/users"]
			polls++
		}
	}
	b.ReportMetric(float64(requests)/float64(polls), "requests/poll")
	b.ReportMetric(float64(minimum)/float64(polls), "min_requests/poll")
	b.ReportMetric(float64(requests)/float64(minimum), "ratio")
}

// inWindow counts the tenant's users whose updated_at lies in [after,
// upTo], both ends inclusive as the API's filters are.
func (h *harness) inWindow(tenant string, after, upTo time.Time) int {
	n := 0
	for key, u := range h.truth(tenant) {
		t, err := vomo.ParseTime(u.UpdatedAt)
		if err != nil {
			h.t.Fatalf("%s/%s: updated_at %q: %v", tenant, key, u.UpdatedAt, err)
		}
		if !t.Before(after) && !t.After(upTo) {
			n++
		}
	}
	return n
}

// touchTenants brings every simulated tenant up to the present.
func (h *harness) touchTenants() {
	for _, ti := range h.sim.Tenants() {
		if _, err := h.sim.Pending(ti.ID); err != nil {
			h.t.Fatal(err)
		}
	}
}

// dueNow makes every tenant's jobs due, as their cadence passing would: a
// --once run right after another may otherwise find them already run.
func (h *harness) dueNow() {
	for _, t := range h.plan.Tenants {
		for _, j := range t.Jobs {
			if _, err := h.store.ScheduleJob(context.Background(), t.ID, j.ID, h.clk.Now(), true); err != nil {
				h.t.Fatal(err)
			}
		}
	}
}

// BenchmarkBackfill backfills every tenant from an empty store (a capped
// full scan per tenant, then the queue drained into sqlite) through
// RunOnce and reports its records/s beside the raw baseline of
// BenchmarkEndToEnd on the same data (goal: ratio >= 0.7), and the source
// requests it made beside the minimum: every tenant's pages plus the one
// request that learns the API's clock before the first cap is fixed (the
// clock offset is shared by the source's clients in a process).
func BenchmarkBackfill(b *testing.B) {
	b.Run("sqlite/bbolt", func(b *testing.B) { benchBackfill(b, false) })
	b.Run("sqlite/redis", func(b *testing.B) { benchBackfill(b, true) })
}

func benchBackfill(b *testing.B, redis bool) {
	ctx := context.Background()
	var records, requests, minimum int64
	var runtimeTime, baselineTime time.Duration
	b.StopTimer()
	for range b.N {
		store := ""
		var srv *redistest.Server
		if redis {
			srv = redistest.Start(b)
			store = srv.URL()
		}
		h := newHarness(b, benchOpts(store, "plugin = \"sqlite\"\n  config = { path = \"out/destination.db\" }", nil))
		want := h.total()
		minimum++
		for _, ti := range h.sim.Tenants() {
			n := int64(len(h.truth(ti.ID)))
			minimum += (n + benchPerPage - 1) / benchPerPage
		}
		h.sim.ResetCounters()
		r := h.benchRunner(nil)
		b.StartTimer()
		start := time.Now()
		sum, err := r.RunOnce(ctx)
		took := time.Since(start)
		b.StopTimer()
		if err != nil || sum.Failed() || sum.Written != want {
			b.Fatalf("backfill: %+v %v; want %d records written", sum, err, want)
		}
		for _, ti := range h.sim.Tenants() {
			requests += h.sim.Counters()[ti.ID]["GET /v1/users"]
			cp, err := h.store.Checkpoint(ctx, ti.ID, "volunteers")
			if err != nil || cp.Cursor.IsZero() || cp.Walk != nil {
				b.Fatalf("%s: checkpoint after the backfill: %+v %v", ti.ID, cp, err)
			}
		}
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
		runtimeTime += took

		s := newSQLiteSink(b, h, 0)
		start = time.Now()
		got, err := baseline(ctx, h, s)
		baselineTime += time.Since(start)
		s.close()
		if err != nil || got != want {
			b.Fatalf("baseline: %d records, %v; want %d", got, err, want)
		}
		records += want
		if srv != nil {
			srv.Stop()
		}
	}
	rt := float64(records) / runtimeTime.Seconds()
	bl := float64(records) / baselineTime.Seconds()
	b.ReportMetric(rt, "records/s")
	b.ReportMetric(bl, "baseline_records/s")
	b.ReportMetric(rt/bl, "ratio")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(minimum)/float64(b.N), "min_requests/op")
	b.ReportMetric(float64(requests)/float64(minimum), "requests_ratio")
}
