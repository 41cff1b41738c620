package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// The hub outgrows one Redis without code changes: three workers run 20
// tenants against a three-master Redis Cluster started by the test
// (redis-server --cluster-enabled yes ×3, redis-cli --cluster create)
// while the source churns, one of them killed with SIGKILL mid-job and
// replaced, then to quiescence. The result is exact, no job ran in two
// places at once, the tenants' keys are spread over every master, and no
// log holds a CROSSSLOT error or a MOVED/ASK redirection left unhandled.
func TestClusterMultiWorker(t *testing.T) {
	binaries(t)
	cluster := redistest.StartCluster(t)
	e := &env{t: t, size: runSize(), dir: testDir(t), epoch: time.Now(), revoked: map[string]bool{}}
	e.clk = clock.NewScaledSince(e.epoch, clockScale)
	e.store = cluster.URL()
	e.sim = e.startSim()
	e.cfg = filepath.Join(e.dir, "hub")
	e.writeConfig(true)
	for _, id := range e.sim.tenants {
		e.siphon(strings.NewReader(e.sim.tokens[id]+"\n"), "credentials", "set", id, "--config", e.cfg, "--store", e.store)
	}
	st := e.openStore()
	defer st.Close()
	cps := e.newCheckpoints()
	cps.start(st)
	live := []*worker{e.startWorker(), e.startWorker(), e.startWorker()}
	e.waitFor(e.size.chaos+time.Minute, "the first half of the run", pacer(e.size.chaos/2))
	if e.killDuring(live[0], "poll") {
		t.Log("w1 killed in the middle of a job")
	}
	live[0] = e.startWorker()
	e.waitFor(e.size.chaos+time.Minute, "the second half of the run", pacer(e.size.chaos/2))
	e.quiesce(st)
	for _, w := range live {
		e.stop(w)
	}
	perWorker := e.finish(st, cps)
	ran := 0
	for _, n := range perWorker {
		if n > 0 {
			ran++
		}
	}
	if ran < 2 {
		t.Errorf("job runs per worker %v: the work was not shared", perWorker)
	}
	e.assertNoClusterErrors()

	// Every master holds tenants' keys: the tenant hash tags spread the
	// hub over the cluster instead of piling it on one node.
	for _, addr := range cluster.Addrs() {
		keys := redisContents(t, addr)
		tenants := map[string]bool{}
		for key := range keys {
			if m := tenantTag.FindStringSubmatch(key); m != nil && strings.HasPrefix(m[1], "t") {
				tenants[m[1]] = true
			}
		}
		t.Logf("master %s: %d keys of %d tenants", addr, len(keys), len(tenants))
		if len(tenants) == 0 {
			t.Errorf("master %s holds no tenant's keys", addr)
		}
	}
}

// clusterErrors are what a cluster reports to a client that breaks its
// rules: a script or transaction across slots, or a redirection the
// client failed to follow.
var clusterErrors = regexp.MustCompile(`CROSSSLOT|\bMOVED \d+ |\bASK \d+ |TRYAGAIN|CLUSTERDOWN`)

// assertNoClusterErrors fails the test with the first lines of any
// worker's log that holds a cluster error.
func (e *env) assertNoClusterErrors() {
	e.t.Helper()
	logs := []string{}
	for _, w := range e.workers {
		logs = append(logs, w.logPath)
	}
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			e.t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if clusterErrors.MatchString(line) {
				if n < 3 {
					e.t.Errorf("%s: %s", filepath.Base(path), e.redact([]byte(line)))
				}
				n++
			}
		}
		if n > 0 {
			e.t.Errorf("%s: %d lines with a cluster error", filepath.Base(path), n)
		}
	}
}
