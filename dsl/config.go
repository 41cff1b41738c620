package dsl

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// config is a decoded configuration before compilation: every block with
// its values evaluated where they could be, references kept as names with
// the range they were written at, so that compile can point at the source
// of any problem it finds later.
type config struct {
	dir    string
	files  map[string]*hcl.File
	siphon *siphonBlock

	variables map[string]*variableBlock
	locals    map[string]*localDecl

	sources      map[string]*sourceBlock
	resources    map[string]*resourceBlock
	destinations map[string]*destinationBlock
	pipelines    map[string]*pipelineBlock
	tenants      map[string]*tenantBlock
	lanes        map[string]*laneBlock
	flags        map[string]*flagBlock
	regions      map[string]*regionBlock

	// varValues and localValues are the evaluated `var` and `local` objects
	// every expression sees.
	varValues   cty.Value
	localValues cty.Value
}

// ref is a reference to another block, by name, where it was written.
type ref struct {
	Name  string
	Range hcl.Range
}

// siphonBlock is the hub-wide `siphon` block; StoreSet tells an empty
// store apart from none, so an env() default of "" falls back to the file store.
type siphonBlock struct {
	Store     Value
	StoreSet  bool
	DeclRange hcl.Range
}

// variableBlock is a `variable` declaration; its value is resolved from
// the default, variable files and flags.
type variableBlock struct {
	Name        string
	Type        cty.Type
	Defaults    *typeexpr.Defaults
	Default     cty.Value // cty.NilVal when the variable is required
	Sensitive   bool
	Validations []*variableValidation
	DeclRange   hcl.Range
}

// variableValidation is one `validation` block of a variable.
type variableValidation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// localDecl is one named expression of a `locals` block, evaluated once.
type localDecl struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// sourceBlock is a decoded `source`, defaults applied.
type sourceBlock struct {
	Name            string
	Kind            string
	BaseURL         Value
	Timeout         time.Duration
	RateLimit       Rate
	GlobalRateLimit *Rate
	// Bursts: 0 when not configured (a burst of 1).
	RateLimitBurst       int
	GlobalRateLimitBurst int
	Retry                Retry
	DeclRange            hcl.Range
}

// resourceBlock is a decoded `resource`; ParentKey stays an expression
// because it is compiled against the parent record.
type resourceBlock struct {
	Name            string
	Source          ref
	Path            string
	PathRange       hcl.Range
	PrimaryKey      []string
	PrimaryKeyRange hcl.Range
	CursorRange     hcl.Range
	VersionRange    *hcl.Range
	Cursor          *Cursor
	Cadence         time.Duration
	Parent          *ref
	ParentKey       hcl.Expression
	VersionHash     bool
	VersionField    string
	Schema          map[string]string
	DeclRange       hcl.Range
	PlaceholderName string
}

// destinationBlock is a decoded `destination`; Config keeps unknown values
// so a plugin can be configured with what plan could not know.
type destinationBlock struct {
	Name            string
	Plugin          string
	PluginBuiltin   bool
	SHA256          string
	Config          cty.Value
	ConfigExpr      hcl.Expression
	ConfigRange     hcl.Range
	BatchSize       int
	Timeout         time.Duration
	Breaker         Breaker
	AllowSingleNode bool
	DeclRange       hcl.Range
}

// pipelineBlock is a decoded `pipeline`; its filter, fields and reverse
// stay expressions until the mapping compiles against its resource schema.
type pipelineBlock struct {
	Name        string
	Resource    ref
	Destination ref
	Object      string
	Filter      hcl.Expression
	Fields      []fieldExpr
	Reverse     []fieldExpr
	Delivery    string
	Isolate     bool
	Cadence     *time.Duration
	Direction   string
	// Authority maps a field (or "*") to "source" or "destination".
	Authority             map[string]string
	AuthorityRanges       map[string]hcl.Range
	AuthorityRange        hcl.Range
	HasAuthority          bool
	MaxAttempts           int
	Reconcile             Reconcile
	Rollout               *rolloutRef
	MappingErrorThreshold float64
	DeclRange             hcl.Range
}

// rolloutRef is `rollout = flag.x` or `rollout = !flag.x`.
type rolloutRef struct {
	Flag   ref
	Negate bool
}

// tenantBlock is a decoded `tenant`; lane and region are names resolved at
// compile time, like references.
type tenantBlock struct {
	ID             string
	Name           string
	Region         *ref
	Timezone       string
	Location       *time.Location
	Lane           ref
	Cohort         string
	Credentials    string
	Pipelines      []ref
	Cadences       []tenantCadence
	RateLimit      *Rate
	RateLimitRange hcl.Range
	Enabled        bool
	BackfillAt     Clock
	// Attrs are the tenant's values as mapping expressions see them.
	Attrs     map[string]cty.Value
	DeclRange hcl.Range
}

// tenantCadence is one entry of a tenant's `cadence = { pipeline = "5m" }`.
type tenantCadence struct {
	Pipeline ref
	Cadence  time.Duration
}

// laneBlock is a decoded `lane`.
type laneBlock struct {
	Name      string
	Weight    int
	DeclRange hcl.Range
}

// flagBlock is a decoded `flag`, its stages already checked for order.
type flagBlock struct {
	Name      string
	Stages    []string
	Stage     string
	DeclRange hcl.Range
}

// regionBlock is a decoded `region`; Store is nil when it uses the hub's.
type regionBlock struct {
	Name      string
	Store     *Value
	DeclRange hcl.Range
}
