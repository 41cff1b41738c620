package dsl

import (
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var resourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source", Required: true}, {Name: "path", Required: true}, {Name: "primary_key"},
		{Name: "cadence"}, {Name: "parent"}, {Name: "parent_key"}, {Name: "version"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "cursor"}, {Type: "schema"}},
}

var cursorSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "field", Required: true}, {Name: "param", Required: true}, {Name: "overlap"}, {Name: "settle"},
	},
}

// schemaTypes are the field types a resource schema may declare.
var schemaTypes = []string{"string", "number", "bool", "timestamp", "json"}

// placeholderPattern finds the {name} placeholders of a resource path.
var placeholderPattern = regexp.MustCompile(`\{([^{}]*)\}`)

// decodeResourceBlock decodes a `resource` block: one API collection of a
// source, how it is read incrementally, and how often.
func (d *decoder) decodeResourceBlock(block *hcl.Block) (*resourceBlock, hcl.Diagnostics) {
	r := &resourceBlock{Name: block.Labels[0], PrimaryKey: []string{"id"}, PrimaryKeyRange: block.DefRange, Cadence: defaultCadence, DeclRange: block.DefRange}
	content, diags := block.Body.Content(resourceSchema)
	a := content.Attributes
	if attr, ok := a["source"]; ok {
		ref, rd := reference(attr, "source")
		diags = append(diags, rd...)
		r.Source = ref
	}
	if attr, ok := a["path"]; ok {
		p, pd := d.str(attr, `"/users"`)
		diags = append(diags, pd...)
		r.Path, r.PathRange = p, attr.Expr.Range()
		if !pd.HasErrors() && (len(p) == 0 || p[0] != '/') {
			diags = append(diags, errorIn(attr, "Invalid resource path",
				fmt.Sprintf("A path starts with \"/\", like \"/users\"; got %q.", p)))
		}
	}
	if attr, ok := a["primary_key"]; ok {
		diags = append(diags, d.decodePrimaryKey(attr, r)...)
		r.PrimaryKeyRange = attr.Expr.Range()
	}
	if attr, ok := a["cadence"]; ok {
		c, cd := d.duration(attr, minCadence)
		diags = append(diags, cd...)
		r.Cadence = c
	}
	if attr, ok := a["parent"]; ok {
		ref, rd := reference(attr, "resource")
		diags = append(diags, rd...)
		if !rd.HasErrors() {
			r.Parent = &ref
		}
	}
	if attr, ok := a["parent_key"]; ok {
		r.ParentKey = attr.Expr
		if _, hasParent := a["parent"]; !hasParent {
			diags = append(diags, errorAt(attr.NameRange, "parent_key without parent",
				"parent_key computes the parent ids from a parent record; set parent = resource.<name> too, or remove parent_key."))
		}
	}
	if attr, ok := a["version"]; ok {
		v, vd := d.str(attr, `"hash"`)
		diags = append(diags, vd...)
		if v == "hash" {
			r.VersionHash = true
		} else if !vd.HasErrors() {
			if !fieldPattern.MatchString(v) {
				diags = append(diags, errorIn(attr, "Invalid version",
					fmt.Sprintf("version is \"hash\" (the resource has no version field) or the name of the field that versions records, like \"updated_at\"; got %q.", v)))
			}
			r.VersionField = v
			rng := attr.Expr.Range()
			r.VersionRange = &rng
		}
	}
	diags = append(diags, onlyOne(content.Blocks, "cursor")...)
	diags = append(diags, onlyOne(content.Blocks, "schema")...)
	for _, b := range content.Blocks {
		switch b.Type {
		case "cursor":
			c, rng, cd := d.decodeCursor(b)
			diags = append(diags, cd...)
			r.Cursor, r.CursorRange = c, rng
		case "schema":
			diags = append(diags, d.decodeSchema(b, r)...)
		}
	}
	if r.VersionField == "" && !r.VersionHash {
		r.VersionField = "updated_at"
		if r.Cursor != nil && r.Cursor.Field != "" {
			r.VersionField = r.Cursor.Field
		}
	}
	diags = append(diags, r.checkPlaceholders()...)
	return r, diags
}

