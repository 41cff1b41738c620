package schedule

import (
	"fmt"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestNextRuns(t *testing.T) {
	tests := []struct {
		name    string
		after   string
		cadence time.Duration
		stagger time.Duration
		want    []string
	}{
		{"stagger within the period", "2026-11-26T09:00:00Z", 5 * time.Minute, 47 * time.Second,
			[]string{"2026-11-26T09:00:47Z", "2026-11-26T09:05:47Z", "2026-11-26T09:10:47Z"}},
		{"strictly after a run instant", "2026-11-26T09:00:47Z", 5 * time.Minute, 47 * time.Second,
			[]string{"2026-11-26T09:05:47Z", "2026-11-26T09:10:47Z", "2026-11-26T09:15:47Z"}},
		// 09:00 UTC is 60 s past a multiple of 7 minutes since the epoch.
		{"epoch aligned, not hour aligned", "2026-11-26T09:00:00Z", 7 * time.Minute, 0,
			[]string{"2026-11-26T09:06:00Z", "2026-11-26T09:13:00Z", "2026-11-26T09:20:00Z"}},
		{"stagger beyond the cadence wraps", "2026-11-26T09:00:00Z", 5 * time.Minute, 5*time.Minute + 47*time.Second,
			[]string{"2026-11-26T09:00:47Z", "2026-11-26T09:05:47Z", "2026-11-26T09:10:47Z"}},
		{"negative stagger wraps", "2026-11-26T09:00:00Z", 5 * time.Minute, -13 * time.Second,
			[]string{"2026-11-26T09:04:47Z", "2026-11-26T09:09:47Z", "2026-11-26T09:14:47Z"}},
		{"non-UTC input, UTC output", "2026-11-26T03:00:00-06:00", time.Hour, 90 * time.Second,
			[]string{"2026-11-26T09:01:30Z", "2026-11-26T10:01:30Z", "2026-11-26T11:01:30Z"}},
		{"before the epoch", "1969-12-31T23:59:00Z", time.Minute, 10 * time.Second,
			[]string{"1969-12-31T23:59:10Z", "1970-01-01T00:00:10Z", "1970-01-01T00:01:10Z"}},
		{"far future does not overflow", "9999-01-01T00:00:00Z", 24 * time.Hour, 0,
			[]string{"9999-01-02T00:00:00Z", "9999-01-03T00:00:00Z", "9999-01-04T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextRuns(mustTime(t, tt.after), tt.cadence, tt.stagger, len(tt.want))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d runs, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				if !got[i].Equal(mustTime(t, w)) || got[i].Location() != time.UTC {
					t.Errorf("run %d = %s, want %s in UTC", i, got[i].Format(time.RFC3339), w)
				}
			}
		})
	}
}

func TestNextRunsDegenerate(t *testing.T) {
	now := mustTime(t, "2026-11-26T09:00:00Z")
	if got := NextRuns(now, 0, 0, 3); got != nil {
		t.Errorf("zero cadence: got %v, want nil", got)
	}
	if got := NextRuns(now, time.Minute, 0, 0); got != nil {
		t.Errorf("n = 0: got %v, want nil", got)
	}
}

func TestStaggerStable(t *testing.T) {
	a := Stagger("acme", "every-5m", 5*time.Minute)
	for i := 0; i < 10; i++ {
		if b := Stagger("acme", "every-5m", 5*time.Minute); b != a {
			t.Fatalf("stagger changed between calls: %s then %s", a, b)
		}
	}
	if a%time.Second != 0 || a < 0 || a >= 5*time.Minute {
		t.Errorf("stagger %s is not whole seconds in [0, 5m)", a)
	}
	// A literal pins the hash so that a change of algorithm, which would
	// move every tenant's schedule, is a deliberate act.
	if a != 8*time.Second {
		t.Errorf("stagger = %s, want 8s", a)
	}
	if Stagger("ab", "c", time.Hour) == Stagger("a", "bc", time.Hour) &&
		Stagger("ab", "c", 7*time.Hour) == Stagger("a", "bc", 7*time.Hour) {
		t.Error("the parts of the hash are not separated")
	}
	if got := Stagger("acme", "x", 500*time.Millisecond); got != 0 {
		t.Errorf("sub-second cadence: stagger %s, want 0", got)
	}
}

func TestStaggerSpread(t *testing.T) {
	const cadence = 5 * time.Minute
	var deciles [10]int
	distinct := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		s := Stagger(tenantName(i), "every-5m", cadence)
		if s < 0 || s >= cadence || s%time.Second != 0 {
			t.Fatalf("tenant %d: stagger %s outside [0, %s) or not whole seconds", i, s, cadence)
		}
		deciles[int(s*10/cadence)]++
		distinct[s] = true
	}
	for i, n := range deciles {
		// 100 expected per decile; the hash is fixed, so this is no flake.
		if n < 50 {
			t.Errorf("decile %d of the cadence holds %d of 1000 tenants", i, n)
		}
	}
	if len(distinct) < 250 {
		t.Errorf("1000 tenants use only %d of 300 offsets", len(distinct))
	}
}

func tenantName(i int) string { return fmt.Sprintf("tenant-%04d", i) }
