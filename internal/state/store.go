// Package state defines the runtime's durable state — leases and due times,
// checkpoints and walk progress, per-(tenant, destination) queues, DLQs,
// tenant control, config activation, the audit log and reconcile scan ids —
// as a small set of interfaces with two backends that pass one conformance
// suite (statetest): redis (many workers on many machines) and local (bbolt,
// one process).
//
// Every state change is atomic and touches one tenant: one Lua script in the
// tenant's hash slot on Redis, one bbolt transaction locally. Hub-wide indexes
// (due jobs, ready queues) live outside tenant slots and are updated as their
// own idempotent step right after the tenant's step; a repair sweep fixes any
// miss.
//
// Two clocks meet here. Due times are in the scheduler's clock (the caller
// passes now, so tests can run a scaled clock). Leases, visibility timeouts,
// retry delays and ready scores use the store's clock (Redis server TIME, or
// the local wall clock), so workers on machines with skewed clocks agree.
package state

import (
	"context"
	"strings"
	"time"
)

// FormatVersion is the schema version this code reads and writes. Open
// refuses a store whose recorded version is newer.
//
// 2: the embedded store keeps queue entries in a binary layout instead of
// JSON. It still reads JSON entries, so it upgrades a version 1 file at
// open, after which an older siphon refuses the file instead of failing on
// its first claim. Redis data is the same in both versions.
const FormatVersion = 2

// Store is everything the runtime keeps durable.
type Store interface {
	Meta
	Leases
	Checkpoints
	Queues
	DeadLetters
	Control
	Scans
	Budgets
	Notes
	Close() error
}

// Info describes an open store.
type Info struct {
	Backend       string // "redis", "redis-cluster" or "local"
	FormatVersion int
	// Epoch is random at creation and changes only on import or restore; it
	// is the first half of every fencing token.
	Epoch string
}

// Meta reports what store this is.
type Meta interface {
	Info(ctx context.Context) (Info, error)
}

// Fence is a fencing token: writes made under a lease carry it and are
// refused once the lease has moved on. Counters rise across grants, even
// after a Redis failover lost recent writes, because a new counter is at
// least the store's time in microseconds.
type Fence struct {
	Epoch   string
	Counter int64
}

// Lease is the right to run one job of one tenant.
type Lease struct {
	Tenant, Job, Owner string
	Token              Fence
	Expires            time.Time // in the store's clock
	// Due is the job's authoritative next-due time after this call (zero if
	// the job has none).
	Due time.Time
}

// AcquireRequest asks for a job's lease. With a zero NextDue the lease is
// granted whenever nobody else holds it; otherwise also only when the job's
// stored due time is at or before Now (or unset), and the stored due time
// moves to NextDue in the same step, so one due slot runs exactly once
// however many schedulers saw it.
type AcquireRequest struct {
	Tenant, Job, Owner string
	TTL                time.Duration
	Now, NextDue       time.Time // scheduler's clock
}

// JobRef names a job in the due index.
type JobRef struct {
	Tenant, Job string
	Due         time.Time
}

// Leases are job leases with fencing, and due times.
type Leases interface {
	// Acquire grants the lease when it is free (unheld or expired) and, with
	// NextDue set, the job is due. When not granted, the returned Lease
	// carries the current holder (Owner, may be empty) and the authoritative
	// Due so the caller can correct its view.
	Acquire(ctx context.Context, req AcquireRequest) (Lease, bool, error)
	// Renew extends the lease by ttl from now; ErrLeaseLost when the lease
	// is no longer this token's.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release gives the lease back; releasing a lost lease is not an error.
	Release(ctx context.Context, l Lease) error
	// ScheduleJob records the job's due time when it has none (or always,
	// with replace) and returns the authoritative due time.
	ScheduleJob(ctx context.Context, tenant, job string, due time.Time, replace bool) (time.Time, error)
	// UnscheduleJob forgets a job's due time (it left the plan); its lease
	// and fence counter stay.
	UnscheduleJob(ctx context.Context, tenant, job string) error
	// DueJobs lists up to limit jobs whose indexed due time is at or before
	// now, earliest first. The index may be stale; Acquire decides.
	DueJobs(ctx context.Context, now time.Time, limit int) ([]JobRef, error)
	// RepairDue rewrites the due index entries of the given jobs from their
	// authoritative due times (the sweep), returning how many changed.
	RepairDue(ctx context.Context, jobs []JobRef) (int, error)
}

