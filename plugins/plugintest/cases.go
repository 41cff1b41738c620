package plugintest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/siphonhq/siphon/plugins/sdk"
)

// kase is one conformance case.
type kase struct {
	name string
	run  func(ctx context.Context, e *env) error
}

// cases run in this order; each uses its own tenant.
var cases = []kase{
	{"info", caseInfo},
	{"bad_config_rejected", caseBadConfig},
	{"check", func(ctx context.Context, e *env) error { return e.d.Check(ctx, e.tenant) }},
	{"empty_batch", caseEmptyBatch},
	{"idempotent_upsert", caseIdempotent},
	{"older_version_ignored", caseOlderIgnored},
	{"tenant_isolation", caseTenantIsolation},
	{"delete_no_resurrection", caseDelete},
	{"equal_version_new_hash_applied", caseEqualVersionNewHash},
	{"equal_hash_skipped", caseEqualHash},
	{"same_key_twice_in_batch", caseSameKeyTwice},
	{"keys_complete_and_ordered", caseKeysOrdered},
	{"large_batch", caseLargeBatch},
	{"scale", caseScale},
	{"concurrent_writers", caseConcurrent},
	{"compare_and_set", caseCompareAndSet},
	{"ensure_object_adds_field", caseEnsureObject},
}

func caseInfo(_ context.Context, e *env) error {
	info := e.d.Info()
	if info.Name == "" {
		return errors.New("Info().Name is empty")
	}
	for _, c := range info.Capabilities {
		switch c {
		case sdk.CapSingleNode, sdk.CapChanges, sdk.CapTransactions:
		default:
			return fmt.Errorf("unknown capability %q", c)
		}
	}
	return nil
}

func caseBadConfig(ctx context.Context, e *env) error {
	d, err := e.launch(ctx)
	if err != nil {
		return fmt.Errorf("launch a second instance: %w", err)
	}
	defer d.Close(ctx)
	diags := d.Configure(ctx, sdk.Config{Value: e.opts.BadConfig})
	if !diags.HasErrors() {
		return fmt.Errorf("config %s was accepted; want an error diagnostic", e.opts.BadConfig.GoString())
	}
	for _, dg := range diags {
		if dg.Severity == sdk.SeverityError && dg.Summary == "" {
			return errors.New("an error diagnostic has no summary")
		}
	}
	return nil
}

func caseEmptyBatch(ctx context.Context, e *env) error {
	res, err := e.d.Write(ctx, sdk.Batch{Tenant: e.tenant})
	if err != nil {
		return fmt.Errorf("empty batch: %w", err)
	}
	if len(res) != 0 {
		return fmt.Errorf("empty batch: %d results", len(res))
	}
	return nil
}

func caseIdempotent(ctx context.Context, e *env) error {
	var recs []sdk.Record
	for i := range 50 {
		recs = append(recs, e.upsert("k"+strconv.Itoa(i), at(1), "h"+strconv.Itoa(i)))
	}
	for round := range 2 {
		if _, err := e.write(ctx, recs...); err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
	}
	keys, err := e.keys(ctx, e.tenant, 1000)
	if err != nil {
		return err
	}
	if len(keys) != len(recs) {
		return fmt.Errorf("after writing 50 records twice, Keys lists %d", len(keys))
	}
	r, err := e.expectLive(ctx, e.tenant, "k7", "h7")
	if err != nil {
		return err
	}
	if got := fmt.Sprint(r.Fields["name"]); got != "name of k7 h7" {
		return fmt.Errorf("k7: field name reads %q, want %q", got, "name of k7 h7")
	}
	if !r.Version.Source.Equal(at(1).Source) {
		return fmt.Errorf("k7: source version %s, want %s", r.Version.Source, at(1).Source)
	}
	return nil
}

func caseOlderIgnored(ctx context.Context, e *env) error {
	if _, err := e.write(ctx, e.upsert("k", at(2), "new")); err != nil {
		return err
	}
	res, err := e.write(ctx, e.upsert("k", at(1), "old"))
	if err != nil {
		return fmt.Errorf("an older version must be ok (skipped), not an error: %w", err)
	}
	if !res[0].Skipped {
		return errors.New("the older version was not reported as skipped")
	}
	_, err = e.expectLive(ctx, e.tenant, "k", "new")
	return err
}

