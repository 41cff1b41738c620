package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
)

func throttleShow(t *testing.T, dir string) throttleView {
	t.Helper()
	code, out, errOut := siphon(t, "throttle", "show", "--json", "--config", dir)
	if code != 0 {
		t.Fatalf("throttle show: %d %s", code, errOut)
	}
	var v throttleView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("throttle show --json: %v\n%s", err, out)
	}
	return v
}

// TestThrottle: throttle writes the hub store's factor (which every
// runner reads), show prints it, reset returns to 1, and each change is
// in the hub audit log with who made it.
func TestThrottle(t *testing.T) {
	dir := operatorConfig(t)
	if v := throttleShow(t, dir); v.Factor != 1 {
		t.Fatalf("fresh store: factor %v, want 1", v.Factor)
	}
	code, out, errOut := siphon(t, "throttle", "50%", "--config", dir)
	if code != 0 || !strings.Contains(out, "50%") || !strings.Contains(out, "was 100%") {
		t.Fatalf("throttle 50%%: %d %q %s", code, out, errOut)
	}
	if v := throttleShow(t, dir); v.Factor != 0.5 || v.Percent != 50 {
		t.Errorf("after 50%%: %+v", v)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if f, err := st.Throttle(ctx); err != nil || f != 0.5 {
			t.Errorf("store factor %v %v, want 0.5", f, err)
		}
	})
	if code, _, errOut := siphon(t, "throttle", "0.25", "--config", dir); code != 0 {
		t.Fatalf("throttle 0.25: %d %s", code, errOut)
	}
	if code, out, _ := siphon(t, "throttle", "show", "--config", dir); code != 0 || !strings.Contains(out, "25%") {
		t.Errorf("throttle show: %d %q", code, out)
	}
	if code, out, errOut := siphon(t, "throttle", "reset", "--config", dir); code != 0 || !strings.Contains(out, "none") {
		t.Fatalf("throttle reset: %d %q %s", code, out, errOut)
	}
	if v := throttleShow(t, dir); v.Factor != 1 {
		t.Errorf("after reset: %+v", v)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		entries, _, err := st.Audit(ctx, "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "throttle") {
				if e.Who == "" {
					t.Errorf("audit entry %+v names nobody", e)
				}
				got = append(got, e.Action+": "+e.Detail)
			}
		}
		want := []string{"throttle: 50% (was 100%)", "throttle: 25% (was 50%)", "throttle reset: 100% (was 25%)"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("hub audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestThrottleRefusesBadValues(t *testing.T) {
	dir := operatorConfig(t)
	for _, arg := range []string{"0%", "0", "150%", "1.5", "half", "NaN", "50%%"} {
		code, _, errOut := siphon(t, "throttle", arg, "--config", dir)
		if code != 1 || !strings.Contains(errOut, "throttle \""+arg+"\"") {
			t.Errorf("throttle %s: exit %d, %q", arg, code, errOut)
		}
	}
	if code, _, errOut := siphon(t, "throttle", "--config", dir); code != 1 || !strings.Contains(errOut, "usage: siphon throttle") {
		t.Errorf("throttle with no value: exit %d, %q", code, errOut)
	}
	if v := throttleShow(t, dir); v.Factor != 1 {
		t.Errorf("a refused value changed the factor: %+v", v)
	}
}