// Walk is the progress of an in-progress page walk over the window
// (After, Cap]. Position is the next record position (not a page number, so
// a changed per_page cannot skip records); Total is the last meta.total.
// Records counts the records the walk has read so far, so a completed walk
// can say how many it read even when it was resumed.
//
// Progress is the source client's whole progress (opaque to the store; for
// VOMO the JSON of vomo.Progress: page geometry, the pending step-back),
// so a resumed walk continues exactly where the client stood. It is nil in
// walks stored before it existed; those resume from Position and Total,
// stepping back conservatively.
type Walk struct {
	After, Cap time.Time
	Position   int64
	Total      int64
	Records    int64
	Progress   []byte
}

// Checkpoint is the state of one (tenant, pipeline). Generation rises on
// every operator set or reset, so a walk that started before cannot write.
//
// LastComplete is when (store clock) the pipeline's last walk or full scan
// completed, and LastRecords how many records it read: the only sign of
// progress of pipelines on cursorless or child resources, which have no
// cursor. Both are zero before the first completion and after an operator
// set or reset.
type Checkpoint struct {
	Cursor       time.Time // zero: no cursor yet
	Walk         *Walk     // nil: no walk in progress
	Generation   int64
	LastComplete time.Time
	LastRecords  int64
}

// Checkpoints are per-(tenant, pipeline) cursors and walk progress. Walk
// progress is written by CommitPage.
type Checkpoints interface {
	Checkpoint(ctx context.Context, tenant, pipeline string) (Checkpoint, error)
	// SetCursor sets the cursor, drops any walk and bumps the generation.
	SetCursor(ctx context.Context, tenant, pipeline string, at time.Time) (Checkpoint, error)
	// ResetCheckpoint drops cursor and walk and bumps the generation.
	ResetCheckpoint(ctx context.Context, tenant, pipeline string) (Checkpoint, error)
}

// Entry is one queued record. The store assigns ID and, when zero, Seq; Seq
// (the original enqueue sequence), Version and ConfigGeneration survive
// retries and DLQ replay because destinations order writes by them.
type Entry struct {
	ID               string
	Pipeline         string
	Key              string
	Op               string // "upsert" or "delete"
	Version          time.Time
	ConfigGeneration int64
	Seq              int64
	ContentHash      string
	Payload          []byte // the raw source record JSON
	Trace            string // W3C trace context of the poll that found it
	// Attempts counts failed writes (not deliveries).
	Attempts  int
	LastError string
}

// QueueRef names a (tenant, destination) queue and the lane whose ready
// index lists it.
type QueueRef struct {
	Tenant, Destination, Lane string
}

// WalkUpdate advances one member pipeline's walk in a page commit. It is
// skipped (with its pipeline's entries) when the stored generation is no
// longer Generation. Complete ends the walk: the cursor moves to Walk.Cap
// (a zero Cap, the completion of a full scan, leaves the cursor as it is)
// and the checkpoint's LastComplete and LastRecords record the completion
// with Walk.Records.
type WalkUpdate struct {
	Pipeline   string
	Generation int64
	Walk       Walk
	Complete   bool
}

// Enqueue is a page's entries for one destination queue.
type Enqueue struct {
	Queue   QueueRef // Queue.Tenant must be the commit's tenant
	Entries []Entry
}

// ScanPage is one page of a reconcile scan's ids, stored with the page's
// progress (a WalkUpdate in the same commit).
type ScanPage struct {
	Resource, ScanID string
	Page             int64
	IDs              []string
}

// PageCommit is one atomic page step under a lease.
type PageCommit struct {
	Lease   Lease
	Walks   []WalkUpdate
	Enqueue []Enqueue
	Scan    *ScanPage
}

// CommitResult says which member walks advanced.
type CommitResult struct {
	Applied, Skipped []string // pipelines
	Enqueued         int
}

// Failure is a failed write of a claimed entry. The entry is retried after
// RetryAfter (store clock) or goes to the DLQ when its attempts reach
// maxAttempts.
type Failure struct {
	ID         string
	Error      string
	RetryAfter time.Duration
}

// FailResult counts what Fail did; entries the caller did not own are in
// neither count.
type FailResult struct {
	Retried, Dead int
}

