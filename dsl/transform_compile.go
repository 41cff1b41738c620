package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// transformSpec is what the loader hands to compileTransform for one
// pipeline: its decoded expressions and what they may refer to.
type transformSpec struct {
	Pipeline string
	// Fields are the mapped fields in declaration order.
	Fields []fieldExpr
	// Filter is nil when the pipeline has none.
	Filter hcl.Expression
	// Reverse are the write-back expressions (reverse = { f = row.x }),
	// which see `row` instead of `record`.
	Reverse []fieldExpr
	// Schema maps record fields to "string", "number", "bool", "timestamp"
	// or "json"; nil when the resource is untyped.
	Schema map[string]string
	// Vars and Locals are the evaluated var and local objects.
	Vars, Locals cty.Value
	Funcs        map[string]function.Function
	// Tenant is the tenantScope of any one tenant (all tenants have the
	// same attributes): with it, tenant.x is checked and typed at plan
	// time. cty.NilVal leaves tenant references unchecked.
	Tenant cty.Value
}

// fieldExpr is one `name = expression` entry of fields or reverse.
type fieldExpr struct {
	Name  string
	Expr  hcl.Expression
	Range hcl.Range
	// Text is the expression's source text, shown by plan as the
	// MappedField's Expr; empty when the caller does not have it.
	Text string
}

// reservedFields are the bookkeeping columns every destination row has;
// names starting with "siphon_" are reserved as well.
var reservedFields = []string{"tenant", "key", "source_updated_at", "content_hash", "synced_at"}

// compileTransform checks a pipeline's mapping, filter and reverse and
// compiles them into a Transform. It returns the mapped fields (with the
// types inferred for EnsureObject) even when there are errors, so plan can
// show as much as it knows; the Transform is nil when there are errors.
//
// Checks, each a diagnostic at the expression: references to anything but
// record, tenant, var and local (row instead of record in reverse),
// undeclared var and local names, record fields missing from a known
// schema and row fields the mapping does not produce (with "did you
// mean"), reserved or repeated output names, type errors found by
// evaluating each expression over unknown values of the schema's types, a
// filter that is not a boolean, a comparison of a typed field with a
// literal of another type (always false), and a warning for each template that
// interpolates a record field directly (any field may be null, and a null
// fails the record).
func compileTransform(spec transformSpec) (*Transform, []MappedField, hcl.Diagnostics) {
	t := &Transform{
		pipeline: spec.Pipeline,
		schema:   spec.Schema,
		vars:     objectOrEmpty(spec.Vars),
		locals:   objectOrEmpty(spec.Locals),
		funcs:    spec.Funcs,
	}
	var diags hcl.Diagnostics
	mapping := refScope{root: "record", other: "row", fields: spec.Schema, vars: t.vars, locals: t.locals, tenant: spec.Tenant}
	infer := t.inferContext("record", unknownObject(spec.Schema), spec.Tenant)
	reads := &readShape{}
	mapped := make([]MappedField, 0, len(spec.Fields))
	seen := make(map[string]bool, len(spec.Fields))
	for _, f := range spec.Fields {
		diags = append(diags, checkOutputName(f, seen)...)
		cf, typ, fieldDiags := t.compileField(f, mapping, infer, reads)
		diags = append(diags, fieldDiags...)
		t.fields = append(t.fields, cf)
		t.names = append(t.names, f.Name)
		mapped = append(mapped, MappedField{Name: f.Name, Type: typ, Expr: f.Text, Range: f.Range})
	}
	if spec.Filter != nil {
		t.filter = spec.Filter
		t.fastFilter = fastFilterFor(spec.Filter, spec.Funcs)
		collectReads(reads, spec.Filter, "record")
		refDiags := mapping.check(spec.Filter)
		diags = append(diags, refDiags...)
		if !refDiags.HasErrors() {
			diags = append(diags, checkFilterType(spec.Filter, infer)...)
		}
		diags = append(diags, nullableTemplates(spec.Filter)...)
		diags = append(diags, mismatchedComparisons(spec.Filter, spec.Schema)...)
	}
	if reads.whole || len(reads.attrs) > 0 {
		t.reads = reads
	}
	for i := range t.fields {
		if j, ok := t.fields[i].fast.(jsonencodeExpr); ok && reads.readsInside(j.path) {
			t.fields[i].fast = nil
		}
	}
	diags = append(diags, t.compileReverse(spec, mapped)...)
	if diags.HasErrors() {
		return nil, mapped, diags
	}
	return t, mapped, diags
}

