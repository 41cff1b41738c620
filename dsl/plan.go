package dsl

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// FormatVersion is the version of the `plan -json` document and of the
// compiled plan's JSON form. Bump the minor for additions, the major for
// anything a consumer could misread.
const FormatVersion = "1.0"

// Plan is a compiled, validated configuration: plain Go values the runtime
// uses without knowing about HCL, plus what `plan` shows (jobs, schedules,
// budgets, rollout variants). Slices are sorted by name so output is stable.
type Plan struct {
	ConfigDir string `json:"config_dir"`
	// ConfigHash identifies this configuration (sha256 over the config files'
	// names and contents, variables applied); the store records the hash of
	// the configuration it last ran, and `plan --store` diffs against it.
	ConfigHash string    `json:"config_hash"`
	Now        time.Time `json:"now"`
	// Store is the hub store: --store > SIPHON_STORE > siphon { store } >
	// .siphon/state.db in the config directory (plan resolves only the last
	// two; the CLI applies the others).
	Store        Value          `json:"store"`
	Sources      []*Source      `json:"sources"`
	Resources    []*Resource    `json:"resources"`
	Destinations []*Destination `json:"destinations"`
	Pipelines    []*Pipeline    `json:"pipelines"`
	Lanes        []*Lane        `json:"lanes"`
	Flags        []*Flag        `json:"flags"`
	Regions      []*Region      `json:"regions"`
	Tenants      []*Tenant      `json:"tenants"`
	// HubBudgets is, per source, the sum over enabled tenants of their
	// estimated requests per hour against the source's global_rate_limit.
	HubBudgets []*HubBudget `json:"hub_budgets"`
}

// Value is a configuration string that may be unknown at plan time (env()
// of an unset variable) or secret (a sensitive variable or any env() value).
// Its JSON and String forms never reveal a secret.
type Value struct {
	Text      string `json:"-"`
	Known     bool   `json:"known"`
	Sensitive bool   `json:"sensitive"`
	// FromEnv names the environment variable the value came from, if any.
	FromEnv string `json:"from_env,omitempty"`
}

// Source is a compiled `source` block.
type Source struct {
	Name            string   `json:"name"`
	Kind            string   `json:"kind"`
	BaseURL         Value    `json:"base_url"`
	Timeout         Duration `json:"timeout"`
	RateLimit       Rate     `json:"rate_limit"`
	GlobalRateLimit *Rate    `json:"global_rate_limit,omitempty"`
	// RateLimitBurst and GlobalRateLimitBurst are how many requests a
	// full budget lets through at once; 0 when not configured, which is a
	// burst of 1 (see Bursts).
	RateLimitBurst       int       `json:"rate_limit_burst,omitempty"`
	GlobalRateLimitBurst int       `json:"global_rate_limit_burst,omitempty"`
	Retry                Retry     `json:"retry"`
	DeclRange            hcl.Range `json:"-"`
}

// Bursts are the source's configured bursts, 1 where none is: the
// tenant's rate_limit burst and the global_rate_limit burst.
func (s *Source) Bursts() (tenant, global int) {
	return max(s.RateLimitBurst, 1), max(s.GlobalRateLimitBurst, 1)
}

// Retry is a source's retry policy for failed requests.
type Retry struct {
	Attempts   int      `json:"attempts"`
	Backoff    Duration `json:"backoff"`
	MaxBackoff Duration `json:"max_backoff"`
}

