package dsl

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Transform is a pipeline's compiled filter and field mapping: the value
// the runtime calls for every record, without knowing about HCL. It is
// built once by compileTransform and is safe for concurrent use.
//
// Evaluation is on the sync hot path, so a Transform does as little cty
// work as it can: plain references (record.email, record.address.city,
// tenant.id), constants and the common string shapes (lower(x),
// "${a} ${b}", coalesce(x, ""), x != "LITERAL") are computed in Go from
// the decoded record (see transform_fast.go); only the record attributes
// the remaining expressions read are converted to cty values, once per
// record.
//
// A plain reference through an absent or null object (record.address.city
// for a record without an address) reads as null. An expression HCL
// evaluates sees the same, unless it, or another evaluated expression of
// the pipeline, also uses that object whole (jsonencode(record.address)):
// HCL then reports the null object, and try(record.address.city, null)
// is the way to write it.
type Transform struct {
	pipeline string
	fields   []compiledField
	names    []string
	// filter is nil when the pipeline has none; fastFilter computes the
	// common shapes of it in Go.
	filter     hcl.Expression
	fastFilter fastCond
	reverse    []compiledField
	// implicit are the fields that are plain top-level references; a
	// destination-owned one is written back to the field it reads.
	implicit []writeBack
	// reads is what the evaluated (non-plain) expressions read of the
	// record; nil when none reads it. rowReads is the same for reverse.
	reads    *readShape
	rowReads *readShape
	schema   map[string]string
	vars     cty.Value
	locals   cty.Value
	funcs    map[string]function.Function
	contexts sync.Pool
}

// compiledField is one output of a mapping.
type compiledField struct {
	name string
	// fast computes the field in Go when its expression has one of the
	// common shapes; nil otherwise.
	fast fastExpr
	// expr is evaluated by HCL when fast is nil or declines the record;
	// nil for a plain reference, whose fast form never declines.
	expr hcl.Expression
}

// writeBack pairs a mapped field with the source field it reads plainly.
type writeBack struct {
	field  string
	source string
}

// KeyFunc computes a child resource's parent ids from a parent record
// (a resource's parent_key). It is safe for concurrent use.
type KeyFunc struct {
	// path is set for a plain reference; expr is evaluated otherwise.
	path  []string
	expr  hcl.Expression
	reads *readShape
	funcs map[string]function.Function
}

// Fields returns the names of the mapped fields in declaration order.
func (t *Transform) Fields() []string { return append([]string(nil), t.names...) }

// Apply filters and maps one source record for one tenant.
//
// rec is a record as encoding/json decodes it (float64 or json.Number
// numbers, string, bool, nil, []any, map[string]any); a field absent from
// it reads as null. tenant may be nil, in which case expressions see a
// tenant whose id is "".
//
// keep is false when the pipeline's filter dropped the record; the runtime
// turns that into a versioned delete. err means this record could not be
// mapped (it belongs in the dead-letter queue); it names the pipeline and
// the field or filter that failed. Apply never panics on any input.
//
// row holds nil, bool, int64 (whole numbers), float64, string, []any and
// map[string]any values, as sdk.Record.Fields does. Apply does not modify
// rec, but row may share nested maps and slices with it: treat both as
// read-only afterwards.
func (t *Transform) Apply(rec map[string]any, tenant *Tenant) (row map[string]any, keep bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			row, keep, err = nil, false, fmt.Errorf("pipeline %s: internal error mapping the record: %v", t.pipeline, p)
		}
	}()
	st := applyState{t: t, rec: rec, reads: t.reads, root: "record", tenant: tenant}
	defer st.release()
	if t.filter != nil {
		keep, err := t.keep(&st)
		if err != nil {
			return nil, false, t.failure("filter", err)
		}
		if !keep {
			return nil, false, nil
		}
	}
	row = make(map[string]any, len(t.fields))
	for i := range t.fields {
		f := &t.fields[i]
		v, err := f.value(&st)
		if err != nil {
			return nil, false, t.failure("field "+f.name, err)
		}
		row[f.name] = v
	}
	return row, true, nil
}

// recordError is a record the expressions cannot read at all (it holds a
// value no JSON decoder makes): it fails the record, not one field.
type recordError struct{ err error }

func (e recordError) Error() string { return e.err.Error() }

func (e recordError) Unwrap() error { return e.err }

// failure names the pipeline and what failed — "field email", "filter" —
// in a record's error, or only the record's bad value for a recordError.
func (t *Transform) failure(what string, err error) error {
	var re recordError
	if errors.As(err, &re) {
		return fmt.Errorf("pipeline %s: %w", t.pipeline, re.err)
	}
	return fmt.Errorf("pipeline %s %s: %w", t.pipeline, what, err)
}