// defaultCadence is a resource's cadence when none is written.
const defaultCadence = 30 * time.Minute

// fieldPattern is what a record field name looks like.
var fieldPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) decodePrimaryKey(attr *hcl.Attribute, r *resourceBlock) hcl.Diagnostics {
	v, diags := d.structural(attr, cty.DynamicPseudoType, `"id"`)
	if diags.HasErrors() {
		return diags
	}
	bad := hcl.Diagnostics{errorIn(attr, "Invalid primary_key",
		`primary_key is a field name, like "id", or a list of field names for a composite key, like ["project_date_id", "user_id"].`)}
	var keys []string
	switch {
	case v.Type() == cty.String:
		keys = []string{v.AsString()}
	case v.Type().IsTupleType() || v.Type().IsListType():
		for _, e := range v.AsValueSlice() {
			if e.Type() != cty.String || e.IsNull() {
				return bad
			}
			keys = append(keys, e.AsString())
		}
	default:
		return bad
	}
	if len(keys) == 0 {
		return bad
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !fieldPattern.MatchString(k) || seen[k] {
			return bad
		}
		seen[k] = true
	}
	r.PrimaryKey = keys
	return nil
}

// decodeCursor returns the cursor and the range of its field.
func (d *decoder) decodeCursor(b *hcl.Block) (*Cursor, hcl.Range, hcl.Diagnostics) {
	c := &Cursor{Overlap: Duration(2 * time.Minute), Settle: Duration(30 * time.Second)}
	content, diags := b.Body.Content(cursorSchema)
	a := content.Attributes
	fieldRange := b.DefRange
	if attr, ok := a["field"]; ok {
		s, sd := d.str(attr, `"updated_at"`)
		diags = append(diags, sd...)
		c.Field, fieldRange = s, attr.Expr.Range()
	}
	if attr, ok := a["param"]; ok {
		s, sd := d.str(attr, `"updated_after"`)
		diags = append(diags, sd...)
		c.Param = s
	}
	if attr, ok := a["overlap"]; ok {
		t, td := d.duration(attr, 0)
		diags = append(diags, td...)
		c.Overlap = Duration(t)
	}
	if attr, ok := a["settle"]; ok {
		t, td := d.duration(attr, 0)
		diags = append(diags, td...)
		c.Settle = Duration(t)
	}
	return c, fieldRange, diags
}

func (d *decoder) decodeSchema(b *hcl.Block, r *resourceBlock) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	r.Schema = map[string]string{}
	for _, name := range sortedKeys(attrs) {
		attr := attrs[name]
		t, td := d.oneOf(attr, schemaTypes...)
		diags = append(diags, td...)
		if !td.HasErrors() {
			r.Schema[name] = t
		}
	}
	return diags
}

// checkPlaceholders enforces that a child path holds exactly one {name}
// (bound to each parent record's key) and a top-level path none.
func (r *resourceBlock) checkPlaceholders() hcl.Diagnostics {
	if r.PathRange == (hcl.Range{}) {
		return nil
	}
	found := placeholderPattern.FindAllStringSubmatch(r.Path, -1)
	switch {
	case r.Parent == nil && len(found) > 0:
		return hcl.Diagnostics{errorAt(r.PathRange, "Path placeholder without parent",
			fmt.Sprintf("The path %q holds {%s}, which only a child resource can fill; set parent = resource.<name>, or remove the placeholder.", r.Path, found[0][1]))}
	case r.Parent != nil && len(found) != 1:
		return hcl.Diagnostics{errorAt(r.PathRange, "Wrong number of path placeholders",
			fmt.Sprintf("A child resource's path holds exactly one {placeholder} for the parent's key, like \"/forms/{form_id}/completions\"; %q holds %d.", r.Path, len(found)))}
	case r.Parent != nil:
		name := found[0][1]
		if !fieldPattern.MatchString(name) {
			return hcl.Diagnostics{errorAt(r.PathRange, "Invalid path placeholder",
				fmt.Sprintf("{%s} is not a name; write a placeholder like {form_id}.", name))}
		}
		r.PlaceholderName = name
	}
	return nil
}
