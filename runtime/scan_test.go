package runtime_test

import (
	"context"
	"strings"
	"testing"
)

const formsHCL = `
resource "forms" {
  source  = source.vomo
  path    = "/forms"
  cadence = "5m"
}
resource "form_completions" {
  source  = source.vomo
  path    = "/forms/{form_id}/completions"
  parent  = resource.forms
  cadence = "5m"
}
pipeline "forms" {
  resource    = resource.forms
  destination = destination.db
  fields = {
    name = record.name
  }
}
pipeline "answers" {
  resource    = resource.form_completions
  destination = destination.db
  object      = "form_answers"
  delivery    = "direct"
  fields = {
    form_id = record.form_id
    user_id = record.user_id
  }
}
`

// Cursorless resources are scanned whole each cycle, and a child resource
// is read under each parent the parent scan found; "direct" delivery
// writes through the same queue.
func TestCursorlessAndChildResources(t *testing.T) {
	h := newHarness(t, harnessOpts{tenants: 2, users: 30, pipeline: volunteers, extra: formsHCL,
		tenantPipelines: "[pipeline.volunteers, pipeline.forms, pipeline.answers]"})
	ctx := context.Background()
	for i := range 2 {
		sum, err := h.runner().RunOnce(ctx)
		if err != nil || sum.Failed() {
			t.Fatalf("run %d: %+v %v", i, sum, err)
		}
	}
	forms := h.rows("forms", "name")
	answers := h.rows("form_answers", "form_id")
	for _, ti := range h.sim.Tenants() {
		truth, err := h.sim.Truth(ti.ID, "forms")
		if err != nil {
			t.Fatal(err)
		}
		if len(truth.Keys) == 0 || len(forms[ti.ID]) != len(truth.Keys) {
			t.Errorf("%s: %d form rows, %d forms", ti.ID, len(forms[ti.ID]), len(truth.Keys))
		}
		for _, k := range truth.Keys {
			if _, ok := forms[ti.ID][k]; !ok {
				t.Errorf("%s: form %s missing", ti.ID, k)
			}
		}
		ct, err := h.sim.Truth(ti.ID, "form_completions")
		if err != nil {
			t.Fatal(err)
		}
		if len(ct.Keys) == 0 || len(answers[ti.ID]) != len(ct.Keys) {
			t.Errorf("%s: %d answer rows, %d completions", ti.ID, len(answers[ti.ID]), len(ct.Keys))
		}
		for _, k := range ct.Keys {
			parent, id, _ := strings.Cut(k, "/")
			r, ok := answers[ti.ID][id]
			if !ok || r.fields["form_id"] != parent {
				t.Errorf("%s: completion %s: row %+v present %v", ti.ID, k, r, ok)
			}
		}
		// Without a cursor, the checkpoint records each completed scan:
		// the last one read every form, and every completion of every form.
		for pipeline, want := range map[string]int{"forms": len(truth.Keys), "answers": len(ct.Keys)} {
			cp, err := h.store.Checkpoint(ctx, ti.ID, pipeline)
			if err != nil {
				t.Fatal(err)
			}
			if cp.LastComplete.IsZero() || cp.LastRecords != int64(want) || !cp.Cursor.IsZero() || cp.Walk != nil {
				t.Errorf("%s/%s: checkpoint %+v, want a completed scan of %d records", ti.ID, pipeline, cp, want)
			}
		}
	}
}
