package plugintest_test

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/plugintest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// lastWriteWins ignores the version rule and applies every write as it
// comes: the classic bug the kit exists to catch.
type lastWriteWins struct {
	*memory.Destination
	mu   sync.Mutex
	rows map[string]sdk.Row // by tenant/object/key
}

func (d *lastWriteWins) Write(_ context.Context, b sdk.Batch) ([]sdk.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range b.Records {
		d.rows[b.Tenant+"/"+r.Object+"/"+r.Key] = sdk.Row{Key: r.Key, Version: r.Version, ContentHash: r.ContentHash, Tombstone: r.Op == sdk.OpDelete, Fields: r.Fields}
	}
	return make([]sdk.Result, len(b.Records)), nil
}

func (d *lastWriteWins) Keys(_ context.Context, req sdk.KeysRequest) ([]sdk.KeyEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []sdk.KeyEntry
	for id, r := range d.rows {
		if strings.HasPrefix(id, req.Tenant+"/"+req.Object+"/") && !r.Tombstone && r.Key > req.After {
			out = append(out, sdk.KeyEntry{Key: r.Key, Version: r.Version, ContentHash: r.ContentHash})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out[:min(len(out), req.Limit)], nil
}

func (d *lastWriteWins) Read(_ context.Context, tenant, object string, keys []string) ([]sdk.Row, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []sdk.Row
	for _, k := range keys {
		if r, ok := d.rows[tenant+"/"+object+"/"+k]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// acceptsAnything never rejects a config.
type acceptsAnything struct{ *memory.Destination }

func (acceptsAnything) Configure(context.Context, sdk.Config) sdk.Diagnostics { return nil }

func TestKitCatchesBrokenDestinations(t *testing.T) {
	cases := []struct {
		name string
		new  func() sdk.Destination
		fail []string
	}{
		{"accepts any config", func() sdk.Destination { return acceptsAnything{memory.New()} }, []string{"bad_config_rejected"}},
		{"ignores versions", func() sdk.Destination { return &lastWriteWins{Destination: memory.New(), rows: map[string]sdk.Row{}} }, []string{"older_version_ignored", "delete_no_resurrection", "equal_hash_skipped", "compare_and_set"}},
		// concurrent_writers is not listed: whether it catches a destination
		// that ignores versions depends on how the writers interleave.
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := plugintest.Check(context.Background(), func(context.Context) (sdk.Destination, error) { return c.new(), nil }, plugintest.WithRecords(100))
			if rep.OK() {
				t.Fatal("the kit passed a broken destination")
			}
			failed := map[string]error{}
			for _, cr := range rep.Cases {
				if cr.Err != nil {
					failed[cr.Name] = cr.Err
				}
			}
			for _, name := range c.fail {
				if failed[name] == nil {
					t.Errorf("case %s passed", name)
				}
			}
			var out bytes.Buffer
			if err := rep.Write(&out, "broken"); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "FAIL  ") {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}

func TestCheckReportsLaunchFailure(t *testing.T) {
	rep := plugintest.Check(context.Background(), func(context.Context) (sdk.Destination, error) {
		return nil, errors.New("no such plugin")
	})
	var out bytes.Buffer
	_ = rep.Write(&out, "x")
	if rep.OK() || !strings.Contains(out.String(), "FAIL  launch: no such plugin") {
		t.Fatalf("%s", out.String())
	}
}