// compileField checks one mapped field, infers its type and picks how it
// is computed; what its evaluated expression reads is added to reads.
func (t *Transform) compileField(f fieldExpr, scope refScope, infer *hcl.EvalContext, reads *readShape) (compiledField, string, hcl.Diagnostics) {
	diags := scope.check(f.Expr)
	refErrors := diags.HasErrors()
	diags = append(diags, nullableTemplates(f.Expr)...)
	diags = append(diags, mismatchedComparisons(f.Expr, t.schema)...)
	cf := compiledField{name: f.Name, fast: fastFor(f.Expr, "record", t.funcs)}
	if path := plainPath(f.Expr, "record"); path != nil {
		typ := "json"
		if len(path) == 1 {
			t.implicit = append(t.implicit, writeBack{field: f.Name, source: path[0]})
			if st, ok := t.schema[path[0]]; ok {
				typ = st
			}
		}
		return cf, typ, diags
	}
	cf.expr = f.Expr
	collectReads(reads, f.Expr, "record")
	if refErrors {
		return cf, "json", diags
	}
	v, typ, inferDiags := inferType(f.Expr, infer)
	diags = append(diags, inferDiags...)
	if c, ok := constantField(f.Expr, v); ok && !inferDiags.HasErrors() {
		cf.fast = c
	}
	if isSensitive(v) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Secret written to the destination",
			Detail: fmt.Sprintf("The field %q is computed from a secret (an env() value or a sensitive variable), and the destination will store it in clear. If it should, write nonsensitive(...) around the expression; otherwise leave the secret out of the mapping.",
				f.Name),
			Subject: f.Range.Ptr(),
		})
	}
	return cf, typ, diags
}

// compileReverse checks and compiles the reverse entries, which read the
// destination row (the mapped fields) and name source fields.
func (t *Transform) compileReverse(spec transformSpec, mapped []MappedField) hcl.Diagnostics {
	if len(spec.Reverse) == 0 {
		return nil
	}
	var diags hcl.Diagnostics
	rowTypes := make(map[string]string, len(mapped))
	for _, m := range mapped {
		rowTypes[m.Name] = m.Type
	}
	scope := refScope{root: "row", other: "record", fields: rowTypes, vars: t.vars, locals: t.locals, tenant: spec.Tenant}
	infer := t.inferContext("row", unknownObject(rowTypes), spec.Tenant)
	reads := &readShape{}
	seen := make(map[string]bool, len(spec.Reverse))
	explicit := make(map[string]bool, len(spec.Reverse))
	for _, f := range spec.Reverse {
		if seen[f.Name] {
			diags = append(diags, errorDiag(f.Range, "Duplicate reverse field",
				fmt.Sprintf("The source field %q is written back twice; keep one entry.", f.Name)))
		}
		seen[f.Name] = true
		explicit[f.Name] = true
		if spec.Schema != nil {
			if _, ok := spec.Schema[f.Name]; !ok {
				diags = append(diags, errorDiag(f.Range, "Unknown source field",
					fmt.Sprintf("reverse writes back to source fields, and the record's schema has no field %q.%s",
						f.Name, nameSuggestion(f.Name, sortedNames(spec.Schema)))))
			}
		}
		refDiags := scope.check(f.Expr)
		diags = append(diags, refDiags...)
		cf := compiledField{name: f.Name, fast: fastFor(f.Expr, "row", spec.Funcs)}
		if plainPath(f.Expr, "row") == nil {
			cf.expr = f.Expr
			collectReads(reads, f.Expr, "row")
			if !refDiags.HasErrors() {
				_, _, inferDiags := inferType(f.Expr, infer)
				diags = append(diags, inferDiags...)
			}
		}
		t.reverse = append(t.reverse, cf)
	}
	if reads.whole || len(reads.attrs) > 0 {
		t.rowReads = reads
	}
	// A field written back explicitly is not also written back plainly.
	implicit := t.implicit[:0:0]
	for _, w := range t.implicit {
		if !explicit[w.source] {
			implicit = append(implicit, w)
		}
	}
	t.implicit = implicit
	return diags
}

