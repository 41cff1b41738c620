package dsl

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// minCadence is the fastest a resource may be polled; faster polling
// costs budget without making data meaningfully fresher.
const minCadence = 30 * time.Second

// labelPattern is what a block label must match: labels go into store keys
// and Redis hash tags.
var labelPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// decoder holds what every block decoder needs: the evaluation context
// (var, local and the functions) and the names expressions may refer to.
type decoder struct {
	ctx  *hcl.EvalContext
	mode Mode
	cfg  *config
	// locations caches time zones by name.
	locations map[string]*time.Location
	// warnedEnv holds the environment variables already warned about.
	warnedEnv map[string]bool
	// files are the parsed files, for the source text of expressions.
	files map[string]*hcl.File
}

// text returns the source text of a range, as written.
func (d *decoder) text(rng hcl.Range) string { return sourceText(d.files, rng) }

// sourceText returns the text of a range of one of files, or "" when the
// range is not in them.
func sourceText(files map[string]*hcl.File, rng hcl.Range) string {
	f, ok := files[rng.Filename]
	if !ok || rng.End.Byte > len(f.Bytes) || rng.Start.Byte > rng.End.Byte {
		return ""
	}
	return string(rng.SliceBytes(f.Bytes))
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	r := rng
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &r}
}

// errorIn reports a problem with an attribute's value: the value is the
// subject, the whole `name = value` line its context.
func errorIn(attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	d := errorAt(attr.Expr.Range(), summary, detail)
	if attr.Range != (hcl.Range{}) {
		ctx := attr.Range
		d.Context = &ctx
	}
	return d
}

func warningAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	r := rng
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: &r}
}

// checkLabel reports a block label that cannot be used as a name.
func checkLabel(block *hcl.Block) hcl.Diagnostics {
	if len(block.Labels) == 0 {
		return nil
	}
	name := block.Labels[0]
	if labelPattern.MatchString(name) {
		return nil
	}
	fix := strings.ToLower(name)
	fix = regexp.MustCompile(`[^a-z0-9_-]+`).ReplaceAllString(fix, "_")
	hint := ""
	if labelPattern.MatchString(fix) {
		hint = fmt.Sprintf(" Write %q instead.", fix)
	}
	return hcl.Diagnostics{errorAt(block.LabelRanges[0], "Invalid "+block.Type+" name",
		fmt.Sprintf("The name %q must start with a lowercase letter and hold only lowercase letters, digits, \"_\" and \"-\" (at most 63 characters): names go into store keys.%s", name, hint))}
}

// eval evaluates a plain value expression: it may use var, local and the
// functions, nothing else.
func (d *decoder) eval(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	// Most attributes are literals; a hub of thousands of tenants is
	// thousands of them, so they skip the general evaluation.
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return e.Val, nil
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			if lit, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
				return lit.Val, nil
			}
		}
	}
	diags := d.checkRefs(expr)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	v, moreDiags := expr.Value(d.ctx)
	diags = append(diags, moreDiags...)
	if moreDiags.HasErrors() {
		return cty.DynamicVal, diags
	}
	return v, diags
}

// structural evaluates an attribute whose value decides the plan's shape:
// it must be known at plan time and not null.
func (d *decoder) structural(attr *hcl.Attribute, ty cty.Type, example string) (cty.Value, hcl.Diagnostics) {
	v, diags := d.eval(attr.Expr)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return cty.NilVal, append(diags, errorIn(attr, "Value unknown at plan time",
			fmt.Sprintf("%s decides how the plan is built, so it must be known when planning; it depends on a value known only at run time (an unset environment variable?). Set it, or give env() a default, like env(\"X\", %s).", attr.Name, example)))
	}
	if v.IsNull() {
		return cty.NilVal, append(diags, errorIn(attr, "Missing value for "+attr.Name,
			fmt.Sprintf("%s is null; write a value like %s, or leave the argument out for its default.", attr.Name, example)))
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, append(diags, errorIn(attr, "Incorrect value type for "+attr.Name,
			fmt.Sprintf("%s must be a %s, like %s; this is a %s.", attr.Name, ty.FriendlyName(), example, v.Type().FriendlyName())))
	}
	return cv, diags
}

// str reads a string attribute that must be known at plan time.
func (d *decoder) str(attr *hcl.Attribute, example string) (string, hcl.Diagnostics) {
	v, diags := d.structural(attr, cty.String, example)
	if diags.HasErrors() {
		return "", diags
	}
	return v.AsString(), diags
}