func caseTenantIsolation(ctx context.Context, e *env) error {
	a, b := e.tenant+"-a", e.tenant+"-b"
	if _, err := e.writeTenant(ctx, a, e.upsert("shared", at(1), "of-a")); err != nil {
		return err
	}
	if _, err := e.writeTenant(ctx, b, e.upsert("shared", at(1), "of-b"), e.upsert("only-b", at(1), "b2")); err != nil {
		return err
	}
	if _, err := e.writeTenant(ctx, a, e.del("shared", at(2))); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, b, "shared", "of-b"); err != nil {
		return fmt.Errorf("tenant b after tenant a deleted the same key: %w", err)
	}
	keysA, err := e.keys(ctx, a, 100)
	if err != nil {
		return err
	}
	if len(keysA) != 0 {
		return fmt.Errorf("tenant a lists %d keys (%s), want none", len(keysA), keysA[0].Key)
	}
	keysB, err := e.keys(ctx, b, 100)
	if err != nil {
		return err
	}
	if len(keysB) != 2 {
		return fmt.Errorf("tenant b lists %d keys, want 2", len(keysB))
	}
	if rows, err := e.d.Read(ctx, a, e.opts.Object, []string{"only-b"}); err != nil || len(rows) != 0 {
		return fmt.Errorf("tenant a reads tenant b's key: %d rows, err %v", len(rows), err)
	}
	return nil
}

func caseDelete(ctx context.Context, e *env) error {
	if _, err := e.write(ctx, e.upsert("k", at(10), "v10")); err != nil {
		return err
	}
	if _, err := e.write(ctx, e.del("k", at(20))); err != nil {
		return err
	}
	if r, ok, err := e.read(ctx, e.tenant, "k"); err != nil {
		return err
	} else if ok && !r.Tombstone {
		return errors.New("a deleted key still reads as live")
	}
	for _, late := range []int{15, 20} {
		res, err := e.write(ctx, e.upsert("k", at(late), "late"))
		if err != nil {
			return fmt.Errorf("late upsert at %d: %w", late, err)
		}
		if !res[0].Skipped {
			return fmt.Errorf("an upsert at version %d after a delete at 20 was not skipped", late)
		}
	}
	keys, err := e.keys(ctx, e.tenant, 100)
	if err != nil {
		return err
	}
	if len(keys) != 0 {
		return errors.New("a late older upsert resurrected a deleted key")
	}
	if _, err := e.write(ctx, e.upsert("k", at(30), "v30")); err != nil {
		return err
	}
	_, err = e.expectLive(ctx, e.tenant, "k", "v30")
	if err != nil {
		return fmt.Errorf("an upsert newer than the delete: %w", err)
	}
	return nil
}

func caseEqualVersionNewHash(ctx context.Context, e *env) error {
	gen := func(g int64, hash string) sdk.Record {
		v := at(1)
		v.Generation = g
		return e.upsert("k", v, hash)
	}
	if _, err := e.write(ctx, gen(1, "old-mapping")); err != nil {
		return err
	}
	if _, err := e.write(ctx, gen(2, "new-mapping")); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, e.tenant, "k", "new-mapping"); err != nil {
		return fmt.Errorf("equal source version, later generation, new hash: %w", err)
	}
	if _, err := e.write(ctx, gen(1, "old-mapping")); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, e.tenant, "k", "new-mapping"); err != nil {
		return fmt.Errorf("a retry with the old mapping undid the new one: %w", err)
	}
	return nil
}

func caseEqualHash(ctx context.Context, e *env) error {
	if _, err := e.write(ctx, e.upsert("k", at(1), "same")); err != nil {
		return err
	}
	v := at(1)
	v.Generation = 2
	res, err := e.write(ctx, e.upsert("k", v, "same"))
	if err != nil {
		return err
	}
	if !res[0].Skipped {
		return errors.New("an equal version with an equal hash was applied, not skipped")
	}
	r, err := e.expectLive(ctx, e.tenant, "k", "same")
	if err != nil {
		return err
	}
	if r.Version.Generation != 1 {
		return fmt.Errorf("held generation %d after a skipped write, want 1", r.Version.Generation)
	}
	return nil
}

