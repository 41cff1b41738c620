package e2e

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// Every test runs 20 tenants against vomosim's adversarial scenario while
// the source churns, injects its faults, then quiesces and checks the
// destination against the source (assertExact), the checkpoints sampled
// along the way, the dead-letter queues, the job runs in the logs and
// the logs themselves: JSON lines without repeated keys, and no token.

// Three workers on one Redis are killed with SIGKILL in turn, alternately
// in the middle of a job (polling) and while writes are landing
// (processing), and replaced each time; every third one is stopped with
// SIGTERM in the middle of a job instead, and must exit cleanly with its
// jobs ended and their leases handed back.
func TestKillWorkersRedis(t *testing.T) {
	e := newEnv(t, envOpts{redis: true})
	st := e.openStore()
	defer st.Close()
	cps := e.newCheckpoints()
	cps.start(st)
	live := []*worker{e.startWorker(), e.startWorker(), e.startWorker()}
	hits := map[string]int{}
	start := time.Now()
	for i := 0; i < e.size.kills || time.Since(start) < e.size.chaos; i++ {
		mode := []string{"poll", "process", "term"}[i%3]
		victim := live[i%len(live)]
		if mode == "term" {
			e.waitFor(30*time.Second, victim.name+" in the middle of a job", victim.polling)
			e.stop(victim)
			if victim.polling() {
				t.Errorf("%s stopped by SIGTERM with a job it never ended", victim.name)
			}
			hits[mode]++
		} else if e.killDuring(victim, mode) {
			hits[mode]++
		}
		live[i%len(live)] = e.startWorker()
		pace()
	}
	t.Logf("%d workers stopped in %s; the kill hit its moment: %v", len(e.workers)-len(live), time.Since(start).Round(time.Second), hits)
	if hits["poll"] == 0 {
		t.Error("no kill landed in the middle of a job")
	}
	e.quiesce(st)
	for _, w := range live {
		e.stop(w)
	}
	e.finish(st, cps)
}

// Redis is killed (no shutdown save) and restarted from its AOF while two
// workers run; they ride out the outage and nothing is lost.
func TestRedisRestartMidRun(t *testing.T) {
	e := newEnv(t, envOpts{redis: true})
	st := e.openStore()
	defer st.Close()
	cps := e.newCheckpoints()
	cps.start(st)
	live := []*worker{e.startWorker(), e.startWorker()}
	restarts := max(2, e.size.kills/4)
	every := e.size.chaos / time.Duration(restarts+1)
	for range restarts {
		e.waitFor(every+time.Minute, "the chaos interval", pacer(every))
		// In the middle of work: a job running or writes landing.
		e.waitFor(30*time.Second, "work in progress", func() bool { return live[0].polling() || live[1].polling() || e.writesLanding() })
		e.redis.Restart()
	}
	e.waitFor(every+time.Minute, "the chaos interval", pacer(every))
	t.Logf("%d Redis restarts", restarts)
	e.quiesce(st)
	for _, w := range live {
		e.stop(w)
	}
	e.finish(st, cps)
}

// The worker's sqlite plugin is killed with SIGKILL while batches are
// landing; the host restarts it and the batch is redelivered.
func TestPluginKilledMidBatch(t *testing.T) {
	e := newEnv(t, envOpts{redis: true})
	st := e.openStore()
	defer st.Close()
	cps := e.newCheckpoints()
	cps.start(st)
	w := e.startWorker()
	var killed []int
	start := time.Now()
	for i := 0; i < e.size.kills || time.Since(start) < e.size.chaos; i++ {
		var plugins []int
		e.waitFor(30*time.Second, "the plugin writing a batch", func() bool {
			plugins = slices.DeleteFunc(w.children(), func(pid int) bool { return slices.Contains(killed, pid) })
			return len(plugins) > 0 && e.writesLanding()
		})
		for _, pid := range plugins {
			if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
				killed = append(killed, pid)
			}
		}
		// The host starts a new plugin for the next batch.
		e.waitFor(30*time.Second, "a restarted plugin", func() bool {
			return slices.ContainsFunc(w.children(), func(pid int) bool { return !slices.Contains(killed, pid) })
		})
		pace()
	}
	t.Logf("%d plugin processes killed in %s", len(killed), time.Since(start).Round(time.Second))
	e.quiesce(st)
	e.stop(w)
	e.finish(st, cps)
}