// value reads a string attribute that may be unknown or secret at plan time.
func (d *decoder) value(attr *hcl.Attribute) (Value, hcl.Diagnostics) {
	v, diags := d.eval(attr.Expr)
	if diags.HasErrors() {
		return Value{}, diags
	}
	if v.IsNull() {
		return Value{Known: true}, diags
	}
	cv, err := convert.Convert(v, cty.String)
	if err != nil {
		return Value{}, append(diags, errorIn(attr, "Incorrect value type for "+attr.Name,
			fmt.Sprintf("%s must be a string; this is a %s.", attr.Name, v.Type().FriendlyName())))
	}
	return toValue(cv), append(diags, d.warnUnknown(v, attr.Expr.Range())...)
}

// warnUnknown warns, once per environment variable, that a value will be
// known only at run time: plan shows it as "(from env X)", and run fails
// if X is still unset then.
func (d *decoder) warnUnknown(v cty.Value, rng hcl.Range) hcl.Diagnostics {
	if v.IsWhollyKnown() {
		return nil
	}
	name := envName(v)
	if d.warnedEnv[name] {
		return nil
	}
	d.warnedEnv[name] = true
	detail := "This value depends on something known only at run time; plan shows it as unknown."
	if name != "" {
		detail = fmt.Sprintf("The environment variable %s is not set, so plan shows this value as (from env %s). run will fail unless it is set then; give env() a default if it may stay unset.", name, name)
	}
	return hcl.Diagnostics{warningAt(rng, "Value known only at run time", detail)}
}

func (d *decoder) boolean(attr *hcl.Attribute) (bool, hcl.Diagnostics) {
	v, diags := d.structural(attr, cty.Bool, "true")
	if diags.HasErrors() {
		return false, diags
	}
	return v.True(), diags
}

// integer reads a whole number in [lo, hi].
func (d *decoder) integer(attr *hcl.Attribute, lo, hi int) (int, hcl.Diagnostics) {
	v, diags := d.structural(attr, cty.Number, strconv.Itoa(lo))
	if diags.HasErrors() {
		return 0, diags
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < int64(lo) || n > int64(hi) {
		return 0, append(diags, errorIn(attr, "Invalid value for "+attr.Name,
			fmt.Sprintf("%s must be a whole number from %d to %d; got %s.", attr.Name, lo, hi, bf.Text('g', 10))))
	}
	return int(n), diags
}

// duration reads a duration of at least min.
func (d *decoder) duration(attr *hcl.Attribute, min time.Duration) (time.Duration, hcl.Diagnostics) {
	s, diags := d.str(attr, `"30s"`)
	if diags.HasErrors() {
		return 0, diags
	}
	dur, err := ParseDuration(s)
	if err != nil {
		return 0, append(diags, errorIn(attr, "Invalid duration for "+attr.Name, err.Error()+"."))
	}
	if dur < min {
		if attr.Name == "cadence" {
			return 0, append(diags, errorIn(attr, "Cadence too short",
				fmt.Sprintf("A cadence of %s is shorter than the minimum of %s; write \"30s\" or longer.", FormatDuration(dur), FormatDuration(min))))
		}
		return 0, append(diags, errorIn(attr, "Invalid duration for "+attr.Name,
			fmt.Sprintf("%s must be at least %s; got %q.", attr.Name, FormatDuration(max(min, 1)), s)))
	}
	return dur, diags
}

func (d *decoder) rate(attr *hcl.Attribute) (Rate, hcl.Diagnostics) {
	return parsedStr(d, attr, `"60/1m"`, "rate", ParseRate)
}

func (d *decoder) clock(attr *hcl.Attribute) (Clock, hcl.Diagnostics) {
	return parsedStr(d, attr, `"03:00"`, "time", ParseClock)
}

func (d *decoder) weekly(attr *hcl.Attribute) (Weekly, hcl.Diagnostics) {
	return parsedStr(d, attr, `"sun 04:00"`, "weekly time", ParseWeekly)
}

// parsedStr reads a string attribute (example shows one in the type error)
// and parses it, reporting a parse error as "Invalid <what> for <name>".
func parsedStr[T any](d *decoder, attr *hcl.Attribute, example, what string, parse func(string) (T, error)) (T, hcl.Diagnostics) {
	var zero T
	s, diags := d.str(attr, example)
	if diags.HasErrors() {
		return zero, diags
	}
	v, err := parse(s)
	if err != nil {
		return zero, append(diags, errorIn(attr, "Invalid "+what+" for "+attr.Name, err.Error()+"."))
	}
	return v, diags
}

// percent reads "N%" with 0 ≤ N ≤ 100 as a fraction.
func (d *decoder) percent(attr *hcl.Attribute) (float64, hcl.Diagnostics) {
	s, diags := d.str(attr, `"10%"`)
	if diags.HasErrors() {
		return 0, diags
	}
	f, ok := parsePercent(s)
	if !ok {
		return 0, append(diags, errorIn(attr, "Invalid percentage for "+attr.Name,
			fmt.Sprintf("%q is not a percentage; write a number from 0 to 100 followed by %%, like \"10%%\".", s)))
	}
	return f, diags
}

// parsePercent reads "N%" (0 ≤ N ≤ 100, decimals allowed) as N/100.
func parsePercent(s string) (float64, bool) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || f < 0 || f > 100 {
		return 0, false
	}
	return f / 100, true
}