func caseSameKeyTwice(ctx context.Context, e *env) error {
	if _, err := e.write(ctx, e.upsert("up", at(1), "first"), e.upsert("up", at(2), "second")); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, e.tenant, "up", "second"); err != nil {
		return fmt.Errorf("older then newer in one batch: %w", err)
	}
	if _, err := e.write(ctx, e.upsert("down", at(2), "newer"), e.upsert("down", at(1), "older")); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, e.tenant, "down", "newer"); err != nil {
		return fmt.Errorf("newer then older in one batch: %w", err)
	}
	if _, err := e.write(ctx, e.upsert("gone", at(1), "x"), e.del("gone", at(2))); err != nil {
		return err
	}
	if r, ok, err := e.read(ctx, e.tenant, "gone"); err != nil {
		return err
	} else if ok && !r.Tombstone {
		return errors.New("upsert then delete in one batch left the key live")
	}
	return nil
}

func caseKeysOrdered(ctx context.Context, e *env) error {
	var recs []sdk.Record
	var want []string
	// Write in a shuffled order so insertion order cannot pass for key order.
	for _, i := range rand.Perm(1000) {
		k := strconv.Itoa(i + 1)
		recs = append(recs, e.upsert(k, at(1), "h"))
		want = append(want, k)
	}
	sort.Strings(want)
	if err := e.batches(ctx, recs, 250); err != nil {
		return err
	}
	for _, limit := range []int{100, 7} {
		got, err := e.keys(ctx, e.tenant, limit)
		if err != nil {
			return fmt.Errorf("page size %d: %w", limit, err)
		}
		if len(got) != len(want) {
			return fmt.Errorf("page size %d: %d keys listed, want %d", limit, len(got), len(want))
		}
		for i, k := range got {
			if k.Key != want[i] {
				return fmt.Errorf("page size %d: key %d is %q, want %q (byte-wise order)", limit, i, k.Key, want[i])
			}
			if k.ContentHash != "h" || !k.Version.Source.Equal(at(1).Source) {
				return fmt.Errorf("key %s listed with hash %q version %s", k.Key, k.ContentHash, k.Version.Source)
			}
		}
	}
	return nil
}

func caseLargeBatch(ctx context.Context, e *env) error {
	payload := strings.Repeat("x", 8<<10)
	var recs []sdk.Record
	for i := range 600 { // about 5 MiB, over go-plugin's 4 MiB default
		r := e.upsert(fmt.Sprintf("big-%04d", i), at(1), "h")
		r.Fields["payload"] = payload
		recs = append(recs, r)
	}
	if _, err := e.write(ctx, recs...); err != nil {
		return fmt.Errorf("a 5 MiB batch: %w", err)
	}
	keys, err := e.keys(ctx, e.tenant, 1000)
	if err != nil {
		return err
	}
	if len(keys) != len(recs) {
		return fmt.Errorf("after a 600-record batch, Keys lists %d", len(keys))
	}
	r, err := e.expectLive(ctx, e.tenant, "big-0599", "h")
	if err != nil {
		return err
	}
	if got := fmt.Sprint(r.Fields["payload"]); got != payload {
		return fmt.Errorf("big-0599: payload of %d bytes read back as %d bytes", len(payload), len(got))
	}
	return nil
}

