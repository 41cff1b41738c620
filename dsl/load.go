package dsl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the binary embeds the IANA time zones tenants name

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Mode says what the configuration is loaded for. It decides how values
// that cannot be known yet are treated: `plan` may show them as unknown,
// `run` must have them.
type Mode int

const (
	// ModePlan loads for `siphon plan`: env() of an unset variable with no
	// default is unknown, reported as a warning.
	ModePlan Mode = iota
	// ModeRun loads for `siphon run`: every value must be known.
	ModeRun
)

// Options are the inputs to Load beyond the files themselves.
type Options struct {
	// Vars are -var name=value flags, raw text: a string variable takes the
	// text literally, other types parse it as an HCL expression.
	Vars map[string]string
	// VarFiles are -var-file paths, applied in order after *.auto.vars.hcl.
	VarFiles []string
	// Now fixes the clock (plan --now); zero means time.Now().
	Now time.Time
	// Mode decides how unknown values are reported.
	Mode Mode
	// LookupEnv reads the environment for env(); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile reads files for file() and -var-file; nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Result is what Load returns: the plan when the configuration is valid,
// every diagnostic, and the parsed files so a caller can render snippets.
type Result struct {
	// Plan is nil when Diagnostics has errors.
	Plan        *Plan
	Diagnostics hcl.Diagnostics
	Files       map[string]*hcl.File
}

// rootSchema lists the top-level blocks; each kind has its own decoder.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "siphon"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "source", LabelNames: []string{"name"}},
		{Type: "resource", LabelNames: []string{"name"}},
		{Type: "destination", LabelNames: []string{"name"}},
		{Type: "pipeline", LabelNames: []string{"name"}},
		{Type: "tenant", LabelNames: []string{"name"}},
		{Type: "lane", LabelNames: []string{"name"}},
		{Type: "flag", LabelNames: []string{"name"}},
		{Type: "region", LabelNames: []string{"name"}},
	},
}

// Load reads every *.hcl file of dir (not recursively; *.auto.vars.hcl are
// variable files and *.test.hcl mapping tests) and every *.hcl.json file
// (the same blocks in HCL's JSON form, for generated configuration), then
// decodes, validates and compiles them.
func Load(dir string, opts Options) *Result {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &Result{Diagnostics: hcl.Diagnostics{{Severity: hcl.DiagError,
			Summary: "Cannot read the configuration directory", Detail: err.Error()}}}
	}
	files := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".hcl") || strings.HasSuffix(e.Name(), ".hcl.json")) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read a configuration file", Detail: err.Error()})
			continue
		}
		files[name] = src
	}
	if diags.HasErrors() {
		return &Result{Diagnostics: diags}
	}
	res := load(dir, files, opts)
	res.Diagnostics = append(diags, res.Diagnostics...)
	return res
}

// LoadFiles is Load over files held in memory, keyed by name; the names
// decide which are config (*.hcl), variable files (*.auto.vars.hcl) or
// ignored (*.test.hcl, anything else), each also in JSON form (+ ".json"). Relative file() paths and -var-file
// paths are read through opts.ReadFile as given.
func LoadFiles(files map[string][]byte, opts Options) *Result {
	return load("", files, opts)
}

func load(dir string, files map[string][]byte, opts Options) *Result {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	res := &Result{Files: map[string]*hcl.File{}}
	var configNames, varNames []string
	for _, name := range sortedKeys(files) {
		base := strings.TrimSuffix(filepath.Base(name), ".json")
		switch {
		case strings.HasSuffix(base, ".test.hcl"):
		case strings.HasSuffix(base, ".auto.vars.hcl"):
			varNames = append(varNames, name)
		case strings.HasSuffix(base, ".hcl"):
			configNames = append(configNames, name)
		}
	}
	var diags hcl.Diagnostics
	if len(configNames) == 0 {
		where := "among the given files"
		if dir != "" {
			where = fmt.Sprintf("in %s", dir)
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No configuration files",
			Detail: fmt.Sprintf("There are no *.hcl files %s (other than *.auto.vars.hcl and *.test.hcl); point plan at the directory that holds your pipelines.", where)})
	}
	diags = append(diags, parseFiles(files, append(append([]string{}, configNames...), varNames...), res.Files)...)
	if diags.HasErrors() {
		res.Diagnostics = diags
		return res
	}

	var blocks hcl.Blocks
	for _, name := range configNames {
		content, cd := res.Files[name].Body.Content(rootSchema)
		diags = append(diags, cd...)
		blocks = append(blocks, content.Blocks...)
	}
	cfg, funcs, dd := decodeConfig(dir, blocks, res.Files, varNames, opts)
	diags = append(diags, dd...)
	if diags.HasErrors() {
		res.Diagnostics = diags
		return res
	}
	plan, cd := compile(cfg, funcs, opts)
	diags = append(diags, cd...)
	if !diags.HasErrors() {
		plan.ConfigHash = configHash(files, configNames, varNames, cfg.varValues)
		res.Plan = plan
	}
	sortDiagnostics(diags)
	res.Diagnostics = diags
	return res
}