// oneOf reads a string that must be one of the allowed words.
func (d *decoder) oneOf(attr *hcl.Attribute, allowed ...string) (string, hcl.Diagnostics) {
	s, diags := d.str(attr, strconv.Quote(allowed[0]))
	if diags.HasErrors() {
		return "", diags
	}
	for _, a := range allowed {
		if s == a {
			return s, diags
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	return "", append(diags, errorIn(attr, "Invalid value for "+attr.Name,
		fmt.Sprintf("%s must be one of %s; got %q.%s", attr.Name, strings.Join(quoted, ", "), s, didYouMean(s, allowed))))
}

// reference reads `kind.name`, a reference to another block.
func reference(attr *hcl.Attribute, kind string) (ref, hcl.Diagnostics) {
	return referenceExpr(attr.Expr, attr.Name, kind)
}

func referenceExpr(expr hcl.Expression, attrName, kind string) (ref, hcl.Diagnostics) {
	bad := func(detail string) hcl.Diagnostics {
		if detail == "" {
			detail = fmt.Sprintf("%s takes a reference to a %s block, like %s.example (no quotes).", attrName, kind, kind)
		}
		return hcl.Diagnostics{errorAt(expr.Range(), "Invalid reference in "+attrName, detail)}
	}
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() {
		if tmpl, ok := expr.(*hclsyntax.TemplateExpr); ok && tmpl.IsStringLiteral() {
			v, _ := tmpl.Value(nil)
			return ref{}, bad(fmt.Sprintf("%s takes a reference, not a string: write %s.%s without quotes.", attrName, kind, v.AsString()))
		}
		return ref{}, bad("")
	}
	if tr.RootName() != kind || len(tr) != 2 {
		return ref{}, bad("")
	}
	step, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return ref{}, bad("")
	}
	return ref{Name: step.Name, Range: tr.SourceRange()}, nil
}

// stringMapItem is one `key = value` of an object constructor, its key
// already read.
type stringMapItem struct {
	Key      string
	KeyRange hcl.Range
	Value    hcl.Expression
}

// objectItems reads an object constructor `{ k = v, … }` in declaration
// order; keys are bare names or literal strings.
func objectItems(attr *hcl.Attribute) ([]stringMapItem, hcl.Diagnostics) {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{errorIn(attr, "Invalid value for "+attr.Name,
			fmt.Sprintf("%s must be written out here as an object, like { name = … }: each entry is read as written, so a variable or function call cannot supply it.", attr.Name))}
	}
	items := make([]stringMapItem, 0, len(pairs))
	seen := map[string]hcl.Range{}
	for _, p := range pairs {
		k, kd := p.Key.Value(nil)
		if kd.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			diags = append(diags, errorAt(p.Key.Range(), "Invalid key in "+attr.Name,
				"Keys must be names or literal strings."))
			continue
		}
		key := k.AsString()
		if prev, dup := seen[key]; dup {
			diags = append(diags, errorAt(p.Key.Range(), "Duplicate key in "+attr.Name,
				fmt.Sprintf("%q is already set at %s.", key, prev)))
			continue
		}
		seen[key] = p.Key.Range()
		items = append(items, stringMapItem{Key: key, KeyRange: p.Key.Range(), Value: p.Value})
	}
	return items, diags
}
