package runtime

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// A stored walk resumes from the client's own progress when it belongs to
// the walk, and from its position alone (conservatively) otherwise.
func TestResumeWalk(t *testing.T) {
	vr := vomo.Resource{Path: "/users", CursorParam: "updated_after"}
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	full := vomo.Progress{Mode: "walk", Path: "/users", After: after, Cap: after.Add(time.Hour), Next: 45,
		GapEnd: 60, Resume: 75, Pages: 5, LastStart: 60, LastTotal: 300, PerPage: 15, FirstTotal: 302, StepBacks: 1, Requests: 6}
	src, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	w := state.Walk{After: full.After, Cap: full.Cap, Position: 45, Total: 300, Records: 70, Progress: src}
	conservative := vomo.Progress{Mode: "walk", Path: "/users", After: w.After, Cap: w.Cap, Next: 45, LastTotal: 300, Pages: 1}

	if got, why := resumeWalk(vr, w); why != "" || got != full {
		t.Errorf("stored progress: %+v (%s), want %+v", got, why, full)
	}
	old := w
	old.Progress = nil
	if got, why := resumeWalk(vr, old); why != "" || got != conservative {
		t.Errorf("a walk stored without progress: %+v (%s), want %+v", got, why, conservative)
	}
	for name, bad := range map[string]func(*state.Walk){
		"garbage":        func(w *state.Walk) { w.Progress = []byte("{not json") },
		"other position": func(w *state.Walk) { w.Position = 30 },
		"other window":   func(w *state.Walk) { w.Cap = w.Cap.Add(time.Minute) },
	} {
		b := w
		bad(&b)
		want := conservative
		want.Next, want.Cap = int(b.Position), b.Cap
		if got, why := resumeWalk(vr, b); why == "" || got != want {
			t.Errorf("%s: %+v (%q), want %+v with a reason", name, got, why, want)
		}
	}
	other := vr
	other.Path = "/projects"
	if got, why := resumeWalk(other, w); why == "" || got.Path != "/projects" || got.Pages != 1 {
		t.Errorf("progress of another list: %+v (%q)", got, why)
	}
}