// Claimed is what Claim or Reclaim handed over. Dead counts entries sent to
// the DLQ instead, as "reclaimed too often": delivered more than
// maxAttempts+3 times without a recorded failure, they crash or hang the
// workers that take them.
type Claimed struct {
	Entries []Entry
	Dead    int
}

// Depth is a queue's size.
type Depth struct {
	Stream  int64 // entries in the stream, delivered or not
	Pending int64 // delivered and not yet acked or failed
	Retry   int64 // waiting for their retry time
	Dead    int64 // the tenant's DLQ (all destinations)
}

// ReadyQueue is a ready index member with its score.
type ReadyQueue struct {
	Tenant, Destination string
	At                  time.Time // store clock
}

// CompareReady orders ready queues by score, then by name, so queues moved
// to the back together keep one order.
func CompareReady(a, b ReadyQueue) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if a.Tenant != b.Tenant {
		return strings.Compare(a.Tenant, b.Tenant)
	}
	return strings.Compare(a.Destination, b.Destination)
}

// Queues hold per-(tenant, destination) work. Ownership: Ack, Fail and
// Extend act only on entries the named consumer holds; a consumer is one
// sequential claimer (its pending entries are its unfinished batch).
type Queues interface {
	// CommitPage enqueues a page's entries and advances each member walk in
	// one atomic step; ErrFenced when the lease has moved on (nothing is
	// written).
	CommitPage(ctx context.Context, c PageCommit) (CommitResult, error)
	// Claim moves due retries back to the stream, then returns up to n
	// entries: the consumer's own pending entries first (a restarted worker
	// finishes its batch), then new ones. n < 1 claims nothing.
	Claim(ctx context.Context, q QueueRef, consumer string, n, maxAttempts int) (Claimed, error)
	// Ack removes entries the consumer holds and returns how many.
	Ack(ctx context.Context, q QueueRef, consumer string, ids []string) (int, error)
	// AckClaim is Ack then Claim of the same queue in one atomic step: a
	// worker that settled a batch with only acks takes its next batch in
	// one round trip instead of two. It returns how many it acked and what
	// it claimed, exactly as the two calls would.
	AckClaim(ctx context.Context, q QueueRef, consumer string, ids []string, n, maxAttempts int) (int, Claimed, error)
	// Fail counts a failed write on each entry the consumer holds;
	// maxAttempts below 1 counts as 1.
	Fail(ctx context.Context, q QueueRef, consumer string, failures []Failure, maxAttempts int) (FailResult, error)
	// Nack hands entries the consumer holds back to the queue for
	// immediate redelivery to any consumer, with their attempts unchanged
	// (a write cut short by shutdown, not a failed one), and returns how
	// many it handed back.
	Nack(ctx context.Context, q QueueRef, consumer string, ids []string) (int, error)
	// Reclaim takes over up to n entries idle longer than minIdle (a dead
	// worker's).
	Reclaim(ctx context.Context, q QueueRef, consumer string, minIdle time.Duration, n, maxAttempts int) (Claimed, error)
	// Extend resets the idle time of entries the consumer holds (a long
	// write), returning how many it holds.
	Extend(ctx context.Context, q QueueRef, consumer string, ids []string) (int, error)
	// RemoveConsumer forgets a consumer only if it holds nothing.
	RemoveConsumer(ctx context.Context, q QueueRef, consumer string) (bool, error)
	Depth(ctx context.Context, q QueueRef) (Depth, error)
	// Ready lists up to limit queues of the lane with work available now,
	// longest waiting first (CompareReady). When it leaves some out, it
	// moves each one it lists to the back of the lane's order, so the next
	// call lists the ones left out: a backlogged queue is handed out in
	// turn with the others, not ahead of them until it drains. A queue
	// whose stream holds only claimed entries stays listed (so dead
	// workers' entries get reclaimed) until a worker parks it.
	Ready(ctx context.Context, lane string, limit int) ([]ReadyQueue, error)
	// Park hides a queue from Ready for d when all its entries are claimed
	// (a worker found nothing to claim or reclaim), so workers do not spin on
	// it. New entries and due retries list it again at once.
	Park(ctx context.Context, q QueueRef, d time.Duration) error
	// Hold hides a queue from Ready for d whatever it holds, its entries
	// unclaimed: its destination is down, and no worker of any process
	// should take them before then. New entries and retries due before
	// then list it again, as after Park; an empty queue is not held. It
	// reports whether the queue was listed when held (an empty queue
	// counts as listed): of the workers of several processes holding a
	// queue whose hold just ended, one is told so.
	Hold(ctx context.Context, q QueueRef, d time.Duration) (bool, error)
	// SweepReady recomputes the ready index entries of the given queues.
	SweepReady(ctx context.Context, qs []QueueRef) error
}

