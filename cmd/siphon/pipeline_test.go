package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
)

func TestPipelineResume(t *testing.T) {
	dir := operatorConfig(t)
	const reason = "mapping failed for 30 of the last 50 records (60%, threshold 20%)"
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		for _, tenant := range []string{"acme", "globex"} {
			if err := st.SetFlag(ctx, tenant, state.Flag{Kind: state.FlagPipelinePaused, Scope: "volunteers", Reason: reason, By: "siphon run"}); err != nil {
				t.Fatal(err)
			}
		}
	})

	// status shows the reason under the paused pipeline.
	code, out, errOut := siphon(t, "status", "acme", "--config", dir)
	if code != 0 || !strings.Contains(out, "  pipeline volunteers: no completed walk yet\n    paused: "+reason+"\n") ||
		strings.Contains(out, "flag pipeline-paused") {
		t.Fatalf("status: %d %q %s", code, out, errOut)
	}
	code, out, errOut = siphon(t, "status", "acme", "--json", "--config", dir)
	var st []tenantStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st) != 1 || st[0].Pipelines[0].Paused != reason {
		t.Fatalf("status --json: %d %s %s", code, out, errOut)
	}

	code, out, errOut = siphon(t, "pipeline", "resume", "acme", "volunteers", "--config", dir)
	if code != 0 || out != "resumed pipeline volunteers of acme (was paused: "+reason+")\n" {
		t.Fatalf("resume: %d %q %s", code, out, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		for tenant, want := range map[string]int{"acme": 0, "globex": 1} {
			fs, err := st.Flags(ctx, tenant)
			if err != nil || len(fs) != want {
				t.Errorf("%s flags after resuming acme: %+v %v", tenant, fs, err)
			}
		}
		es := auditLog(t, ctx, st, "acme")
		if len(es) != 1 || es[0].Action != "pipeline resume" || !strings.Contains(es[0].Detail, "volunteers") {
			t.Errorf("audit: %+v", es)
		}
	})

	// Resuming again is not an error: there is nothing to do.
	code, out, errOut = siphon(t, "pipeline", "resume", "acme", "volunteers", "--config", dir)
	if code != 0 || out != "pipeline volunteers of acme is not paused\n" {
		t.Fatalf("second resume: %d %q %s", code, out, errOut)
	}
}

func TestPipelineResumeBadInput(t *testing.T) {
	dir := operatorConfig(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"acme"}, "usage: siphon pipeline resume TENANT PIPELINE"},
		{[]string{"acme", "volunteers", "more"}, "usage: siphon pipeline resume TENANT PIPELINE"},
		{[]string{"acmee", "volunteers"}, `no tenant "acmee"`},
		{[]string{"acme", "volunteer"}, `pipeline "volunteer" is not active for tenant acme; did you mean "volunteers"?`},
	} {
		code, out, errOut := siphon(t, append(append([]string{"pipeline", "resume"}, c.args...), "--config", dir)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("pipeline resume %v: %d %q %q; want exit 1 with %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestRunOnceFailsWhilePaused: a pipeline paused for its mapping-error
// rate makes run --once exit 1 and say how many queues it holds.
func TestRunOnceFailsWhilePaused(t *testing.T) {
	dir := operatorConfig(t)
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		for _, tenant := range []string{"acme", "globex"} {
			if err := st.SetFlag(ctx, tenant, state.Flag{Kind: state.FlagPipelinePaused, Scope: "volunteers", Reason: "mapping errors"}); err != nil {
				t.Fatal(err)
			}
		}
	})
	code, out, errOut := siphon(t, "run", "--once", dir)
	if code != 1 || !strings.Contains(out, "; 2 queues held by a paused pipeline\n") || !strings.Contains(errOut, "or pipeline is paused") {
		t.Fatalf("run --once: %d %q %q", code, out, errOut)
	}
}
