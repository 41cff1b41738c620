package memory_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/siphonhq/siphon/plugins/examples/memory"
	"github.com/siphonhq/siphon/plugins/host"
	"github.com/siphonhq/siphon/plugins/plugintest"
	"github.com/siphonhq/siphon/plugins/sdk"
)

// TestMain serves the destination when the host starts this test binary
// as a plugin.
func TestMain(m *testing.M) {
	if os.Getenv("SIPHON_TEST_PLUGIN") == "memory" {
		sdk.Serve(memory.New())
		return
	}
	os.Exit(m.Run())
}

func TestConformanceInProcess(t *testing.T) {
	plugintest.Run(t, func(testing.TB) sdk.Destination { return memory.New() })
}

func TestConformanceAsPlugin(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	plugintest.Run(t, func(t testing.TB) sdk.Destination {
		d, err := host.Launch(context.Background(), host.LaunchConfig{
			Name: "memory", Plugin: "memory", Path: exe, Env: []string{"SIPHON_TEST_PLUGIN=memory"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, plugintest.WithRecords(2000), // the host's tests run 10,000 through a plugin
		plugintest.WithConfig(cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(filepath.Join(t.TempDir(), "kit.log"))})))
}

// TestChangeLogReplay: a restarted destination reads back what it held,
// field types included.
func TestChangeLogReplay(t *testing.T) {
	ctx := context.Background()
	cfg := sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(filepath.Join(t.TempDir(), "c.log"))})}
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	fields := map[string]any{"n": int64(1) << 60, "f": 2.5, "at": at, "list": []any{int64(1), "x"}, "nil": nil}
	v := sdk.Version{Source: at, Generation: 2, Seq: 3}

	d := memory.New()
	if diags := d.Configure(ctx, cfg); diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{
		{Object: "o", Key: "k", Version: v, ContentHash: "h", Fields: fields},
		{Object: "o", Key: "gone", Version: v, ContentHash: "h"},
		{Op: sdk.OpDelete, Object: "o", Key: "gone", Version: v},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}

	again := memory.New()
	if diags := again.Configure(ctx, cfg); diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	rows, err := again.Read(ctx, "acme", "o", []string{"k", "gone"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for _, r := range rows {
		switch r.Key {
		case "k":
			if !reflect.DeepEqual(r.Fields, fields) || r.Version.Compare(v) != 0 {
				t.Fatalf("replayed %#v %+v", r.Fields, r.Version)
			}
		case "gone":
			if !r.Tombstone {
				t.Fatal("the tombstone was not replayed")
			}
		}
	}
}

func TestBadConfig(t *testing.T) {
	diags := memory.New().Configure(context.Background(), sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"path": cty.ListValEmpty(cty.String)})})
	if !diags.HasErrors() || diags[0].Path[0] != "path" {
		t.Fatalf("%#v", diags)
	}
}