// sortDiagnostics orders diagnostics by where they point (file, line,
// column), those without a source range first, so a user reads them top
// to bottom as in the files, whatever order the checks ran in.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	})
}

// parallelParseBytes is the configuration size above which files are
// parsed in parallel; below it, starting goroutines costs more than it saves.
const parallelParseBytes = 256 << 10

// parseFiles parses the named files into out, several at a time: a large
// hub's configuration is mostly tenant blocks spread over many files, and
// parsing is most of the cost of a plan.
func parseFiles(files map[string][]byte, names []string, out map[string]*hcl.File) hcl.Diagnostics {
	parsed := make([]*hcl.File, len(names))
	fileDiags := make([]hcl.Diagnostics, len(names))
	parse := func(i int) {
		if strings.HasSuffix(names[i], ".json") {
			parsed[i], fileDiags[i] = json.Parse(files[names[i]], names[i])
			return
		}
		parsed[i], fileDiags[i] = hclsyntax.ParseConfig(files[names[i]], names[i], hcl.InitialPos)
	}
	size := 0
	for _, name := range names {
		size += len(files[name])
	}
	if workers := min(runtime.GOMAXPROCS(0), len(names)); workers < 2 || size < parallelParseBytes {
		for i := range names {
			parse(i)
		}
	} else {
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					parse(i)
				}
			}()
		}
		for i := range names {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	var diags hcl.Diagnostics
	for i, name := range names {
		if parsed[i] != nil {
			out[name] = parsed[i]
		}
		diags = append(diags, fileDiags[i]...)
	}
	return diags
}

