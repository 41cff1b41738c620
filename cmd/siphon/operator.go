package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/urfave/cli/v2"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// target is what an operator command acts on: the tenant named on the
// command line, found in the configuration of a.config.
type target struct {
	cmdArgs
	plan   *dsl.Plan
	tenant *dsl.Tenant
}

// operatorTarget loads the configuration and finds the tenant in the first
// argument; usage is the command's synopsis for a wrong number of
// arguments. It opens no store, so bad arguments fail before the store's lock
// is taken.
func operatorTarget(c *cli.Context, usage string, minArgs, maxArgs int) (target, error) {
	tg := target{cmdArgs: argsOf(c)}
	if n := len(tg.args); n < minArgs || (maxArgs >= 0 && n > maxArgs) {
		return tg, &exitError{code: 1, msg: "usage: siphon " + usage + " (the configuration directory goes in --config)"}
	}
	tg, err := loadTarget(tg.cmdArgs)
	if err != nil || tg.tenant != nil {
		return tg, err
	}
	ids := make([]string, len(tg.plan.Tenants))
	for i, t := range tg.plan.Tenants {
		ids[i] = t.ID
	}
	return tg, &exitError{code: 1, msg: fmt.Sprintf("no tenant %q in %s%s", tg.args[0], tg.config, closeNames("tenants", tg.args[0], ids))}
}

// loadTarget loads the configuration in a.config (made absolute) and finds
// the tenant named by the first argument; tg.tenant is nil when the
// configuration has no such tenant.
func loadTarget(a cmdArgs) (target, error) {
	tg := target{cmdArgs: a}
	var err error
	if tg.config, tg.plan, err = loadConfig(tg.config); err != nil {
		return tg, err
	}
	for _, t := range tg.plan.Tenants {
		if t.ID == tg.args[0] {
			tg.tenant = t
			break
		}
	}
	return tg, nil
}

// activePipeline checks that the tenant runs the named pipeline: a
// checkpoint of any other name is one the runtime never reads.
func (tg target) activePipeline(name string) error {
	for _, p := range tg.tenant.Active {
		if p == name {
			return nil
		}
	}
	return &exitError{code: 1, msg: fmt.Sprintf("pipeline %q is not active for tenant %s%s", name, tg.tenant.ID, closeNames("active pipelines", name, tg.tenant.Active))}
}

// open opens the store the tenant's state lives in: its region's own
// store, else the hub store.
func (tg target) open(c *cli.Context) (state.Store, error) {
	u, err := tenantStoreURL(tg.store, tg.plan, tg.tenant, tg.config)
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	return openStoreURL(c, u, false)
}

// tenantStores opens, once each, the stores a command over many tenants
// reads: each tenant's region store or the hub store.
type tenantStores struct {
	c    *cli.Context
	flag string // --store or SIPHON_STORE
	plan *dsl.Plan
	dir  string
	open map[string]state.Store
}

func newTenantStores(c *cli.Context, flag string, plan *dsl.Plan, dir string) *tenantStores {
	return &tenantStores{c: c, flag: flag, plan: plan, dir: dir, open: map[string]state.Store{}}
}

// of is the store of the tenant's state.
func (s *tenantStores) of(t *dsl.Tenant) (state.Store, error) {
	u, err := tenantStoreURL(s.flag, s.plan, t, s.dir)
	if err != nil {
		return nil, &exitError{code: 1, msg: err.Error()}
	}
	if st, ok := s.open[u]; ok {
		return st, nil
	}
	st, err := openStoreURL(s.c, u, false)
	if err != nil {
		return nil, err
	}
	s.open[u] = st
	return st, nil
}

func (s *tenantStores) Close() {
	for _, st := range s.open {
		st.Close()
	}
}

// closeNames is the tail of an unknown-name error: the candidates within
// two edits of (or containing) the given name, else all of them when there
// are few enough to read.
func closeNames(what, given string, candidates []string) string {
	var near []string
	for _, c := range candidates {
		if levenshtein.Distance(given, c, nil) < 3 || (given != "" && (strings.Contains(c, given) || strings.Contains(given, c))) {
			near = append(near, c)
		}
	}
	sort.Strings(near)
	switch {
	case len(near) > 0:
		return "; did you mean " + strings.Join(quoteAll(near), " or ") + "?"
	case len(candidates) == 0:
		return " (it has no " + what + ")"
	case len(candidates) <= 10:
		all := append([]string(nil), candidates...)
		sort.Strings(all)
		return " (" + what + ": " + strings.Join(all, ", ") + ")"
	}
	return ""
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// printJSON writes v indented, as status --json does.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// operatorFlags are the flags of the operator commands: where the
// configuration and the store are, then the command's own.
func operatorFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{configFlag(), storeFlag(), unsafeStoreFlag()}, extra...)
}

// unsafeStoreFlag lets a command open a Redis that the backend refuses
// because it can lose acknowledged writes (no appendonly, an evicting
// memory policy, or a CONFIG it cannot read): every command that opens
// the store has it, since the refusal tells the user to pass it.
func unsafeStoreFlag() cli.Flag {
	return &cli.BoolFlag{Name: "unsafe-store", EnvVars: []string{"SIPHON_UNSAFE_STORE"},
		Usage: "open a Redis store that lacks appendonly yes or maxmemory-policy noeviction (it can lose records and checkpoints: for tests and demos)"}
}

// storeOptions are the options the store opens with. --unsafe-store is
// announced on stderr each time it is used, so a hub running without the
// durability checks says so in its own output.
func storeOptions(c *cli.Context) state.Options {
	if !c.Bool("unsafe-store") {
		return state.Options{}
	}
	fmt.Fprintln(c.App.ErrWriter, "siphon: warning: --unsafe-store: the store's durability checks are off; "+
		"a Redis without appendonly or with an evicting memory policy can lose records and checkpoints")
	return state.Options{Unsafe: true}
}
