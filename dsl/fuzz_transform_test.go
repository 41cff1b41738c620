package dsl

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// fuzzMapping exercises every Go fast path and the HCL evaluator.
var fuzzMapping = testMapping{
	fields: []string{
		`email = lower(record.email)`,
		`full_name = "${record.first_name} ${record.last_name}"`,
		`phone = record.phone`,
		`city = record.address.city`,
		`address = record.address`,
		`tags = record.tags`,
		`shout = upper(trimspace(record.first_name))`,
		`label = "${coalesce(record.first_name, "?")}/${record.id}"`,
		`n = try(length(record.tags), 0)`,
		`json = jsonencode(record.address)`,
		`tags_json = jsonencode(record.tags)`,
		`dash = record["first-name"]`,
	},
	filter: `record.membership_status != "REMOVED"`,
}

// fuzzFilter exercises the Go filter forms.
var fuzzFilter = testMapping{
	fields: []string{"id = record.id"},
	filter: `record.membership_status != "REMOVED" && !(record.blocked == true || contains(["X", "Y"], record.first_name))`,
}

// FuzzTransformApply runs random JSON records through a compiled mapping:
// Apply must never panic, and the Go fast paths must agree with HCL on
// every record. The same records go through parent_key functions, which
// must not panic either.
func FuzzTransformApply(f *testing.F) {
	for _, doc := range []string{
		`{}`,
		`{"email": "A@B.org", "first_name": "Ada", "last_name": "L", "membership_status": "ACTIVE"}`,
		`{"email": null, "address": {"city": null}, "tags": []}`,
		`{"address": "x", "tags": {"a": 1}, "id": 1e400}`,
		`{"first_name": 12, "last_name": true, "membership_status": 3}`,
		`{"email": "e\u0301", "first-name": [1, 2.5, {"x": null}]}`,
	} {
		f.Add([]byte(doc), false)
		f.Add([]byte(doc), true)
	}
	pairs := [][2]*Transform{
		{compileForTest(f, fuzzMapping), withoutFastPaths(f, fuzzMapping)},
		{compileForTest(f, fuzzFilter), withoutFastPaths(f, fuzzFilter)},
	}
	var keyFuncs []*KeyFunc
	for _, src := range []string{"record.id", "record.tags", "[for t in record.tags : t.id]"} {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "fuzz.hcl", hcl.InitialPos)
		k, kd := compileKeyFunc(expr, pairs[0][0].funcs)
		if diags.HasErrors() || kd.HasErrors() {
			f.Fatalf("parent_key %s: %s %s", src, diags, kd)
		}
		keyFuncs = append(keyFuncs, k)
	}
	f.Fuzz(func(t *testing.T, doc []byte, useNumber bool) {
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(doc))
		if useNumber {
			dec.UseNumber()
		}
		if dec.Decode(&rec) != nil {
			return
		}
		for _, pair := range pairs {
			row, keep, err := pair[0].Apply(rec, nil)
			slowRow, slowKeep, slowErr := pair[1].Apply(rec, nil)
			for _, e := range []error{err, slowErr} {
				if e != nil && strings.Contains(e.Error(), "internal error") {
					t.Fatalf("Apply panicked on %s: %v", doc, e)
				}
			}
			if (err == nil) != (slowErr == nil) || keep != slowKeep || !reflect.DeepEqual(row, slowRow) {
				t.Fatalf("fast and HCL paths disagree on %s:\nfast %v %v %v\nhcl  %v %v %v", doc, row, keep, err, slowRow, slowKeep, slowErr)
			}
		}
		for _, k := range keyFuncs {
			if _, err := k.Keys(rec); err != nil && strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Keys panicked on %s: %v", doc, err)
			}
		}
	})
}
