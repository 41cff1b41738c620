// Package plugintest is the conformance kit every destination must pass:
// the same cases run in-process against an sdk.Destination, through the
// host against a plugin binary, and from `siphon plugin test PATH`.
//
// In a connector's tests:
//
//	func TestConformance(t *testing.T) {
//		plugintest.Run(t, func(t testing.TB) sdk.Destination { return mydest.New() },
//			plugintest.WithConfig(cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal(t.TempDir())})))
//	}
//
// Each case writes under its own tenant (prefixed with a random run id), so
// cases share one destination and a persistent destination can be reused
// across runs.
package plugintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// Options tune a run. Use the With functions.
type Options struct {
	// Config is a valid config for the destination (default: an empty
	// object).
	Config cty.Value
	// BadConfig must be rejected with an error diagnostic (default: an
	// object with an argument no destination has).
	BadConfig cty.Value
	// Records is the size of the scale case (default 10,000; `make bench`
	// uses 1,000,000).
	Records int
	// Object names the object the cases write to (default "siphon_kit").
	Object string
}

// Option sets an Option.
type Option func(*Options)

// WithConfig sets the valid config.
func WithConfig(v cty.Value) Option { return func(o *Options) { o.Config = v } }

// WithBadConfig sets the config that must be rejected.
func WithBadConfig(v cty.Value) Option { return func(o *Options) { o.BadConfig = v } }

// WithRecords sets the size of the scale case.
func WithRecords(n int) Option { return func(o *Options) { o.Records = n } }

// WithObject sets the object name the cases use.
func WithObject(name string) Option { return func(o *Options) { o.Object = name } }

func options(opts []Option) Options {
	o := Options{
		Config:    cty.EmptyObjectVal,
		BadConfig: cty.ObjectVal(map[string]cty.Value{"siphon_conformance_no_such_argument": cty.True}),
		Records:   10_000,
		Object:    "siphon_kit",
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Launcher starts a fresh, unconfigured destination. The kit configures it
// and closes it when done.
type Launcher func(ctx context.Context) (sdk.Destination, error)

// Run runs every case as a subtest of t. launch returns a fresh,
// unconfigured destination; it is called once for the shared destination
// and once more for the bad-config case.
func Run(t *testing.T, launch func(t testing.TB) sdk.Destination, opts ...Option) {
	t.Helper()
	o := options(opts)
	ctx := context.Background()
	d := launch(t)
	if diags := d.Configure(ctx, sdk.Config{Value: o.Config}); diags.HasErrors() {
		t.Fatalf("configure: %v", diags.Err())
	}
	t.Cleanup(func() { _ = d.Close(ctx) })
	e := newEnv(d, func(ctx context.Context) (sdk.Destination, error) { return launch(t), nil }, o)
	if err := e.setup(ctx); err != nil {
		t.Fatalf("setup: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(ctx, e.forCase(c.name)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Report is the outcome of Check.
type Report struct {
	Plugin sdk.Info
	Cases  []CaseResult
	// Err is set when the destination could not even be set up; no case ran.
	Err error
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Name     string
	Err      error
	Duration time.Duration
}

// OK reports whether every case passed.
func (r Report) OK() bool {
	if r.Err != nil {
		return false
	}
	for _, c := range r.Cases {
		if c.Err != nil {
			return false
		}
	}
	return true
}

// Check runs every case outside `go test` and reports each outcome; it is
// what `siphon plugin test` prints.
func Check(ctx context.Context, launch Launcher, opts ...Option) Report {
	o := options(opts)
	var rep Report
	d, err := launch(ctx)
	if err != nil {
		rep.Err = fmt.Errorf("launch: %w", err)
		return rep
	}
	defer d.Close(ctx)
	rep.Plugin = d.Info()
	if diags := d.Configure(ctx, sdk.Config{Value: o.Config}); diags.HasErrors() {
		rep.Err = fmt.Errorf("configure: %w", diags.Err())
		return rep
	}
	e := newEnv(d, launch, o)
	if err := e.setup(ctx); err != nil {
		rep.Err = fmt.Errorf("setup: %w", err)
		return rep
	}
	for _, c := range cases {
		start := time.Now()
		err := c.run(ctx, e.forCase(c.name))
		rep.Cases = append(rep.Cases, CaseResult{Name: c.name, Err: err, Duration: time.Since(start)})
	}
	return rep
}

// env is what a case works with.
type env struct {
	d      sdk.Destination
	launch Launcher
	opts   Options
	runID  string
	tenant string // this case's tenant
}

func newEnv(d sdk.Destination, launch Launcher, o Options) *env {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &env{d: d, launch: launch, opts: o, runID: hex.EncodeToString(b[:])}
}

func (e *env) forCase(name string) *env {
	c := *e
	c.tenant = "kit-" + e.runID + "-" + name
	return &c
}

// setup creates the objects the cases write to.
func (e *env) setup(ctx context.Context) error {
	return e.d.EnsureObject(ctx, sdk.ObjectSpec{Object: e.opts.Object, Fields: kitFields})
}

var kitFields = []sdk.FieldSpec{
	{Name: "name", Type: sdk.TypeString},
	{Name: "n", Type: sdk.TypeNumber},
	{Name: "payload", Type: sdk.TypeString},
}