// checkOutputName refuses reserved and repeated field names.
func checkOutputName(f fieldExpr, seen map[string]bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if seen[f.Name] {
		diags = append(diags, errorDiag(f.Range, "Duplicate field",
			fmt.Sprintf("The field %q is mapped twice; keep one entry.", f.Name)))
	}
	seen[f.Name] = true
	reserved := strings.HasPrefix(f.Name, "siphon_")
	for _, r := range reservedFields {
		reserved = reserved || f.Name == r
	}
	if reserved {
		diags = append(diags, errorDiag(f.Range, "Reserved field name",
			fmt.Sprintf("%q is reserved: every row already has the columns %s, and names starting with siphon_ are Siphon's. Rename the field, for example to %q.",
				f.Name, strings.Join(reservedFields, ", "), "source_"+strings.TrimPrefix(f.Name, "siphon_"))))
	}
	return diags
}

// plainPath returns the attribute path of an expression that is only a
// reference root.a.b… (or "${root.a.b}", which HCL yields unchanged), or
// nil for anything else. Such fields skip evaluation entirely.
func plainPath(expr hcl.Expression, root string) []string {
	if w, ok := expr.(*hclsyntax.TemplateWrapExpr); ok {
		expr = w.Wrapped
	}
	st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || st.Traversal.RootName() != root || len(st.Traversal) < 2 {
		return nil
	}
	path := make([]string, 0, len(st.Traversal)-1)
	for _, step := range st.Traversal[1:] {
		name, ok := stepName(step)
		if !ok {
			return nil
		}
		path = append(path, name)
	}
	return path
}

// stepName is the attribute a traversal step names: .x or ["x"].
func stepName(step hcl.Traverser) (string, bool) {
	switch s := step.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// collectReads adds what expr reads of root to shape: the attribute path
// of each traversal, its last step used whole.
func collectReads(shape *readShape, expr hcl.Expression, root string) {
	for _, tr := range expr.Variables() {
		if tr.RootName() != root {
			continue
		}
		var path []string
		for _, step := range tr[1:] {
			name, ok := stepName(step)
			if !ok {
				break
			}
			path = append(path, name)
		}
		shape.add(path, true)
	}
}

// nullableTemplates warns about each template part that interpolates a
// record field directly: a null field fails the whole record.
func nullableTemplates(expr hcl.Expression) hcl.Diagnostics {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		tmpl, ok := n.(*hclsyntax.TemplateExpr)
		if !ok {
			return nil
		}
		for _, part := range tmpl.Parts {
			st, ok := part.(*hclsyntax.ScopeTraversalExpr)
			if !ok || st.Traversal.RootName() != "record" {
				continue
			}
			ref := traversalString(st.Traversal)
			rng := st.Range()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Template over a field that may be null",
				Detail: fmt.Sprintf("%s may be null (an absent field reads as null), and a null in a template fails the record. Write ${coalesce(%s, \"\")} instead.",
					ref, ref),
				Subject: &rng,
			})
		}
		return nil
	})
	return diags
}

// traversalString prints a traversal's root and name steps: record.a.b.
func traversalString(tr hcl.Traversal) string {
	var b strings.Builder
	b.WriteString(tr.RootName())
	for _, step := range tr[1:] {
		name, ok := stepName(step)
		if !ok {
			break
		}
		if hclsyntax.ValidIdentifier(name) {
			b.WriteString("." + name)
		} else {
			fmt.Fprintf(&b, "[%q]", name)
		}
	}
	return b.String()
}

// errorDiag is an error diagnostic at rng.
func errorDiag(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// objectOrEmpty is v, or an empty object when the caller had none.
func objectOrEmpty(v cty.Value) cty.Value {
	if v.Type() == cty.NilType || (!v.IsMarked() && v.IsNull()) {
		return cty.EmptyObjectVal
	}
	return v
}