func caseScale(ctx context.Context, e *env) error {
	n := e.opts.Records
	batch := make([]sdk.Record, 0, 500)
	for i := range n {
		batch = append(batch, e.upsert(fmt.Sprintf("r%08d", i), at(i%1000), "h"+strconv.Itoa(i)))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := e.write(ctx, batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	keys, err := e.keys(ctx, e.tenant, 1000)
	if err != nil {
		return err
	}
	if len(keys) != n {
		return fmt.Errorf("wrote %d records, Keys lists %d", n, len(keys))
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if n == 0 {
			break
		}
		if _, err := e.expectLive(ctx, e.tenant, fmt.Sprintf("r%08d", i), "h"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return nil
}

func caseConcurrent(ctx context.Context, e *env) error {
	const writers, keys = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Writer w writes version w+1 of every key, in its own order,
			// so the writers interleave on every key.
			var recs []sdk.Record
			for _, k := range rand.Perm(keys) {
				recs = append(recs, e.upsert("c"+strconv.Itoa(k), at(w+1), "w"+strconv.Itoa(w+1)))
			}
			if err := e.batches(ctx, recs, 10); err != nil {
				errs <- fmt.Errorf("writer %d: %w", w, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for k := range keys {
		if _, err := e.expectLive(ctx, e.tenant, "c"+strconv.Itoa(k), "w"+strconv.Itoa(writers)); err != nil {
			return fmt.Errorf("after %d concurrent writers the newest version must win: %w", writers, err)
		}
	}
	return nil
}

func caseCompareAndSet(ctx context.Context, e *env) error {
	cas := func(r sdk.Record, kind sdk.ExpectKind, v sdk.Version) sdk.Record {
		r.Expect = &sdk.Expect{Kind: kind, Version: v}
		return r
	}
	step := func(what string, r sdk.Record, want sdk.Status) error {
		res, err := e.write(ctx, r)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if res[0].Status != want {
			return fmt.Errorf("%s: status %s, want %s (%s)", what, statusName(res[0].Status), statusName(want), res[0].Message)
		}
		return nil
	}
	if err := step("expect absent on an absent key", cas(e.upsert("k", at(10), "a"), sdk.ExpectAbsent, sdk.Version{}), sdk.StatusOK); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, e.tenant, "k", "a"); err != nil {
		return err
	}
	if err := step("expect absent on a held key", cas(e.upsert("k", at(11), "b"), sdk.ExpectAbsent, sdk.Version{}), sdk.StatusConflict); err != nil {
		return err
	}
	// A source restored from backup moved updated_at backwards: the repair
	// applies an older version because the held one is exactly as expected.
	if err := step("expect version, older source", cas(e.upsert("k", at(5), "restored"), sdk.ExpectVersion, at(10)), sdk.StatusOK); err != nil {
		return err
	}
	if _, err := e.expectLive(ctx, e.tenant, "k", "restored"); err != nil {
		return fmt.Errorf("compare-and-set with an older version: %w", err)
	}
	if err := step("expect a version no longer held", cas(e.upsert("k", at(50), "c"), sdk.ExpectVersion, at(10)), sdk.StatusConflict); err != nil {
		return err
	}
	if _, err := e.write(ctx, e.del("k", at(6))); err != nil {
		return err
	}
	if err := step("expect tombstone", cas(e.upsert("k", at(3), "back"), sdk.ExpectTombstone, at(6)), sdk.StatusOK); err != nil {
		return err
	}
	_, err := e.expectLive(ctx, e.tenant, "k", "back")
	return err
}

func caseEnsureObject(ctx context.Context, e *env) error {
	obj := e.opts.Object + "_widen"
	base := []sdk.FieldSpec{{Name: "name", Type: sdk.TypeString}}
	if err := e.d.EnsureObject(ctx, sdk.ObjectSpec{Object: obj, Fields: base}); err != nil {
		return err
	}
	rec := func(key string, fields map[string]any) sdk.Record {
		return sdk.Record{Op: sdk.OpUpsert, Object: obj, Key: key, Version: at(1), ContentHash: key, Fields: fields}
	}
	if _, err := e.write(ctx, rec("before", map[string]any{"name": "kept"})); err != nil {
		return err
	}
	wider := append(base, sdk.FieldSpec{Name: "added", Type: sdk.TypeString})
	if err := e.d.EnsureObject(ctx, sdk.ObjectSpec{Object: obj, Fields: wider}); err != nil {
		return fmt.Errorf("add a field: %w", err)
	}
	if err := e.d.EnsureObject(ctx, sdk.ObjectSpec{Object: obj, Fields: wider}); err != nil {
		return fmt.Errorf("ensure the same object twice: %w", err)
	}
	if _, err := e.write(ctx, rec("after", map[string]any{"name": "new", "added": "yes"})); err != nil {
		return err
	}
	rows, err := e.d.Read(ctx, e.tenant, obj, []string{"before", "after"})
	if err != nil {
		return err
	}
	got := map[string]sdk.Row{}
	for _, r := range rows {
		got[r.Key] = r
	}
	if fmt.Sprint(got["before"].Fields["name"]) != "kept" {
		return fmt.Errorf("adding a field lost data: before.name = %v", got["before"].Fields["name"])
	}
	if fmt.Sprint(got["after"].Fields["added"]) != "yes" {
		return fmt.Errorf("the added field did not store: after.added = %v", got["after"].Fields["added"])
	}
	return nil
}
