// Package runtime runs a compiled plan: the scheduler takes due jobs under
// fenced leases, polls their resources page by page into per-(tenant,
// destination) queues (each page enqueued in one atomic step with the
// walk's progress), and process workers drain the queues through the
// destination plugins, fairly across tenants by lane weight.
//
// Everything durable lives in the state store, so any number of runners on
// any number of machines can share one store, and a runner killed at any
// point loses nothing: unacknowledged entries are redelivered, a walk
// resumes its window, an expired lease hands the job to another worker.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// Config is what a Runner needs. Plan and Store are required.
type Config struct {
	Plan  *dsl.Plan
	Store state.Store
	// Region selects the tenants this runner runs, whose state lives in
	// Store: the tenants of the named region, or with HubTenants ("") those
	// of no region and of regions without a store of their own. A plan
	// without regions runs every tenant either way.
	Region string
	// HubStore holds hub-wide state: the global rate budgets, the throttle
	// and the hub audit log. A regional run keeps its tenants' state in
	// Store (its region's) and draws budgets from the hub's. Nil: Store.
	HubStore state.Store
	// Credentials opens a tenant's sealed token; nil means every tenant
	// is paused for lack of credentials.
	Credentials Credentials
	Clock       clock.Clock  // default clock.Real
	Logger      *slog.Logger // default slog.Default()
	// Workers is the number of process workers (default 4).
	Workers int
	// PollSlots is how many jobs Run polls at a time: a job holds a slot
	// while it runs, and due jobs start as slots free. The default sizes it
	// for the plan (pollSlotsFor).
	PollSlots int
	// Owner names this process in leases and queue consumers (default
	// host/pid).
	Owner string
	// LeaseTTL is a job lease's time to live (default 30s), renewed at a
	// third of it.
	LeaseTTL time.Duration
	// QueueLimit is the queue depth above which a tenant's polling pauses
	// (backpressure, default 100000 entries per destination queue).
	QueueLimit int64
	// RetryBackoff is the first delay of a retryable write failure, doubled
	// per attempt up to MaxRetryBackoff (defaults 1s and 5m).
	RetryBackoff, MaxRetryBackoff time.Duration
	// Visibility is how long a claimed entry may stay unacknowledged
	// before another worker reclaims it (default 5m).
	Visibility time.Duration
	// StoreOutage is how long RunOnce's workers ride out a failing store
	// before giving up (default 30s); Run rides out any outage.
	StoreOutage time.Duration
	// Force runs the plan's configuration even when the store has
	// superseded it with a newer one (a deliberate rollback); it becomes
	// the active configuration again.
	Force bool
	// Source overrides vomo client settings (tests pass a shared clock's
	// sleep, fast retries); it is applied to every client's Config.
	Source func(*vomo.Config)
	// TracerProvider and MeterProvider receive the run's spans and metrics
	// (default: the global providers, no-ops unless the process installs
	// SDK ones).
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Runner runs one plan against one store.
type Runner struct {
	cfg     Config
	plan    *dsl.Plan
	st      state.Store
	clk     clock.Clock
	log     *slog.Logger
	started time.Time // scheduler clock, when the current RunOnce began
	// config is the plan's configuration as the store activated it at the
	// start of Run or RunOnce; its version is the generation writes carry.
	config state.ConfigVersion

	resources    map[string]*dsl.Resource
	pipelines    map[string]*dsl.Pipeline
	sources      map[string]*dsl.Source
	destinations map[string]*dsl.Destination
	lanes        map[string]int // lane → weight
	offsets      sync.Map       // source name → *vomo.ClockOffset

	dests   *destinations
	stats   stats
	tracer  trace.Tracer
	metrics *metrics
	pauses  *pauses
	// writeErrs is what this runner knows of each queue's write-error
	// flag (state.QueueRef → writeErrorState), see noteWrite.
	writeErrs sync.Map
	// destWaits holds the queues whose destination a write found failing
	// (state.QueueRef without its lane → destWait), see waitForDestination.
	destWaits sync.Map
	// backfillWaits remembers the (tenant, due time) pairs whose wait for
	// a backfill was logged, so it is logged once, not every poll.
	backfillWaits sync.Map
	// syncedNotes remembers the (tenant, pipeline) pairs whose SyncedNote
	// is known to be in the store (backfill.go).
	syncedNotes sync.Map
	// budget is the cached throttle and lane split rate budgets use.
	budget budgets
	// tenants are the plan's tenants (this runner's region) by id.
	tenants map[string]*dsl.Tenant
	// orgs caches organization checks (org.go).
	orgs orgChecks
	// reconciling bounds the scheduled reconciles running at once
	// (reconcile_schedule.go).
	reconciling reconcileLimit
	// http is the sources' HTTP client, shared by every job (see
	// sourceHTTP).
	http *http.Client
}

// New checks the configuration and makes a Runner. Destinations are
// launched on first use.
func New(cfg Config) (*Runner, error) {
	if cfg.Plan == nil || cfg.Store == nil {
		return nil, errors.New("runtime: a plan and a store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.HubStore == nil {
		cfg.HubStore = cfg.Store
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers < 1 {
		cfg.Workers = 4
	}
	if cfg.Owner == "" {
		h, _ := os.Hostname()
		cfg.Owner = h + "/" + strconv.Itoa(os.Getpid())
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LeaseTTL, 30*time.Second)
	def(&cfg.RetryBackoff, time.Second)
	def(&cfg.MaxRetryBackoff, 5*time.Minute)
	def(&cfg.Visibility, 5*time.Minute)
	def(&cfg.StoreOutage, 30*time.Second)
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 100000
	}
	plan, err := regionPlan(cfg.Plan, cfg.Region)
	if err != nil {
		return nil, err
	}
	if cfg.PollSlots < 1 {
		cfg.PollSlots = pollSlotsFor(plan)
	}
	r := &Runner{cfg: cfg, plan: plan, st: cfg.Store, clk: cfg.Clock, log: cfg.Logger, started: cfg.Clock.Now(),
		resources: map[string]*dsl.Resource{}, pipelines: map[string]*dsl.Pipeline{}, sources: map[string]*dsl.Source{},
		destinations: map[string]*dsl.Destination{}, lanes: planLanes(cfg.Plan)}
	for _, x := range cfg.Plan.Resources {
		r.resources[x.Name] = x
	}
	for _, x := range cfg.Plan.Pipelines {
		r.pipelines[x.Name] = x
	}
	for _, x := range cfg.Plan.Sources {
		r.sources[x.Name] = x
	}
	for _, x := range cfg.Plan.Destinations {
		r.destinations[x.Name] = x
	}
	r.http = sourceHTTP(cfg.PollSlots + cfg.Workers)
	r.tenants = make(map[string]*dsl.Tenant, len(r.plan.Tenants))
	for _, t := range r.plan.Tenants {
		r.tenants[t.ID] = t
	}
	r.dests = newDestinations(r)
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	r.tracer, r.pauses = cfg.TracerProvider.Tracer(tracerName), newPauses()
	m, err := newMetrics(r, cfg.MeterProvider)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Poll slots by default: at least minPollSlots, and as many as the plan's
// job starts per second times slotHold, up to maxPollSlots.
const (
	minPollSlots = 8
	maxPollSlots = 1024
	// slotHold is how long, on average, a job may hold its slot while the
	// plan's jobs still start on time (Little's law: slots = starts per
	// second × time held). A quiet poll spends it waiting on the source
	// and the store, not the CPU: at 10,000 tenants × 2 jobs a minute
	// (333 starts a second) 8 slots left each job 24 ms, less than its
	// store round trips took on bbolt, and starts fell half a minute
	// behind their slots.
	slotHold = time.Second
)

// pollSlotsFor is the default number of poll slots for the plan (its
// enabled tenants' jobs).
func pollSlotsFor(p *dsl.Plan) int {
	perSecond := 0.0
	for _, t := range p.Tenants {
		if !t.Enabled {
			continue
		}
		for _, j := range t.Jobs {
			if c := j.Cadence.D(); c > 0 {
				perSecond += float64(time.Second) / float64(c)
			}
		}
	}
	return min(maxPollSlots, max(minPollSlots, int(math.Ceil(perSecond*slotHold.Seconds()))))
}

// sourceHTTP is the HTTP client of every job's source requests: Go's
// default transport keeps 2 idle connections per host, so with more jobs
// than that polling one API at once every other request opened (and
// closed) a connection of its own, TLS handshake included. This one keeps
// one for each job that can run at once.
func sourceHTTP(jobs int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(jobs, 2)
	t.MaxIdleConns = max(t.MaxIdleConns, jobs)
	return &http.Client{Transport: t}
}

// Close stops the destination plugins and the metrics' store reads.
func (r *Runner) Close(ctx context.Context) error {
	if r.http != nil {
		r.http.CloseIdleConnections()
	}
	return errors.Join(r.dests.close(ctx), r.metrics.close())
}

// Summary is what a RunOnce did.
type Summary struct {
	JobsRun, JobsSkipped int
	Enqueued, Written    int64
	Retried, Dead        int64
	// PollErrors counts jobs that ended with an error; a tenant paused for
	// its credentials counts (its data did not sync), one an operator
	// disabled does not.
	PollErrors int64
	// Paused counts the queues left waiting because a pipeline writing to
	// them is paused for its mapping-error rate.
	Paused int
	// DestinationDown counts the queues left waiting because their
	// destination was down (its breaker open, or it could not prepare an
	// object); their records stay queued for the next run.
	DestinationDown int
}

// Failed reports whether anything failed, went to a DLQ or waits for a
// paused pipeline or a destination that is down.
func (s Summary) Failed() bool {
	return s.Dead > 0 || s.PollErrors > 0 || s.Paused > 0 || s.DestinationDown > 0
}

// RunOnce activates the plan's configuration (see Run), runs every job of
// every enabled tenant now, ignoring due times and stagger, then drains the
// queues. A job another process holds, or ran after this runner was made,
// is skipped, so N processes started together run each job once. The error is about the run itself (the store
// went away); what failed inside jobs is in the Summary.
func (r *Runner) RunOnce(ctx context.Context) (Summary, error) {
	r.stats = stats{}
	if err := r.activate(ctx, r.cfg.StoreOutage); err != nil {
		return r.stats.summary(), err
	}
	r.started = r.clk.Now()
	var jobs []jobRef
	for _, t := range r.plan.Tenants {
		if !t.Enabled {
			continue
		}
		for _, j := range t.Jobs {
			jobs = append(jobs, jobRef{tenant: t, job: j})
		}
	}
	if err := r.pollOnce(ctx, jobs); err != nil {
		return r.stats.summary(), err
	}
	// Only the reconciles a flag requests: see reconcile_schedule.go.
	if err := r.reconcileRequested(ctx); err != nil {
		return r.stats.summary(), err
	}
	if err := r.drain(ctx); err != nil {
		return r.stats.summary(), err
	}
	return r.stats.summary(), nil
}

// pollOnce polls the jobs, retrying the ones the store failed for (a
// store outage) with backoff for up to Config.StoreOutage.
func (r *Runner) pollOnce(ctx context.Context, jobs []jobRef) error {
	var down time.Time
	backoff := 100 * time.Millisecond
	for {
		failed, err := r.pollAll(ctx, jobs, true)
		if len(failed) == 0 || ctx.Err() != nil {
			return err
		}
		if down.IsZero() {
			down = time.Now()
		}
		if time.Since(down) > r.cfg.StoreOutage {
			return fmt.Errorf("the store has been failing for %s; giving up (the next run redoes the work): %w", time.Since(down).Round(time.Second), err)
		}
		r.log.Warn("store unavailable; retrying jobs", "jobs", len(failed), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
		jobs = failed
	}
}

// pollAll runs the jobs on the configured number of workers. It returns
// the jobs that could not run because the store failed, with the errors.
func (r *Runner) pollAll(ctx context.Context, jobs []jobRef, once bool) ([]jobRef, error) {
	work := make(chan jobRef)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []jobRef
	var errs []error
	for range min(r.cfg.Workers, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if err := r.runJob(ctx, j, once); err != nil {
					mu.Lock()
					failed = append(failed, j)
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return failed, err
	}
	return nil, ctx.Err()
}

// Run activates the plan's configuration in the store, refusing to take
// any job when a newer one is active (unless Config.Force), then runs the
// plan until ctx ends: due jobs are polled as they come due and the queues
// are processed continuously. A newer configuration activated meanwhile
// stops the run, so an old worker does not go on taking jobs beside the
// new ones. A worker that cannot go on (a destination that cannot start)
// stops the whole run with its reason.
func (r *Runner) Run(ctx context.Context) error {
	r.stats = stats{}
	if err := r.activate(ctx, 0); err != nil {
		return err
	}
	if err := r.scheduleAll(ctx); err != nil {
		return err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	for i := range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.processLoop(ctx, r.consumer(i), nil); err != nil && ctx.Err() == nil {
				stop(err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.scheduleLoop(ctx); err != nil && ctx.Err() == nil {
			stop(err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.watchConfig(ctx); err != nil && ctx.Err() == nil {
			stop(err)
		}
	}()
	wg.Wait()
	return context.Cause(ctx)
}

func (r *Runner) consumer(i int) string { return fmt.Sprintf("%s/w%d", r.cfg.Owner, i) }

// jobRef is one job of one tenant.
type jobRef struct {
	tenant *dsl.Tenant
	job    *dsl.Job
}