// decodeConfig decodes the blocks: variables and locals first (everything
// else may use them), then every other kind with its own decoder.
func decodeConfig(dir string, blocks hcl.Blocks, files map[string]*hcl.File, varNames []string, opts Options) (*config, map[string]function.Function, hcl.Diagnostics) {
	cfg := &config{
		dir: dir, files: files,
		variables: map[string]*variableBlock{}, locals: map[string]*localDecl{},
		sources: map[string]*sourceBlock{}, resources: map[string]*resourceBlock{},
		destinations: map[string]*destinationBlock{}, pipelines: map[string]*pipelineBlock{},
		tenants: map[string]*tenantBlock{}, lanes: map[string]*laneBlock{},
		flags: map[string]*flagBlock{}, regions: map[string]*regionBlock{},
	}
	var diags hcl.Diagnostics
	seen := map[string]map[string]hcl.Range{}
	unique := func(b *hcl.Block) bool {
		diags = append(diags, checkLabel(b)...)
		if seen[b.Type] == nil {
			seen[b.Type] = map[string]hcl.Range{}
		}
		name := b.Labels[0]
		if prev, dup := seen[b.Type][name]; dup {
			diags = append(diags, errorAt(b.LabelRanges[0], fmt.Sprintf("Duplicate %s %q", b.Type, name),
				fmt.Sprintf("A %s named %q is already declared at %s; names are unique within a block kind. Rename or remove one.", b.Type, name, prev)))
			return false
		}
		seen[b.Type][name] = b.DefRange
		return true
	}
	for _, b := range blocks {
		switch b.Type {
		case "variable":
			if unique(b) {
				v, vd := decodeVariableBlock(b)
				diags = append(diags, vd...)
				cfg.variables[v.Name] = v
			}
		case "locals":
			ls, ld := decodeLocalsBlock(b)
			diags = append(diags, ld...)
			for _, l := range ls {
				if prev, dup := cfg.locals[l.Name]; dup {
					diags = append(diags, errorAt(l.DeclRange, fmt.Sprintf("Duplicate local %q", l.Name),
						fmt.Sprintf("local.%s is already defined at %s. Rename or remove one.", l.Name, prev.DeclRange)))
					continue
				}
				cfg.locals[l.Name] = l
			}
		}
	}

	funcs := functionTable(opts.LookupEnv, opts.ReadFile, dir, opts.Mode)
	assigned := map[string]varAssignment{}
	for _, name := range varNames {
		diags = append(diags, assignVarFile(files[name], cfg.variables, assigned)...)
	}
	for _, path := range opts.VarFiles {
		src, err := opts.ReadFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read a -var-file", Detail: err.Error()})
			continue
		}
		f, pd := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		files[path] = f
		diags = append(diags, pd...)
		if !pd.HasErrors() {
			diags = append(diags, assignVarFile(f, cfg.variables, assigned)...)
		}
	}
	diags = append(diags, assignVarFlags(opts.Vars, cfg.variables, assigned)...)
	varObj, vd := finalVars(cfg.variables, assigned, funcs)
	diags = append(diags, vd...)
	cfg.varValues = varObj

	d := &decoder{
		ctx: &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": varObj, "local": cty.EmptyObjectVal},
			Functions: funcs,
		},
		mode: opts.Mode, cfg: cfg, locations: map[string]*time.Location{}, files: files,
		warnedEnv: map[string]bool{},
	}
	diags = append(diags, d.evalLocals()...)

	for _, b := range blocks {
		switch b.Type {
		case "variable", "locals":
			continue
		case "siphon":
			if cfg.siphon != nil {
				diags = append(diags, errorAt(b.DefRange, "Duplicate siphon block",
					fmt.Sprintf("The siphon block is already declared at %s; merge them.", cfg.siphon.DeclRange)))
				continue
			}
			s, sd := d.decodeSiphonBlock(b)
			diags = append(diags, sd...)
			cfg.siphon = s
			continue
		}
		if !unique(b) {
			continue
		}
		var bd hcl.Diagnostics
		switch b.Type {
		case "source":
			var v *sourceBlock
			v, bd = d.decodeSourceBlock(b)
			cfg.sources[v.Name] = v
		case "resource":
			var v *resourceBlock
			v, bd = d.decodeResourceBlock(b)
			cfg.resources[v.Name] = v
		case "destination":
			var v *destinationBlock
			v, bd = d.decodeDestinationBlock(b)
			cfg.destinations[v.Name] = v
		case "pipeline":
			var v *pipelineBlock
			v, bd = d.decodePipelineBlock(b)
			cfg.pipelines[v.Name] = v
		case "tenant":
			var v *tenantBlock
			v, bd = d.decodeTenantBlock(b)
			cfg.tenants[v.ID] = v
		case "lane":
			var v *laneBlock
			v, bd = d.decodeLaneBlock(b)
			cfg.lanes[v.Name] = v
		case "flag":
			var v *flagBlock
			v, bd = d.decodeFlagBlock(b)
			cfg.flags[v.Name] = v
		case "region":
			var v *regionBlock
			v, bd = d.decodeRegionBlock(b)
			cfg.regions[v.Name] = v
		}
		diags = append(diags, bd...)
	}
	return cfg, funcs, diags
}

// evalLocals evaluates the locals in dependency order into the context.
// Locals on a cycle (reported by localOrder) stay unknown, so that what
// uses them reports nothing further.
func (d *decoder) evalLocals() hcl.Diagnostics {
	order, onCycle, diags := localOrder(d.cfg.locals)
	values := map[string]cty.Value{}
	for _, l := range order {
		v := cty.DynamicVal
		if !onCycle[l.Name] {
			ev, ed := d.eval(l.Expr)
			diags = append(diags, ed...)
			if !ed.HasErrors() {
				v = ev
			}
		}
		values[l.Name] = v
		d.ctx.Variables["local"] = cty.ObjectVal(values)
	}
	d.cfg.localValues = d.ctx.Variables["local"]
	return diags
}

// configHash identifies a configuration: the config and variable files'
// names and contents, and the variable values they resolved to (so -var
// flags change it too). File names are hashed without their directory, so
// the same configuration hashes alike wherever it is checked out.
func configHash(files map[string][]byte, configNames, varNames []string, vars cty.Value) string {
	h := sha256.New()
	for _, name := range append(append([]string{}, configNames...), varNames...) {
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(name), len(files[name]))
		h.Write(files[name])
	}
	plain, _ := vars.UnmarkDeep()
	if plain.IsWhollyKnown() {
		if b, err := ctyjson.Marshal(plain, plain.Type()); err == nil {
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
