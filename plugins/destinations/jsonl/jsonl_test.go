package jsonl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations"

	"github.com/siphonhq/siphon/plugins/destinations/internal/desttest"
	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
)

func configured(t testing.TB, dir string) *Destination {
	t.Helper()
	d := New()
	if diags := d.Configure(context.Background(), sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal(dir)})}); diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return d
}

func TestSuite(t *testing.T) {
	desttest.Run(t, func(t *testing.T) sdk.Destination { return configured(t, t.TempDir()) })
}

func ensure(t *testing.T, d *Destination) {
	t.Helper()
	if err := d.EnsureObject(context.Background(), sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, d *Destination, recs ...sdk.Record) []sdk.Result {
	t.Helper()
	res, err := d.Write(context.Background(), sdk.Batch{Tenant: "acme", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRegistered(t *testing.T) {
	f, ok := destinations.Lookup(Name)
	if !ok {
		t.Fatalf("%s is not registered", Name)
	}
	if info := f().Info(); !info.Has(sdk.CapSingleNode) {
		t.Errorf("capabilities %v", info.Capabilities)
	}
}

func TestConfigure(t *testing.T) {
	cases := []struct {
		name     string
		cfg      cty.Value
		wantPath []string
	}{
		{"dir", cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("out")}), nil},
		{"unknown dir", cty.ObjectVal(map[string]cty.Value{"dir": cty.UnknownVal(cty.String)}), nil},
		{"missing dir", cty.EmptyObjectVal, []string{"dir"}},
		{"dir not a string", cty.ObjectVal(map[string]cty.Value{"dir": cty.ListValEmpty(cty.String)}), []string{"dir"}},
		{"unknown attribute", cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal("x"), "fsync": cty.True}), []string{"fsync"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diags := New().Configure(context.Background(), sdk.Config{Value: c.cfg})
			desttest.ExpectDiagnostics(t, diags, c.wantPath)
		})
	}
}

// A second owner of the directory fails at once and names the holder; once
// the first closes, the directory is free.
func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	a := configured(t, dir)
	if err := a.Check(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	b := configured(t, dir)
	err := b.Check(context.Background(), "acme")
	if err == nil {
		t.Fatal("a second destination took the same directory")
	}
	if want := fmt.Sprintf("pid %d on host", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the holder (%q)", err, want)
	}
	if _, err := b.Write(context.Background(), sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert("1", 1, "h", nil)}}); err == nil {
		t.Error("a write without the lock succeeded")
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(context.Background(), "acme"); err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
	b.Close(context.Background())
}

// The index is rebuilt from the log: versions, tombstones and fields
// survive a restart, and only accepted changes were appended.
func TestReopenRebuildsIndex(t *testing.T) {
	dir := t.TempDir()
	d := configured(t, dir)
	ensure(t, d)
	write(t, d, desttest.Upsert("1", 10, "h1", map[string]any{"name": "Ada", "joined_at": desttest.At(3)}), desttest.Delete("2", 5))
	write(t, d, desttest.Upsert("1", 9, "old", nil), desttest.Upsert("1", 10, "h1", nil)) // both skipped
	write(t, d, desttest.Upsert("3", 1, "h", nil))
	d.Close(context.Background())

	log, err := os.ReadFile(filepath.Join(dir, "acme", desttest.Object+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "\n"); n != 3 {
		t.Errorf("%d lines, want 3 (only accepted changes):\n%s", n, log)
	}

	d = configured(t, dir)
	defer d.Close(context.Background())
	if res := write(t, d, desttest.Upsert("2", 4, "late", nil)); !res[0].Skipped {
		t.Errorf("late upsert after a restart: %+v", res[0])
	}
	rows, err := d.Read(context.Background(), "acme", desttest.Object, []string{"1", "2"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	for _, r := range rows {
		switch r.Key {
		case "1":
			if r.Tombstone || r.Fields["name"] != "Ada" || !r.Version.Source.Equal(desttest.At(10)) {
				t.Errorf("row 1 %+v", r)
			}
			if ts, ok := r.Fields["joined_at"].(time.Time); !ok || !ts.Equal(desttest.At(3)) {
				t.Errorf("joined_at %#v", r.Fields["joined_at"])
			}
		case "2":
			if !r.Tombstone || !r.Version.Source.Equal(desttest.At(5)) {
				t.Errorf("row 2 %+v", r)
			}
		}
	}
}

// A crash mid-append leaves a torn last line; it was never acknowledged and
// is cut off at the next open.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	d := configured(t, dir)
	ensure(t, d)
	write(t, d, desttest.Upsert("1", 1, "h", nil))
	d.Close(context.Background())
	path := filepath.Join(dir, "acme", desttest.Object+".jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"op":"upsert","key":"2","sour`)
	f.Close()

	d = configured(t, dir)
	defer d.Close(context.Background())
	write(t, d, desttest.Upsert("3", 1, "h", nil))
	keys, err := d.Keys(context.Background(), sdk.KeysRequest{Tenant: "acme", Object: desttest.Object, Limit: 10})
	if err != nil || len(keys) != 2 || keys[0].Key != "1" || keys[1].Key != "3" {
		t.Fatalf("keys %v, %v", keys, err)
	}
	b, _ := os.ReadFile(path)
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON: %s", i+1, l)
		}
	}
}

func TestTenantMustNameADirectory(t *testing.T) {
	d := configured(t, t.TempDir())
	defer d.Close(context.Background())
	ensure(t, d)
	for _, tenant := range []string{"../escape", ".siphon", "a/b", ""} {
		_, err := d.Write(context.Background(), sdk.Batch{Tenant: tenant, Records: []sdk.Record{desttest.Upsert("1", 1, "h", nil)}})
		if err == nil || !sdk.IsPermanent(err) {
			t.Errorf("tenant %q: %v, want a permanent error", tenant, err)
		}
	}
}

func TestTombstonesExpire(t *testing.T) {
	dir := t.TempDir()
	d := configured(t, dir)
	ensure(t, d)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return clock }
	write(t, d, desttest.Delete("old", 1))
	clock = clock.Add(20 * 24 * time.Hour)
	write(t, d, desttest.Delete("young", 1))
	clock = clock.Add(11 * 24 * time.Hour)
	write(t, d, desttest.Upsert("other", 1, "h", nil))
	check := func(d *Destination) {
		t.Helper()
		rows, err := d.Read(context.Background(), "acme", desttest.Object, []string{"old", "young"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Key != "young" || !rows[0].Tombstone {
			t.Fatalf("rows %+v, want only young's tombstone", rows)
		}
	}
	check(d)
	d.Close(context.Background())
	d = configured(t, dir) // and when the index is rebuilt
	d.now = func() time.Time { return clock }
	defer d.Close(context.Background())
	check(d)
}
