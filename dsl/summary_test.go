package dsl

import (
	"slices"
	"strings"
	"testing"
)

// The summary holds what an operator checks before rollout, and Diff
// lists every change between two of them, pipelines first, in name order.
func TestSummaryDiff(t *testing.T) {
	old, _ := mustPlan(t, Options{}, map[string]string{"main.hcl": jobsConfig})
	s := old.Summary()
	if s.ConfigHash != old.ConfigHash || len(s.Tenants) != 3 || len(s.Pipelines) != 4 {
		t.Fatalf("summary %+v", s)
	}
	if got := s.Tenants["globex"]; !got.Enabled || got.Cadences["volunteers"] != "10m" || len(got.Cadences) != 1 {
		t.Errorf("globex %+v", got)
	}
	if got := s.Tenants["paused"]; got.Enabled || got.Cadences["completions"] != "5m" {
		t.Errorf("paused %+v", got)
	}
	if p := s.Pipelines["projects"]; p.Resource != "projects" || p.Destination != "db" || p.MappingHash == "" {
		t.Errorf("projects %+v", p)
	}
	if d := Diff(s, s); len(d) != 0 {
		t.Errorf("a summary differs from itself: %v", d)
	}

	changed := jobsConfig
	for _, r := range [][2]string{
		{`fields      = { phone = record.phone }`, `fields      = { phone = lower(record.phone) }`},
		{`cadence   = { volunteers = "10m" }`, `cadence   = { volunteers = "15m" }`},
		{`  pipelines = [pipeline.volunteers, pipeline.completions]
  enabled   = false`, `  pipelines = [pipeline.volunteers]`},
		{`pipeline "projects" {`, `pipeline "extra" {
  resource    = resource.users
  destination = destination.db
  fields      = { id = record.id }
}
pipeline "projects" {`},
		{`tenant "acme" {`, `tenant "initech" {
  pipelines = [pipeline.extra]
}
tenant "acme" {`},
	} {
		if !strings.Contains(changed, r[0]) {
			t.Fatalf("the test configuration has no %q", r[0])
		}
		changed = strings.Replace(changed, r[0], r[1], 1)
	}
	changed = strings.Replace(changed, "pipeline.contacts, ", "", 1)
	changed = strings.Replace(changed, `pipeline "contacts" {
  resource    = resource.users
  destination = destination.db
  fields      = { phone = lower(record.phone) }
}`, "", 1)
	nw, _ := mustPlan(t, Options{}, map[string]string{"main.hcl": changed})
	var got []string
	for _, c := range Diff(s, nw.Summary()) {
		got = append(got, c.String())
	}
	want := []string{
		"pipeline removed contacts",
		"pipeline added extra",
		"tenant acme: pipeline contacts removed",
		"tenant globex: pipeline volunteers cadence 10m → 15m",
		"tenant added initech",
		"tenant enabled paused",
		"tenant paused: pipeline completions removed",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A changed mapping shows its short hashes; a removed tenant is one line.
	s2 := nw.Summary()
	p := s2.Pipelines["extra"]
	p.MappingHash = "0123456789abcdef"
	s2.Pipelines["extra"] = p
	delete(s2.Tenants, "initech")
	got = got[:0]
	for _, c := range Diff(nw.Summary(), s2) {
		got = append(got, c.String())
	}
	want = []string{"pipeline extra: mapping changed " + shortHash(nw.Summary().Pipelines["extra"].MappingHash) + " → 0123456789ab", "tenant removed initech"}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