// Resource is a compiled `resource` block.
type Resource struct {
	Name       string   `json:"name"`
	Source     string   `json:"source"`
	Path       string   `json:"path"`
	PrimaryKey []string `json:"primary_key"`
	// Cursor is nil for resources the API cannot filter by time: they are
	// fully scanned each cycle.
	Cursor  *Cursor  `json:"cursor,omitempty"`
	Cadence Duration `json:"cadence"`
	// Parent names the parent resource; Placeholder is the one {name} in
	// Path bound to each parent record's key (or ParentKey's values).
	Parent      string `json:"parent,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	// ParentKey, when set, computes the parent ids from a parent record
	// (it may yield a list); nil means the parent's primary key.
	ParentKey *KeyFunc `json:"-"`
	// VersionField is the record field that versions it (the cursor field,
	// else "updated_at"); VersionHash means the resource has none and the
	// version is the API time of the page that fetched it.
	VersionField string `json:"version_field,omitempty"`
	VersionHash  bool   `json:"version_hash,omitempty"`
	// Schema lists known field types (built in for VOMO users and
	// participations, or declared); empty means untyped.
	Schema    []Field   `json:"schema,omitempty"`
	DeclRange hcl.Range `json:"-"`
}

// Cursor is how a resource is read incrementally.
type Cursor struct {
	Field   string   `json:"field"`
	Param   string   `json:"param"`
	Overlap Duration `json:"overlap"`
	// Settle is how long a write may take to become visible at the source;
	// walks are capped at API time − settle.
	Settle Duration `json:"settle"`
}

// Field is a named, typed field (of a schema or a mapping's output).
type Field struct {
	Name string `json:"name"`
	// Type is one of "string", "number", "bool", "timestamp", "json".
	Type string `json:"type"`
}

// Destination is a compiled `destination` block.
type Destination struct {
	Name    string `json:"name"`
	Plugin  string `json:"plugin"`
	Builtin bool   `json:"builtin"`
	SHA256  string `json:"sha256,omitempty"`
	// Config is the `config` object as cty values (unknown where plan could
	// not know it); it travels to the plugin msgpack-encoded.
	Config cty.Value `json:"-"`
	// ConfigView is Config for display: every value redacted as Value says.
	ConfigView      map[string]Value `json:"config"`
	BatchSize       int              `json:"batch_size"`
	Timeout         Duration         `json:"timeout"`
	Breaker         Breaker          `json:"circuit_breaker"`
	AllowSingleNode bool             `json:"allow_single_node"`
	DeclRange       hcl.Range        `json:"-"`
}

// Breaker is a circuit breaker's policy.
type Breaker struct {
	Failures int      `json:"failures"`
	Cooldown Duration `json:"cooldown"`
}

// Pipeline is a compiled `pipeline` block.
type Pipeline struct {
	Name        string `json:"name"`
	Resource    string `json:"resource"`
	Destination string `json:"destination"`
	Object      string `json:"object"`
	// Fields are the mapped fields in declaration order, with the source
	// text of each expression (for plan output and test diffs).
	Fields []MappedField `json:"fields"`
	// Filter is the filter expression's source text, empty when none.
	Filter string `json:"filter,omitempty"`
	// Transform applies the compiled filter and mapping to one record.
	Transform *Transform `json:"-"`
	// MappingHash identifies the filter, fields and reverse mappings; it
	// changes exactly when what a record maps to may change, and is the
	// pipeline's config generation seed.
	MappingHash string            `json:"mapping_hash"`
	Delivery    string            `json:"delivery"`
	Isolate     bool              `json:"isolate"`
	Cadence     *Duration         `json:"cadence,omitempty"`
	Direction   string            `json:"direction"`
	Authority   map[string]string `json:"authority,omitempty"`
	// Reverse maps a destination-owned field to the source field it is
	// written back to, with the expression over `row` that computes it.
	Reverse     map[string]string `json:"reverse,omitempty"`
	MaxAttempts int               `json:"max_attempts"`
	Reconcile   Reconcile         `json:"reconcile"`
	Rollout     *Rollout          `json:"rollout,omitempty"`
	// MappingErrorThreshold pauses the pipeline when this share of a batch
	// window fails mapping (default 0.2).
	MappingErrorThreshold float64   `json:"mapping_error_threshold"`
	DeclRange             hcl.Range `json:"-"`
}

// MappedField is one output field of a pipeline.
type MappedField struct {
	Name  string    `json:"name"`
	Type  string    `json:"type"`
	Expr  string    `json:"expr"`
	Range hcl.Range `json:"-"`
}

// Reconcile is a pipeline's reconciliation policy.
type Reconcile struct {
	Daily  Clock   `json:"daily"`
	Weekly *Weekly `json:"weekly,omitempty"`
	// MaxDeletePercent and MaxDeleteMin: a reconcile that would delete more
	// than both stops and waits for an operator.
	MaxDeletePercent float64 `json:"max_delete_percent"`
	MaxDeleteMin     int     `json:"max_delete_min"`
}

// Clock is a wall-clock time of day in a tenant's time zone.
type Clock struct {
	Hour   int `json:"hour"`
	Minute int `json:"minute"`
	// Now is a tenant's backfill_at = "now": start at once, not at a time
	// of day (Hour and Minute are then zero). Only backfill_at accepts it.
	Now bool `json:"now,omitempty"`
}

// Weekly is a day of the week and a time of day.
type Weekly struct {
	Day time.Weekday `json:"day"`
	At  Clock        `json:"at"`
}

// Rollout selects the tenants a pipeline applies to: those Flag selects,
// or with Negate those it does not.
type Rollout struct {
	Flag   string `json:"flag"`
	Negate bool   `json:"negate"`
}

// Lane is a priority lane.
type Lane struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// Flag is a staged rollout flag.
type Flag struct {
	Name   string   `json:"name"`
	Stages []string `json:"stages"`
	Stage  string   `json:"stage"`
}

// Region is a data-residency region; a region without a store uses the hub's.
type Region struct {
	Name  string `json:"name"`
	Store *Value `json:"store,omitempty"`
}

// Tenant is a compiled `tenant` block with everything plan derived for it.
type Tenant struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Region      string `json:"region,omitempty"`
	Timezone    string `json:"timezone"`
	Lane        string `json:"lane"`
	Cohort      string `json:"cohort,omitempty"`
	Credentials string `json:"credentials"`
	Enabled     bool   `json:"enabled"`
	// Store is where this tenant's state lives: its region's store, else the hub's.
	Store Value `json:"store"`
	// RateLimits is the effective per-source budget (the tenant's
	// rate_limit replaces the source's).
	RateLimits map[string]Rate `json:"rate_limits"`
	BackfillAt Clock           `json:"backfill_at"`
	// Pipelines are the pipelines listed on the tenant; Active are those
	// that apply after rollouts.
	Pipelines []string   `json:"pipelines"`
	Active    []string   `json:"active"`
	Variants  []Variant  `json:"variants,omitempty"`
	Cadences  []Override `json:"cadence_overrides,omitempty"`
	Jobs      []*Job     `json:"jobs"`
	// Reconciles is one schedule per active pipeline.
	Reconciles []*ReconcilePlan `json:"reconciles"`
	// Budgets is, per source, the estimated requests per hour of this
	// tenant's jobs against its rate limit.
	Budgets   []*TenantBudget `json:"budgets"`
	Location  *time.Location  `json:"-"`
	DeclRange hcl.Range       `json:"-"`
	// scope is the `tenant` object mapping and filter expressions see.
	scope cty.Value
}

// Variant says whether a flag selects a tenant, and why.
type Variant struct {
	Flag     string `json:"flag"`
	Selected bool   `json:"selected"`
	// Reason: "cohort internal", "bucket 7 < 10%", …
	Reason string `json:"reason"`
}

// Override is a tenant's cadence override for one pipeline.
type Override struct {
	Pipeline string   `json:"pipeline"`
	Cadence  Duration `json:"cadence"`
}

// Job is what the scheduler runs for a tenant: one or more pipelines polled
// in sequence at one cadence. Shape "A" groups the tenant's pipelines that
// share a cadence; shape "B" is a pipeline with its own cadence or isolate.
type Job struct {
	// ID is unique within the tenant and stable across unrelated config
	// changes: "every-5m" for a shape A job, "pipeline-NAME" for shape B.
	ID      string   `json:"id"`
	Shape   string   `json:"shape"`
	Cadence Duration `json:"cadence"`
	// Stagger is the job's deterministic offset within its cadence, a hash
	// of (tenant, job id); the runtime adds jitter, plan never does.
	Stagger   Duration `json:"stagger"`
	Pipelines []string `json:"pipelines"`
	// Fetches are the resource reads of one run, in order: pipelines on the
	// same resource share one fetch; a parent is read before its children.
	Fetches         []Fetch   `json:"fetches"`
	NextRuns        []RunTime `json:"next_runs"`
	RequestsPerHour float64   `json:"requests_per_hour"`
}

// Fetch is one resource read within a job.
type Fetch struct {
	Resource  string   `json:"resource"`
	Pipelines []string `json:"pipelines"`
	Parent    string   `json:"parent,omitempty"`
}

// RunTime is a scheduled instant in UTC and in the tenant's time zone.
type RunTime struct {
	UTC   time.Time `json:"utc"`
	Local string    `json:"local"`
}

// ReconcilePlan is a pipeline's reconcile schedule for a tenant.
type ReconcilePlan struct {
	Pipeline string    `json:"pipeline"`
	Daily    Clock     `json:"daily"`
	Weekly   *Weekly   `json:"weekly,omitempty"`
	Next     []RunKind `json:"next"`
}

// RunKind is a scheduled reconcile: "daily" or "weekly" (weekly replaces
// the daily on its day).
type RunKind struct {
	Kind string `json:"kind"`
	RunTime
}

// TenantBudget is a tenant's estimated use of one source's budget.
type TenantBudget struct {
	Source          string  `json:"source"`
	RequestsPerHour float64 `json:"requests_per_hour"`
	LimitPerHour    float64 `json:"limit_per_hour"`
}

// HubBudget is the whole hub's estimated use of one source's global budget.
type HubBudget struct {
	Source          string  `json:"source"`
	RequestsPerHour float64 `json:"requests_per_hour"`
	// LimitPerHour is 0 when the source has no global_rate_limit.
	LimitPerHour float64 `json:"limit_per_hour"`
}
