package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// The tenants of the isolation tests: b's id starts with a's, so a key
// scheme or a scan that matched tenants by prefix would reach b from a.
const isoA, isoB = "acme", "acme2"

// TestOperatorCommandsIsolateTenants: every operator command run on tenant
// a (dlq show, replay and purge with b's letter ids and with --all,
// checkpoint set and reset, credentials rotate and delete, pipeline
// resume, status, tenant disable, enable and offboard) leaves every piece of tenant b's state as it was, read
// through the store's interface and, below it, byte for byte in the
// backend (b's bbolt buckets; b's Redis keys, DUMPed).
func TestOperatorCommandsIsolateTenants(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		dir := twoTenantConfig(t, "http://127.0.0.1:9/v1", isoA, isoB)
		path := filepath.Join(dir, ".siphon", "state.db")
		isolationCase(t, dir, path, nil, func() any { return boltTenant(t, path, isoB) })
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		dir := twoTenantConfig(t, "http://127.0.0.1:9/v1", isoA, isoB)
		rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		defer rc.Close()
		isolationCase(t, dir, srv.URL(), []string{"--store", srv.URL()}, func() any { return redisTenant(t, rc, isoB) })
	})
}

func isolationCase(t *testing.T, dir, storeURL string, storeArgs []string, raw func() any) {
	ctx := context.Background()
	open := func(fn func(st state.Store)) {
		t.Helper()
		st, err := state.Open(ctx, storeURL, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(st)
	}
	cmd := func(args ...string) (int, string) {
		t.Helper()
		args = append(append(args, "--config", dir), storeArgs...)
		code, out, errOut := siphon(t, args...)
		return code, out + errOut
	}
	for _, id := range []string{isoA, isoB} {
		withStdin(t, "token-of-"+id+"\n", func() {
			if code, out := cmd("credentials", "set", id); code != 0 {
				t.Fatalf("credentials set %s: %s", id, out)
			}
		})
	}
	// Both tenants: a cursor with a walk in progress, queued work, dead
	// letters, flags. b has more letters than a, so some of its ids are
	// not a's too.
	var bIDs, aIDs []string
	open(func(st state.Store) {
		for _, id := range []string{isoA, isoB} {
			if _, err := st.SetCursor(ctx, id, "volunteers", walkAfter); err != nil {
				t.Fatal(err)
			}
			startWalk(t, ctx, st, id, 1)
			keys := []string{"1"}
			if id == isoB {
				keys = []string{"1", "2", "3", "4"}
			}
			deadLetters(t, ctx, st, id, keys...)
			queueWork(t, ctx, st, id, "q1", "q2")
			if err := st.SetFlag(ctx, id, state.Flag{Kind: state.FlagLastError, Reason: "seeded for " + id, At: testVersion}); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range letters(t, ctx, st, isoB) {
			bIDs = append(bIDs, l.ID)
		}
		for _, l := range letters(t, ctx, st, isoA) {
			aIDs = append(aIDs, l.ID)
		}
	})
	onlyB := slices.DeleteFunc(slices.Clone(bIDs), func(id string) bool { return slices.Contains(aIDs, id) })
	if len(onlyB) == 0 {
		t.Fatalf("no letter id of %s that %s lacks: %v, %v", isoB, isoA, bIDs, aIDs)
	}
	var aBefore, bBefore any
	open(func(st state.Store) { aBefore, bBefore = tenantView(t, ctx, st, isoA), tenantView(t, ctx, st, isoB) })
	rawBefore := raw()

	// Letter ids of b named on a are not found, and nothing changes.
	for _, verb := range []string{"show", "replay", "purge"} {
		args := append([]string{"dlq", verb, isoA}, onlyB...)
		if verb == "show" {
			args = args[:4]
		}
		code, out := cmd(args...)
		if code != 1 || !strings.Contains(out, "no dead letter") {
			t.Errorf("dlq %s %s with %s's ids: exit %d: %s", verb, isoA, isoB, code, out)
		}
	}
	for _, args := range [][]string{
		{"dlq", "replay", isoA, "--all"},
		{"dlq", "purge", isoA, "--all", "--yes"},
		{"checkpoint", "set", isoA, "volunteers", "--cursor", "2025-06-01T00:00:00Z"},
		{"checkpoint", "reset", isoA, "volunteers"},
		{"credentials", "rotate", isoA},
		{"credentials", "delete", isoA},
		{"pipeline", "resume", isoA, "volunteers"},
		{"status", isoA},
		{"dlq", "list", isoA},
		{"checkpoint", "get", isoA},
		{"tenant", "disable", isoA, "--reason", "isolation test"},
		{"tenant", "enable", isoA},
		// Last: it removes every bit of a's state.
		{"tenant", "offboard", isoA, "--yes"},
	} {
		if code, out := cmd(args...); code != 0 {
			t.Errorf("%s: exit %d: %s", strings.Join(args, " "), code, out)
		}
	}

	var aAfter, bAfter any
	open(func(st state.Store) { aAfter, bAfter = tenantView(t, ctx, st, isoA), tenantView(t, ctx, st, isoB) })
	if !reflect.DeepEqual(bBefore, bAfter) {
		t.Errorf("commands on %s changed %s's state:\nbefore %s\nafter  %s", isoA, isoB, jsonOf(bBefore), jsonOf(bAfter))
	}
	if rawAfter := raw(); !reflect.DeepEqual(rawBefore, rawAfter) {
		t.Errorf("commands on %s changed %s's keys in the backend:\nbefore %s\nafter  %s", isoA, isoB, jsonOf(rawBefore), jsonOf(rawAfter))
	}
	// The commands did act on a: the comparison above is not of two
	// untouched stores.
	if reflect.DeepEqual(aBefore, aAfter) {
		t.Fatalf("the commands changed nothing of %s either", isoA)
	}
	open(func(st state.Store) {
		if _, err := st.Credential(ctx, isoA); err == nil {
			t.Errorf("credentials delete %s left its credential", isoA)
		}
		if len(letters(t, ctx, st, isoA)) != 0 {
			t.Errorf("dlq purge --all %s left letters", isoA)
		}
	})
}

// queueWork enqueues entries on the tenant's db queue, left unclaimed.
func queueWork(t *testing.T, ctx context.Context, st state.Store, tenant string, keys ...string) {
	t.Helper()
	q := state.QueueRef{Tenant: tenant, Destination: "db", Lane: "default"}
	var es []state.Entry
	for _, k := range keys {
		es = append(es, state.Entry{Pipeline: "volunteers", Key: k, Op: "upsert", Version: testVersion, ConfigGeneration: 7,
			ContentHash: "h" + k, Payload: []byte(`{"id":"` + k + `"}`)})
	}
	l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "seed-queue", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := st.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
}

// tenantView is a tenant's state as the store's interface shows it:
// checkpoint, flags, sealed credential, dead letters, queue depth and
// audit log.
func tenantView(t *testing.T, ctx context.Context, st state.Store, tenant string) any {
	t.Helper()
	cp, err := st.Checkpoint(ctx, tenant, "volunteers")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := st.Flags(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := st.Credential(ctx, tenant)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		t.Fatal(err)
	}
	depth, err := st.Depth(ctx, state.QueueRef{Tenant: tenant, Destination: "db", Lane: "default"})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"checkpoint": cp, "flags": flags, "credential": cred, "letters": letters(t, ctx, st, tenant),
		"depth": depth, "audit": auditLog(t, ctx, st, tenant)}
}

// boltTenant is every key and value under the tenant's bucket of a local
// store, nested buckets included, read from the file directly.
func boltTenant(t *testing.T, path, tenant string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte("t"))
		if root == nil {
			return fmt.Errorf("no tenants bucket")
		}
		tb := root.Bucket([]byte(tenant))
		if tb == nil {
			return fmt.Errorf("no bucket for %s", tenant)
		}
		var walk func(prefix string, b *bolt.Bucket) error
		walk = func(prefix string, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					out[prefix+string(k)+"/"] = ""
					return walk(prefix+string(k)+"/", b.Bucket(k))
				}
				out[prefix+string(k)] = string(v)
				return nil
			})
		}
		return walk("", tb)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s has nothing in the store", tenant)
	}
	return out
}

// redisTenant is every key of the tenant's hash tag, with its DUMP.
func redisTenant(t *testing.T, rc *goredis.Client, tenant string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rc.Scan(ctx, 0, "*{"+tenant+"}*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		d, err := rc.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("dump %s: %v", k, err)
		}
		out[k] = d
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no keys in Redis", tenant)
	}
	return out
}

func jsonOf(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
	return b.String()
}