// Two workers share one Redis: no job runs in both at once, both take
// jobs, and each tenant's data is exact. Halfway through, one tenant's
// token is revoked: exactly that tenant pauses, with its reason in
// siphon status, and the others go on.
func TestTwoWorkersShareRedis(t *testing.T) {
	e := newEnv(t, envOpts{redis: true})
	st := e.openStore()
	defer st.Close()
	cps := e.newCheckpoints()
	cps.start(st)
	live := []*worker{e.startWorker(), e.startWorker()}
	e.waitFor(e.size.chaos+time.Minute, "the run", pacer(e.size.chaos/2))
	revoked := e.sim.tenants[len(e.sim.tenants)/2]
	if err := e.sim.call("POST", "tenants/"+revoked+"/revoke", "", nil); err != nil {
		t.Fatal(err)
	}
	e.revoked[revoked] = true
	e.waitFor(time.Minute, revoked+" paused", func() bool { return len(e.authPauses(st, revoked)) > 0 })
	e.waitFor(e.size.chaos+time.Minute, "the run", pacer(e.size.chaos/2))
	e.quiesce(st)
	for _, tenant := range e.sim.tenants {
		if p := e.authPauses(st, tenant); len(p) > 0 != e.revoked[tenant] {
			t.Errorf("%s: auth pauses %q", tenant, p)
		}
	}
	var status []struct {
		Tenant, Paused string
	}
	if err := json.Unmarshal([]byte(e.siphon(nil, "status", "--json", "--config", e.cfg, "--store", e.store)), &status); err != nil {
		t.Fatalf("siphon status --json: %v", err)
	}
	for _, s := range status {
		if e.revoked[s.Tenant] != strings.Contains(s.Paused, "401") {
			t.Errorf("siphon status: %s paused %q", s.Tenant, s.Paused)
		}
	}
	for _, w := range live {
		e.stop(w)
	}
	perWorker := e.finish(st, cps)
	for _, w := range live {
		if perWorker[w.name] == 0 {
			t.Errorf("%s ran no job: the work was not shared", w.name)
		}
	}
}

// authPauses lists the reasons a tenant is paused for its credentials.
func (e *env) authPauses(st state.Store, tenant string) []string {
	e.t.Helper()
	flags, err := st.Flags(context.Background(), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, f := range flags {
		if f.Kind == state.FlagAuthPaused {
			out = append(out, f.Reason)
		}
	}
	return out
}

// The embedded store holds one process at a time: a worker is killed
// with SIGKILL, alternately polling and processing, the checkpoints are
// read from the file while nobody holds it, and a new worker takes over.
// The last worker runs to quiescence, watched through the socket it
// serves the store on.
func TestKillWorkerBbolt(t *testing.T) {
	e := newEnv(t, envOpts{})
	cps := e.newCheckpoints()
	w := e.startWorker()
	hits := map[string]int{}
	start := time.Now()
	for i := 0; i < e.size.kills || time.Since(start) < e.size.chaos; i++ {
		mode := []string{"poll", "process"}[i%2]
		if e.killDuring(w, mode) {
			hits[mode]++
		}
		cps.sampleStopped()
		w = e.startWorker()
		pace()
	}
	t.Logf("%d kills in %s; the kill hit its moment: %v", len(e.workers)-1, time.Since(start).Round(time.Second), hits)
	if hits["poll"] == 0 {
		t.Error("no kill landed in the middle of a job")
	}
	live := e.openStore() // through the running worker's socket
	cps.start(live)
	e.quiesce(live)
	cps.stop()
	live.Close()
	e.stop(w)
	cps.sampleStopped()
	st := e.openStore() // the file itself, now that nobody holds it
	defer st.Close()
	e.finish(st, cps)
}

// killDuring waits until w is in the middle of a job ("poll") or writes
// are landing in the destination ("process"), then kills it with SIGKILL.
// It reports whether the kill hit that moment: for a job, whether the
// worker's log ends inside it.
func (e *env) killDuring(w *worker, mode string) bool {
	e.t.Helper()
	if mode == "poll" {
		e.waitFor(30*time.Second, w.name+" in the middle of a job", w.polling)
		e.kill9(w)
		return w.polling()
	}
	e.waitFor(30*time.Second, "writes landing in the destination", e.writesLanding)
	e.kill9(w)
	return true
}

// finish runs the checks every test ends with, once the workers are
// stopped; it returns the job runs per worker.
func (e *env) finish(st state.Store, cps *checkpoints) map[string]int {
	e.t.Helper()
	cps.report()
	e.assertNoDeadLetters(st)
	e.assertExact()
	e.assertLogsClean()
	return e.assertJobsNeverOverlap()
}

// pace spreads the faults out a little so that work goes on between them.
func pace() { time.Sleep(200*time.Millisecond + rand.N(600*time.Millisecond)) }

// pacer is a condition that holds once d has passed from now.
func pacer(d time.Duration) func() bool {
	until := time.Now().Add(d)
	return func() bool { return !time.Now().Before(until) }
}