// DeadLetter is an entry that will not be retried automatically.
type DeadLetter struct {
	ID          string
	Destination string
	Entry       Entry
	Reason      string // "failed" or "reclaimed too often"
	At          time.Time
}

// DeadLetters is the per-tenant DLQ. Every call is scoped to one tenant;
// ids of another tenant's letters are simply not found.
type DeadLetters interface {
	// DeadLetterList pages the DLQ in id order after the given id ("" for
	// the start); next is "" at the end.
	DeadLetterList(ctx context.Context, tenant, after string, limit int) (letters []DeadLetter, next string, err error)
	DeadLetter(ctx context.Context, tenant, id string) (DeadLetter, error)
	// Replay puts letters back on their queues (of the given lane) with
	// attempts reset, keeping version, config generation and seq.
	Replay(ctx context.Context, tenant, lane string, ids []string) (int, error)
	// Purge deletes the given letters.
	Purge(ctx context.Context, tenant string, ids []string) (int, error)
	// PurgeAll empties the tenant's DLQ.
	PurgeAll(ctx context.Context, tenant string) (int, error)
}

// FlagKind is a kind of control flag.
type FlagKind string

// Flag kinds. Scope is empty for tenant-wide kinds, the resource for
// FlagForbidden, the pipeline for FlagPipelinePaused and optionally for
// FlagLastError, the destination for FlagWriteError.
const (
	FlagDisabled       FlagKind = "disabled"        // operator's tenant disable
	FlagAuthPaused     FlagKind = "auth-paused"     // 401 from the source
	FlagForbidden      FlagKind = "forbidden"       // 403 for one resource
	FlagPipelinePaused FlagKind = "pipeline-paused" // mapping-error rate
	FlagLastError      FlagKind = "last-error"
	FlagWriteError     FlagKind = "write-error" // the last failed write to a destination
	// FlagMassDelete: a reconcile of the pipeline (Scope) would delete more
	// than its max_delete and max_delete_min; it kept everything and waits
	// for `siphon reconcile --allow-mass-delete`.
	FlagMassDelete FlagKind = "mass-delete"
	// FlagOrgMismatch: the token answers for another organization than the
	// one recorded at onboarding; nothing is polled or written.
	FlagOrgMismatch FlagKind = "org-mismatch"
	// FlagBackfillRequested: an operator asked for a new backfill of the
	// pipeline (Scope); the poll stage runs a capped full scan instead of
	// its walk and clears the flag when the scan completes.
	FlagBackfillRequested FlagKind = "backfill-requested"
	// FlagReconcileRequested: a reconcile of the pipeline (Scope) should run
	// at its next chance (after a checkpoint rebuilt from the destination,
	// or an operator's request); the reconcile stage clears it.
	FlagReconcileRequested FlagKind = "reconcile-requested"
)

// Flag is one control flag of a tenant.
type Flag struct {
	Kind   FlagKind
	Scope  string
	Reason string
	By     string
	At     time.Time
}

// ConfigVersion is a plan version the hub runs. Versions activate in
// increasing order; the version number is the config generation that
// destination writes carry, so a newer config wins ties with an older one.
//
// Summary is a small description of the configuration (opaque to the
// store; the runtime writes the JSON of a dsl.Summary) that `siphon plan
// --store` diffs a new configuration against. It is stored when the
// version activates, and filled in when the active version has none (it
// was activated before summaries existed).
type ConfigVersion struct {
	Version     int64
	Hash        string
	ActivatedAt time.Time
	Summary     []byte
}

// AuditEntry is one operator action. An empty Tenant is a hub-wide entry.
type AuditEntry struct {
	ID     string
	Tenant string
	// Region, set on an entry of Tenant, names the region whose own store
	// keeps the tenant's log: AppendAudit then appends to this store's hub
	// log only, so the hub records the action without holding any key of
	// the tenant.
	Region string `json:",omitempty"`
	At     time.Time
	Who    string
	Action string
	Detail string
}

