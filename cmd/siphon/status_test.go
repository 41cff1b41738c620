package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// scanConfig adds a cursorless resource and a child resource, each with a
// pipeline, to the operator configuration of acme and globex.
func scanConfig(t *testing.T) string {
	t.Helper()
	dir := operatorConfig(t)
	main := readFile(t, filepath.Join(dir, "main.hcl"))
	main = strings.ReplaceAll(main, "pipelines = [pipeline.volunteers]", "pipelines = [pipeline.volunteers, pipeline.forms, pipeline.answers]")
	writeFiles(t, dir, map[string]string{"main.hcl": main + `
resource "forms" {
  source  = source.vomo
  path    = "/forms"
  cadence = "15m"
}
resource "form_completions" {
  source  = source.vomo
  path    = "/forms/{form_id}/completions"
  parent  = resource.forms
  cadence = "15m"
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
  fields = {
    form_id = record.form_id
  }
}
`})
	return dir
}

// complete records completed walks or full scans as a poll would.
func complete(t *testing.T, ctx context.Context, st state.Store, tenant string, walks ...state.WalkUpdate) {
	t.Helper()
	l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "poll", Owner: "test", TTL: time.Hour})
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := st.CommitPage(ctx, state.PageCommit{Lease: l, Walks: walks}); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// Pipelines on cursorless and child resources have no cursor; status shows
// when their last full scan completed and how many records it read, as it
// does for the last walk of a cursor pipeline.
func TestStatusShowsLastCompletion(t *testing.T) {
	dir := scanConfig(t)
	if err := os.MkdirAll(filepath.Join(dir, ".siphon"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := siphon(t, "status", "acme", "--config", dir)
	for _, want := range []string{
		"  pipeline volunteers: no completed walk yet\n",
		"  pipeline forms: no completed full scan yet\n",
		"  pipeline answers: no completed full scan yet\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("status before any poll: %d, want %q in\n%s%s", code, want, out, errOut)
		}
	}

	before := time.Now().Add(-time.Minute)
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		complete(t, ctx, st, "acme",
			state.WalkUpdate{Pipeline: "volunteers", Complete: true, Walk: state.Walk{After: walkAfter, Cap: walkCap, Position: 40, Total: 40, Records: 40}},
			state.WalkUpdate{Pipeline: "forms", Complete: true, Walk: state.Walk{Records: 7}},
			state.WalkUpdate{Pipeline: "answers", Complete: true, Walk: state.Walk{Records: 23}})
	})
	code, out, errOut = siphon(t, "status", "acme", "--config", dir)
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	for _, want := range []string{
		"  pipeline volunteers: checkpoint ",
		"old, last walk completed ",
		"ago), 40 records\n",
		"  pipeline forms: last full scan completed ",
		"ago), 7 records\n",
		"  pipeline answers: last full scan completed ",
		"ago), 23 records\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status: want %q in\n%s", want, out)
		}
	}

	code, out, errOut = siphon(t, "status", "--json", "--config", dir)
	if code != 0 {
		t.Fatalf("status --json: %d %s", code, errOut)
	}
	var got []tenantStatus
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	byName := map[string]pipelineStatus{}
	for _, ts := range got {
		for _, p := range ts.Pipelines {
			byName[ts.Tenant+"/"+p.Pipeline] = p
		}
	}
	for name, want := range map[string]struct {
		full    bool
		records int64
	}{"acme/volunteers": {false, 40}, "acme/forms": {true, 7}, "acme/answers": {true, 23}} {
		p := byName[name]
		if p.FullScan != want.full || p.LastRecords != want.records || p.LastComplete.Before(before) {
			t.Errorf("%s: %+v, want full scan %v with %d records", name, p, want.full, want.records)
		}
	}
	if p := byName["globex/forms"]; !p.LastComplete.IsZero() || !p.FullScan || p.AgeSeconds != nil {
		t.Errorf("globex/forms never completed: %+v", p)
	}
}