// keep evaluates the filter. A null or non-boolean result is an error
// rather than a drop: a drop deletes the record at the destination, and
// that must never happen by accident.
func (t *Transform) keep(st *applyState) (bool, error) {
	if t.fastFilter != nil {
		if keep, ok := t.fastFilter.keep(st.rec); ok {
			return keep, nil
		}
	}
	ctx, err := st.context()
	if err != nil {
		return false, err
	}
	v, diags := t.filter.Value(ctx)
	if diags.HasErrors() {
		return false, diagError(diags)
	}
	if v.ContainsMarked() {
		v, _ = v.UnmarkDeep()
	}
	switch {
	case !v.IsKnown():
		return false, errUnknownResult
	case v.IsNull():
		return false, fmt.Errorf("the filter is null for this record; make it always true or false, for example with coalesce(record.active, false)")
	case v.Type() != cty.Bool:
		return false, fmt.Errorf("the filter must be true or false, not %s", v.Type().FriendlyName())
	}
	return v.True(), nil
}

// Reverse computes, from a destination row, the source fields a
// bidirectional pipeline writes back: every `reverse` entry, and for each
// mapped field that is a plain top-level reference (phone = record.phone)
// without a reverse entry, the source field it reads. The runtime writes
// back only the ones the pipeline's authority gives to the destination
// (see WriteBackSource). A field absent from row reads as null.
func (t *Transform) Reverse(row map[string]any, tenant *Tenant) (out map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("pipeline %s reverse: internal error: %v", t.pipeline, p)
		}
	}()
	out = make(map[string]any, len(t.reverse)+len(t.implicit))
	for _, w := range t.implicit {
		v, err := normalizeValue(row[w.field])
		if err != nil {
			return nil, fmt.Errorf("pipeline %s reverse %s: %w", t.pipeline, w.source, err)
		}
		out[w.source] = v
	}
	if len(t.reverse) == 0 {
		return out, nil
	}
	st := applyState{t: t, rec: row, reads: t.rowReads, root: "row", tenant: tenant}
	defer st.release()
	for i := range t.reverse {
		f := &t.reverse[i]
		v, err := f.value(&st)
		if err != nil {
			return nil, t.failure("reverse "+f.name, err)
		}
		out[f.name] = v
	}
	return out, nil
}

// WriteBackSource returns the source field a mapped field is written back
// to when the destination owns it: the target of its reverse entry, else
// the field its mapping reads plainly. ok is false for a transformed field
// without a reverse entry.
func (t *Transform) WriteBackSource(field string) (source string, ok bool) {
	for _, w := range t.implicit {
		if w.field == field {
			return w.source, true
		}
	}
	return "", false
}

// value computes one field: in Go when it has a fast form that accepts
// the record, by HCL otherwise.
func (f *compiledField) value(st *applyState) (any, error) {
	if f.fast != nil {
		if v, ok, err := f.fast.eval(st.rec, st.tenant); ok {
			return v, err
		}
	}
	ctx, err := st.context()
	if err != nil {
		return nil, err
	}
	v, diags := f.expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	return fromCty(v)
}

// applyState is one record's evaluation. The HCL context, and the cty
// form of what the expressions read, are built only when an expression
// needs HCL, and at most once per record.
type applyState struct {
	t      *Transform
	rec    map[string]any
	reads  *readShape
	root   string
	tenant *Tenant
	ctx    *hcl.EvalContext
}

// context returns the record's HCL evaluation context.
func (st *applyState) context() (*hcl.EvalContext, error) {
	if st.ctx != nil {
		return st.ctx, nil
	}
	ctx, _ := st.t.contexts.Get().(*hcl.EvalContext)
	if ctx == nil {
		ctx = &hcl.EvalContext{Variables: make(map[string]cty.Value, 4), Functions: st.t.funcs}
	}
	st.ctx = ctx
	vars := ctx.Variables
	vars["var"] = st.t.vars
	vars["local"] = st.t.locals
	vars["tenant"] = tenantValue(st.tenant)
	if st.reads != nil {
		obj, err := recordObject(st.rec, st.reads, st.t.schemaFor(st.root))
		if err != nil {
			return nil, recordError{err: fmt.Errorf("%s%w", st.root, err)}
		}
		vars[st.root] = obj
	}
	return ctx, nil
}

// release returns the context to the pool, holding no record.
func (st *applyState) release() {
	if st.ctx != nil {
		clear(st.ctx.Variables)
		st.t.contexts.Put(st.ctx)
		st.ctx = nil
	}
}

// schemaFor is the schema of what root names: the record's, or none for
// the destination row.
func (t *Transform) schemaFor(root string) map[string]string {
	if root == "record" {
		return t.schema
	}
	return nil
}

// diagError turns evaluation diagnostics into one error message:
// "Summary: Detail" of each error.
func diagError(diags hcl.Diagnostics) error {
	var msg string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		if msg != "" {
			msg += "; "
		}
		msg += d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
	}
	return fmt.Errorf("%s", msg)
}