// Control is tenant control, credentials, config activation and the audit log.
type Control interface {
	SetFlag(ctx context.Context, tenant string, f Flag) error
	ClearFlag(ctx context.Context, tenant string, kind FlagKind, scope string) error
	// Flags lists the tenant's flags ordered by kind, then scope.
	Flags(ctx context.Context, tenant string) ([]Flag, error)

	// PutCredential stores the tenant's sealed credential blob (opaque).
	PutCredential(ctx context.Context, tenant string, sealed []byte) error
	// Credential returns the sealed blob or ErrNotFound.
	Credential(ctx context.Context, tenant string) ([]byte, error)
	DeleteCredential(ctx context.Context, tenant string) error
	// SwapCredential stores sealed only if the credential still holds old
	// (an empty old: only if none is stored), atomically, and reports
	// whether it did. A rewrite of a blob it read (a re-seal, a re-wrap
	// under a new master key) goes through it: a plain Put would bring
	// back a token a set replaced in between, or one a delete removed. A
	// credential that already holds sealed reports true without a write,
	// so a call the network made twice does not report a lost race
	// (sealed blobs carry fresh random data keys and nonces: two writers
	// never produce the same bytes). An empty sealed is ErrInvalid.
	SwapCredential(ctx context.Context, tenant string, old, sealed []byte) (bool, error)

	// ActivateConfig makes v the active config. A lower version than the
	// active one, or any version once superseded, is refused with
	// ErrSuperseded unless force; activating the active version again is a
	// no-op. A zero Version asks the store to number the config: the active
	// one's number if v.Hash is active, else one more than any version ever
	// activated, assigned atomically so concurrent starts cannot share it.
	// It returns the active version afterwards.
	ActivateConfig(ctx context.Context, v ConfigVersion, force bool) (ConfigVersion, error)
	// ActiveConfig returns the active version; ok is false when none.
	ActiveConfig(ctx context.Context) (v ConfigVersion, ok bool, err error)

	// AppendAudit appends to the tenant's log and to the hub log (an empty
	// tenant, or an entry with a Region, appends to the hub log only; a
	// Region without a tenant is ErrInvalid).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// Audit pages a log ("" tenant: the hub log) after an id.
	Audit(ctx context.Context, tenant, after string, limit int) (entries []AuditEntry, next string, err error)
}

// Scans hold reconcile scan ids, written page by page by CommitPage.
type Scans interface {
	// ScanPages calls fn for every stored page of the scan, in no
	// particular order, without loading the whole set at once.
	ScanPages(ctx context.Context, tenant, resource, scanID string, fn func(page int64, ids []string) error) error
	DeleteScan(ctx context.Context, tenant, resource, scanID string) error
}

// Limit is one GCRA rate budget: one request per Interval on average, at
// most Burst at once (Burst below 1 counts as 1).
type Limit struct {
	// Key names the budget within its scope: within the tenant's slot for
	// tenant limits ("vomo", "vomo/backfill"), within the hub for hub
	// limits ("vomo/lane/premium", "vomo/lane/premium/backfill").
	Key      string
	Interval time.Duration
	Burst    int
	// Cap marks a budget that caps a share of another's rate (a stage's
	// share of the tenant's rate or of its lane's): it never sets the
	// slot a reserving take goes at. A take it would hold back past the
	// slot the other budgets give is refused with its wait, so callers of
	// a capped share never queue ahead in the budget they share, leaving
	// its slots in between to the others (polling).
	Cap bool
}

