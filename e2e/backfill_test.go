package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"time"

	"testing"

	"github.com/siphonhq/siphon/internal/source/vomo"
	"github.com/siphonhq/siphon/internal/state"
)

// scanAt is where a tenant's backfill stood: its cap names the scan.
type scanAt struct {
	cap      time.Time
	records  int64
	position int64
}

// backfills reads the backfill scans in progress, by tenant.
func (e *env) backfills(st state.Store) map[string]scanAt {
	e.t.Helper()
	out := map[string]scanAt{}
	for _, tenant := range e.sim.tenants {
		cp, err := st.Checkpoint(context.Background(), tenant, pipeline)
		if err != nil {
			e.t.Fatal(err)
		}
		if cp.Walk == nil {
			continue
		}
		var p vomo.Progress
		if json.Unmarshal(cp.Walk.Progress, &p) == nil && p.Mode == "scan" {
			out[tenant] = scanAt{cap: cp.Walk.Cap, records: cp.Walk.Records, position: cp.Walk.Position}
		}
	}
	return out
}

// backfillSize: CI backfills 2,000 records (two tenants of 1,000) at a
// rate that makes each backfill take seconds, so kills land inside it;
// SIPHON_SOAK=1 backfills 200,000 (four tenants of 50,000).
func backfillSize() (size, string) {
	if soak() {
		return size{tenants: 4, users: 50000, chaos: 3 * time.Minute, kills: 12, churn: 12}, "6000/1m"
	}
	return size{tenants: 2, users: 1000, chaos: 0, kills: 3, churn: 12}, "480/1m"
}

// A worker killed with SIGKILL in the middle of the backfills, again and
// again, and replaced each time: every replacement continues the same
// scans (same cap) from the progress stored with their last pages, never
// from record 0; after quiescence the destination equals the source, with
// each key held once.
func TestKillDuringBackfill(t *testing.T) {
	sz, rate := backfillSize()
	e := newEnv(t, envOpts{redis: true, size: &sz, rate: rate})
	st := e.openStore()
	defer st.Close()
	cps := e.newCheckpoints()
	cps.start(st)
	w := e.startWorker()
	limit := time.Minute
	if soak() {
		limit = 10 * time.Minute
	}
	kills, continued := 0, 0
	for kills < sz.kills {
		var before map[string]scanAt
		e.waitFor(limit, "a backfill well under way", func() bool {
			before = e.backfills(st)
			for _, s := range before {
				if s.position > 0 {
					return true
				}
			}
			return false
		})
		// Let the worker get further, so the kill lands between pages.
		time.Sleep(300 * time.Millisecond)
		e.kill9(w)
		kills++
		atKill := e.backfills(st) // what the dead worker left stored
		if len(atKill) == 0 {
			t.Logf("kill %d landed after the backfills completed", kills)
			w = e.startWorker()
			break
		}
		for tenant, s := range atKill {
			if b, ok := before[tenant]; ok && b.cap.Equal(s.cap) && s.records < b.records {
				t.Fatalf("%s: the stored backfill went back from %d to %d records", tenant, b.records, s.records)
			}
		}
		w = e.startWorker()
		// Each scan the kill interrupted goes on from where it stood:
		// same cap, at least as many records, then more; or it
		// completed with the cursor at that cap.
		for tenant, s := range atKill {
			e.waitFor(limit, tenant+"'s backfill going on after the kill", func() bool {
				cp, err := st.Checkpoint(context.Background(), tenant, pipeline)
				if err != nil {
					t.Fatal(err)
				}
				if cp.Walk == nil {
					if !cp.Cursor.Equal(s.cap) && !cp.Cursor.After(s.cap) {
						t.Fatalf("%s: backfill at cap %s ended with the cursor at %s", tenant, s.cap, cp.Cursor)
					}
					return true
				}
				if !cp.Walk.Cap.Equal(s.cap) {
					t.Fatalf("%s: a new backfill (cap %s) replaced the one the kill interrupted (cap %s, %d records)",
						tenant, cp.Walk.Cap, s.cap, s.records)
				}
				if cp.Walk.Records < s.records {
					t.Fatalf("%s: the backfill restarted: %d records, had %d at the kill", tenant, cp.Walk.Records, s.records)
				}
				return cp.Walk.Records > s.records
			})
			continued++
		}
	}
	t.Logf("%d kills during the backfills; %d interrupted scans continued where they stood", kills, continued)
	if continued == 0 {
		t.Fatal("no kill interrupted a backfill")
	}
	e.waitFor(limit, "every backfill complete", func() bool {
		for _, tenant := range e.sim.tenants {
			cp, err := st.Checkpoint(context.Background(), tenant, pipeline)
			if err != nil || cp.Cursor.IsZero() || cp.Walk != nil && len(e.backfills(st)) > 0 {
				return false
			}
		}
		return true
	})
	e.quiesce(st)
	e.stop(w)
	e.finish(st, cps)
	e.assertKeysOnce()
}

// assertKeysOnce checks the destination holds each (tenant, key) once.
func (e *env) assertKeysOnce() {
	e.t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.cfg, "out", "destination.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var rows, keys int
	if err := db.QueryRow("SELECT count(*), count(DISTINCT tenant || '/' || key) FROM volunteers").Scan(&rows, &keys); err != nil {
		e.t.Fatal(err)
	}
	if rows != keys || rows == 0 {
		e.t.Fatalf("%d rows for %d keys", rows, keys)
	}
}
