package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/clock"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// Two regions on two Redis servers: half the tenants are in region "eu",
// whose store is a second Redis named by an environment variable, the
// others have no region and live in the hub's Redis. One worker runs the
// hub (`siphon run`), two run the EU (`siphon run --region eu`), while the
// source churns; after quiescence the destination is exact for every
// tenant, `siphon status` reads each tenant from its own store, and a scan
// of both servers finds every key of an EU tenant in the EU Redis and none
// in the hub's, and the other way round. The active configuration lives
// in the hub's Redis only.
func TestRegionsKeepStateApart(t *testing.T) {
	binaries(t)
	hubRedis := redistest.Start(t)
	euRedis := redistest.Start(t)
	e := &env{t: t, size: size{tenants: 6, users: 200, chaos: 6 * time.Second, churn: 12}, dir: testDir(t),
		epoch: time.Now(), revoked: map[string]bool{}}
	if soak() {
		e.size = size{tenants: 20, users: 5000, chaos: time.Minute, churn: 12}
	}
	e.clk = clock.NewScaledSince(e.epoch, clockScale)
	e.store = hubRedis.URL()
	e.sim = e.startSim()
	e.cfg = filepath.Join(e.dir, "hub")
	e.writeConfig(true)

	// The workers inherit the test's environment less SIPHON_* (siphonEnv),
	// so the EU store comes from a variable of another name.
	t.Setenv("E2E_EU_STORE", euRedis.URL())
	eu := map[string]bool{}
	var tenants strings.Builder
	tenants.WriteString("region \"eu\" {\n  store = env(\"E2E_EU_STORE\")\n}\n")
	for i, id := range e.sim.tenants {
		region := ""
		if i%2 == 0 {
			eu[id] = true
			region = "  region = \"eu\"\n"
		}
		fmt.Fprintf(&tenants, "tenant %q {\n%s  pipelines = [pipeline.volunteers]\n  backfill_at = \"now\"\n}\n", id, region)
	}
	if err := os.WriteFile(filepath.Join(e.cfg, "tenants.hcl"), []byte(tenants.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// credentials set finds each tenant's store itself: --store names the
	// hub's only.
	for _, id := range e.sim.tenants {
		e.siphon(strings.NewReader(e.sim.tokens[id]+"\n"), "credentials", "set", id, "--config", e.cfg, "--store", e.store)
	}

	hubSt := e.openStore()
	defer hubSt.Close()
	euSt, err := state.Open(context.Background(), euRedis.URL(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer euSt.Close()
	st := regionRouter{Store: hubSt, region: euSt, in: eu}
	cps := e.newCheckpoints()
	cps.start(st)
	live := []*worker{e.startWorker(), e.startWorker("--region", "eu"), e.startWorker("--region", "eu")}
	e.waitFor(e.size.chaos+time.Minute, "the run", pacer(e.size.chaos))
	e.quiesce(st)

	var status []struct {
		Tenant    string
		Pipelines []struct{ Cursor time.Time }
	}
	if err := json.Unmarshal([]byte(e.siphon(nil, "status", "--json", "--config", e.cfg, "--store", e.store)), &status); err != nil {
		t.Fatalf("siphon status --json: %v", err)
	}
	if len(status) != len(e.sim.tenants) {
		t.Errorf("siphon status lists %d tenants, want %d", len(status), len(e.sim.tenants))
	}
	for _, s := range status {
		if len(s.Pipelines) != 1 || s.Pipelines[0].Cursor.IsZero() {
			t.Errorf("siphon status shows no cursor for %s (eu %v): %+v", s.Tenant, eu[s.Tenant], s.Pipelines)
		}
	}
	for _, w := range live {
		e.stop(w)
	}
	perWorker := e.finish(st, cps)
	if perWorker[live[0].name] == 0 || perWorker[live[1].name]+perWorker[live[2].name] == 0 {
		t.Errorf("job runs per worker %v: the hub's worker and the EU's should each have run jobs", perWorker)
	}

	hubKeys, euKeys := redisContents(t, hubRedis.Addr), redisContents(t, euRedis.Addr)
	checkResidency(t, "the hub's Redis", hubKeys, func(tenant string) bool { return !eu[tenant] }, e.sim.tenants)
	checkResidency(t, "the EU Redis", euKeys, func(tenant string) bool { return eu[tenant] }, e.sim.tenants)
	for _, key := range []string{"sx:{hub}:config"} {
		if _, ok := hubKeys[key]; !ok {
			t.Errorf("the hub's Redis has no %s: the configuration was not activated in the hub store", key)
		}
		if _, ok := euKeys[key]; ok {
			t.Errorf("the EU Redis holds %s: a regional run activated the configuration in its region's store", key)
		}
	}
}

// regionRouter reads each tenant's state from the store its region keeps
// it in, so the suite's checks (quiescence, checkpoints, dead letters)
// run unchanged over two stores. Everything else is the hub store's.
type regionRouter struct {
	state.Store // the hub's
	region      state.Store
	in          map[string]bool // tenants of the region
}

func (r regionRouter) of(tenant string) state.Store {
	if r.in[tenant] {
		return r.region
	}
	return r.Store
}

func (r regionRouter) Checkpoint(ctx context.Context, tenant, pipeline string) (state.Checkpoint, error) {
	return r.of(tenant).Checkpoint(ctx, tenant, pipeline)
}

func (r regionRouter) Depth(ctx context.Context, q state.QueueRef) (state.Depth, error) {
	return r.of(q.Tenant).Depth(ctx, q)
}

func (r regionRouter) DeadLetterList(ctx context.Context, tenant, after string, limit int) ([]state.DeadLetter, string, error) {
	return r.of(tenant).DeadLetterList(ctx, tenant, after, limit)
}

func (r regionRouter) Flags(ctx context.Context, tenant string) ([]state.Flag, error) {
	return r.of(tenant).Flags(ctx, tenant)
}

// redisContents reads every key of a server with what it holds as text
// (members, fields and values, stream entries), so a check can look for
// a tenant's name in both.
func redisContents(t *testing.T, addr string) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	out := map[string]string{}
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := c.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("TYPE %s: %v", key, err)
		}
		var parts []string
		switch typ {
		case "string":
			v, _ := c.Get(ctx, key).Result()
			parts = append(parts, v)
		case "hash":
			m, _ := c.HGetAll(ctx, key).Result()
			for k, v := range m {
				parts = append(parts, k, v)
			}
		case "list":
			parts, _ = c.LRange(ctx, key, 0, -1).Result()
		case "set":
			parts, _ = c.SMembers(ctx, key).Result()
		case "zset":
			parts, _ = c.ZRange(ctx, key, 0, -1).Result()
		case "stream":
			msgs, _ := c.XRange(ctx, key, "-", "+").Result()
			for _, m := range msgs {
				for k, v := range m.Values {
					parts = append(parts, k, fmt.Sprint(v))
				}
			}
		}
		out[key] = strings.Join(parts, "\n")
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN %s: %v", addr, err)
	}
	return out
}

var tenantTag = regexp.MustCompile(`\{([^{}]+)\}`)

// checkResidency checks one server's keys: every key in a tenant's hash
// slot belongs to a tenant that lives here, every such tenant has keys
// here, and no hub-wide key (due and ready indexes, budgets) names a
// tenant that lives elsewhere. The active configuration's summary names
// every tenant of the configuration by design: it is the hub's
// configuration, not a tenant's state. So does the hub audit log, which
// records every operator action on any tenant (who, when, what; never the
// tenant's data, see cmd/siphon TestAuditOfRegionalTenantReachesTheHub).
func checkResidency(t *testing.T, where string, keys map[string]string, here func(string) bool, tenants []string) {
	t.Helper()
	isTenant := map[string]bool{}
	for _, id := range tenants {
		isTenant[id] = true
	}
	has := map[string]int{}
	for key, content := range keys {
		if m := tenantTag.FindStringSubmatch(key); m != nil && isTenant[m[1]] {
			if !here(m[1]) {
				t.Errorf("%s holds %s, a key of tenant %s, who lives in another store", where, key, m[1])
			}
			has[m[1]]++
			continue
		}
		if strings.HasSuffix(key, ":{hub}:config") || strings.HasSuffix(key, ":{hub}:superseded") || strings.HasSuffix(key, ":{hub}:audit") {
			continue
		}
		for _, id := range tenants {
			if !here(id) && regexp.MustCompile(`\b`+regexp.QuoteMeta(id)+`\b`).MatchString(key+"\n"+content) {
				t.Errorf("%s: hub-wide key %s names tenant %s, who lives in another store", where, key, id)
			}
		}
	}
	for _, id := range tenants {
		if here(id) && has[id] == 0 {
			t.Errorf("%s holds no key of %s, whose state should be there", where, id)
		}
	}
	t.Logf("%s: %d keys; keys per tenant %v", where, len(keys), has)
}