// TakeRequest asks for N tokens (N below 1 counts as 1) of a tenant's
// limits, all or none, in the tenant's slot, and then of the hub limits
// (Hubs), all or none, each in its own slot, in order; when a hub limit
// refuses, the tokens taken before it are given back.
// Factor is the hub throttle (0 means 1): every interval is divided by it,
// so 0.5 halves every rate. It is passed in, not read by the script, so a
// tenant's script stays in the tenant's slot on a cluster.
//
// A refusal's Wait is the longest wait of the limits one step checked:
// where the tenant's and the hub's are taken in separate steps (Redis
// Cluster), a tenant refusal does not consult the hub, nor a hub limit's
// refusal the ones after it. An N above a limit's burst is granted once that budget is
// full, and the budget then owes the excess. A Limit's Interval must be
// positive and Factor in [0, 1]; anything else is ErrInvalid.
//
// Reserve (0: none; never negative) is the longest the caller will wait:
// when every token of the request (tenant's and hubs' alike) is there
// within Reserve, the take is granted now, each budget advanced as if the
// request arrived at its slot, and the result's Wait is how long the
// caller sleeps before sending (the longest wait of the limits, so the
// tenant's and the hubs' slots agree). A refused caller that sleeps and
// asks again loses any lateness past its slot for good, and many waiters
// race for each slot; a reservation queues callers at exact slots. Above
// Reserve the take is refused as without it and nothing changes; so is a
// take a Cap limit holds back past the slot the others give (Limit.Cap).
//
// GiveBack returns N tokens of Limits that a granted take (or
// reservation) took for a request that will not be made, with the same
// N and Factor: each budget's TAT moves back N intervals. It is what a
// caller does when it takes the tenant's and the hub's tokens from two
// stores and the hub refuses. It takes no Hubs and no Reserve, and is
// always granted. A budget that reserved slots behind the one given back
// keeps them, so the next take may share a slot with one of them: the
// count over time is kept, the spacing of that one pair is not.
//
// Drained takes nothing: it asks how long the drains of Limits (by key)
// still hold, as the Wait of a refusal, or Granted when none does. A
// caller that slept until its reserved slot asks it before sending, so a
// 429 another worker saw meanwhile holds back a request reserved before
// it. It takes no Hubs, Reserve or GiveBack.
type TakeRequest struct {
	Tenant string
	Limits []Limit
	// Hubs are hub-wide limits (a lane's share of the source's global
	// budget, and a stage's share of that), keyed in the hub's scope.
	Hubs []Limit
	// Lend are other lanes' shares (hub scope) the request may borrow, in
	// the order to try them: when the tenant's limits grant at once and
	// Hubs would make the request wait, the first that lends
	// (GCRAState.Lend: idle, or used only by borrowers since its own
	// lane's last take, its next slot at most an interval away) is taken
	// instead of all of Hubs, and its slot is the request's. Otherwise
	// the take goes on as without Lend. On a cluster that is extra steps,
	// only when Hubs would wait. It needs Hubs.
	Lend     []Limit
	N        int
	Factor   float64
	Reserve  time.Duration
	GiveBack bool
	Drained  bool
}

// TakeResult says whether the tokens were granted and how long (store
// clock) to wait: when refused, until they would be; when granted with a
// Reserve, until the reserved slot (0 when the request may go now).
type TakeResult struct {
	Granted bool
	Wait    time.Duration
}

// Budgets are rate budgets kept in the store's clock (Redis server TIME, or
// the local wall clock), so every worker of a hub draws on the same ones.
type Budgets interface {
	Take(ctx context.Context, req TakeRequest) (TakeResult, error)
	// DrainBudget refuses every token of the tenant's limit key until d
	// from now (a 429's Retry-After), leaving a later drain in place.
	DrainBudget(ctx context.Context, tenant, key string, d time.Duration) error
	// SetThrottle records the hub-wide throttle factor (0 < factor <= 1;
	// 1 is no throttle). Throttle returns it (1 when never set).
	SetThrottle(ctx context.Context, factor float64) error
	Throttle(ctx context.Context) (float64, error)
}

// Notes are small per-tenant documents (at most 64 KiB each) the runtime and
// operator commands keep beside the tenant's state: the organization id
// recorded at onboarding, the last reconcile report, a backfill's
// schedule. Names follow CheckName.
type Notes interface {
	PutNote(ctx context.Context, tenant, name string, value []byte) error
	// Note returns the note or ErrNotFound.
	Note(ctx context.Context, tenant, name string) ([]byte, error)
	DeleteNote(ctx context.Context, tenant, name string) error
	// PurgeTenant deletes every key the tenant owns in this store:
	// checkpoints, walks, leases and due times, queues and retries, DLQ,
	// flags, credential, notes, scans and the tenant's audit log (the hub
	// audit log keeps its entries), and takes the tenant out of every hub
	// index. It returns how many keys or records it removed. Budgets are
	// included; the hub budgets the tenant drew on are shared and stay. It
	// is safe to repeat (a purge cut short is finished by the next) and
	// must run while no worker holds the tenant (disable it first), or a
	// worker's next step writes the tenant's state again.
	PurgeTenant(ctx context.Context, tenant string) (int, error)
}
