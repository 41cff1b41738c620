package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/siphonhq/siphon/plugins/destinations"

	"github.com/siphonhq/siphon/plugins/destinations/internal/desttest"
	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
)

func openTemp(t testing.TB) *Destination {
	t.Helper()
	d := New()
	cfg := sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(filepath.Join(t.TempDir(), "dest.db"))})}
	if diags := d.Configure(context.Background(), cfg); diags.HasErrors() {
		t.Fatalf("configure: %v", diags.Err())
	}
	return d
}

func TestSuite(t *testing.T) {
	desttest.Run(t, func(t *testing.T) sdk.Destination { return openTemp(t) })
}

func TestRegistered(t *testing.T) {
	f, ok := destinations.Lookup(Name)
	if !ok {
		t.Fatalf("%s is not registered", Name)
	}
	info := f().Info()
	if !info.Has(sdk.CapSingleNode) || !info.Has(sdk.CapTransactions) {
		t.Errorf("capabilities %v", info.Capabilities)
	}
}

func TestConfigure(t *testing.T) {
	cases := []struct {
		name     string
		cfg      cty.Value
		wantPath []string // nil: no error
	}{
		{"default", cty.EmptyObjectVal, nil},
		{"null", cty.NullVal(cty.EmptyObject), nil},
		{"path", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("x.db")}), nil},
		{"unknown at plan time", cty.ObjectVal(map[string]cty.Value{"path": cty.UnknownVal(cty.String)}), nil},
		{"wholly unknown", cty.UnknownVal(cty.DynamicPseudoType), nil},
		{"not a string", cty.ObjectVal(map[string]cty.Value{"path": cty.NumberIntVal(3)}), []string{"path"}},
		{"empty", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("")}), []string{"path"}},
		{"query in path", cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("a.db?mode=ro")}), []string{"path"}},
		{"unknown attribute", cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("x")}), []string{"dsn"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diags := New().Configure(context.Background(), sdk.Config{Value: c.cfg})
			desttest.ExpectDiagnostics(t, diags, c.wantPath)
		})
	}
}

func TestDefaultPathIsRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	d := New()
	if diags := d.Configure(context.Background(), sdk.Config{Value: cty.EmptyObjectVal}); diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultPath)); !os.IsNotExist(err) {
		t.Fatalf("Configure created the database: %v", err)
	}
	if err := d.Check(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if _, err := os.Stat(filepath.Join(dir, DefaultPath)); err != nil {
		t.Fatalf("database not at %s: %v", DefaultPath, err)
	}
}

func TestUnconfigured(t *testing.T) {
	if err := New().Check(context.Background(), "acme"); err == nil {
		t.Fatal("Check of an unconfigured destination succeeded")
	}
}

// A reader holding a read transaction open (a user's sqlite3, a slow
// reconcile) must not block the writer: WAL.
func TestReaderDoesNotBlockWriter(t *testing.T) {
	d := openTemp(t)
	defer d.Close(context.Background())
	ctx := context.Background()
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert("1", 1, "h", nil)}}); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", d.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM volunteers`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
	var mode string
	if err := tx.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
	// The write must succeed while the read transaction is open; with a
	// rollback journal it would wait out the busy timeout and fail.
	res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert("2", 1, "h", nil)}})
	if err != nil || res[0].Status != sdk.StatusOK {
		t.Fatalf("write under an open reader: %v %v", res, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM volunteers`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the reader's snapshot moved: %d, %v", n, err)
	}
}

// Two destinations on one file (two plugin processes of one host) both
// write; the busy timeout serializes them.
func TestTwoWritersOneFile(t *testing.T) {
	a := openTemp(t)
	defer a.Close(context.Background())
	b := New()
	b.Configure(context.Background(), sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(a.path)})})
	defer b.Close(context.Background())
	ctx := context.Background()
	if err := a.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w, d := range []*Destination{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				recs := []sdk.Record{desttest.Upsert(fmt.Sprintf("%d-%d", w, i), i, "h", nil)}
				if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: recs}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	keys, err := b.Keys(ctx, sdk.KeysRequest{Tenant: "acme", Object: desttest.Object, Limit: 100})
	if err != nil || len(keys) != 40 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
}

func TestTombstonesExpire(t *testing.T) {
	d := openTemp(t)
	defer d.Close(context.Background())
	desttest.TombstonesExpire(t, d, func(now func() time.Time) { d.now = now })
}

// A table changed by hand (a column dropped) fails the batch as permanent;
// the next batch sees the table as it is now.
func TestSchemaMismatchIsPermanent(t *testing.T) {
	d := openTemp(t)
	defer d.Close(context.Background())
	ctx := context.Background()
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	write := func() ([]sdk.Result, error) {
		return d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert("1", 1, "h", nil)}})
	}
	if _, err := write(); err != nil {
		t.Fatal(err)
	}
	w, _, _ := d.open()
	if _, err := w.Exec(`ALTER TABLE volunteers DROP COLUMN tags`); err != nil {
		t.Fatal(err)
	}
	if _, err := write(); err == nil || !sdk.IsPermanent(err) {
		t.Fatalf("write: %v, want a permanent error", err)
	}
	if res, err := write(); err != nil || res[0].Status != sdk.StatusOK {
		t.Fatalf("write after the schema change: %v, %v", res, err)
	}
}

// Held versions are read with IN lists padded to a few sizes; a batch of
// any size must see every key it holds, so older versions are all skipped.
func TestHeldVersionsAtEveryBatchSize(t *testing.T) {
	d := openTemp(t)
	defer d.Close(context.Background())
	ctx := context.Background()
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 8, 9, 33, 128, 129, 501, 1100} {
		batch := func(version int) sdk.Batch {
			recs := make([]sdk.Record, n)
			for i := range recs {
				recs[i] = desttest.Upsert(fmt.Sprintf("n%d-%d", n, i), version, fmt.Sprintf("h%d", version), nil)
			}
			return sdk.Batch{Tenant: "acme", Records: recs}
		}
		for _, c := range []struct {
			version int
			skipped bool
		}{{2, false}, {1, true}, {2, true}, {3, false}} {
			res, err := d.Write(ctx, batch(c.version))
			if err != nil {
				t.Fatalf("%d records at version %d: %v", n, c.version, err)
			}
			for i, r := range res {
				if r.Status != sdk.StatusOK || r.Skipped != c.skipped {
					t.Fatalf("%d records at version %d: record %d: %+v, want skipped=%v", n, c.version, i, r, c.skipped)
				}
			}
		}
	}
}

// A column another process adds is written once a record sets it, by this
// batch and by the next, which reuses the statements prepared for it.
func TestColumnAddedByAnotherProcess(t *testing.T) {
	a := openTemp(t)
	defer a.Close(context.Background())
	b := New()
	b.Configure(context.Background(), sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(a.path)})})
	defer b.Close(context.Background())
	ctx := context.Background()
	if err := a.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	write := func(key string, n int, fields map[string]any) {
		t.Helper()
		res, err := a.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert(key, n, fmt.Sprint("h", n), fields)}})
		if err != nil || res[0].Status != sdk.StatusOK || res[0].Skipped {
			t.Fatalf("write %s: %+v, %v", key, res, err)
		}
	}
	write("1", 1, map[string]any{"name": "before"})
	grown := append(append([]sdk.FieldSpec(nil), desttest.Fields...), sdk.FieldSpec{Name: "email", Type: sdk.TypeString})
	if err := b.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: grown}); err != nil {
		t.Fatal(err)
	}
	write("1", 2, map[string]any{"name": "after", "email": "one@example.org"})
	write("2", 3, map[string]any{"name": "next", "email": "two@example.org"})
	rows, err := a.Read(ctx, "acme", desttest.Object, []string{"1", "2"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("read: %+v, %v", rows, err)
	}
	for i, want := range []string{"one@example.org", "two@example.org"} {
		if rows[i].Fields["email"] != want {
			t.Errorf("row %s: %+v, want email %s", rows[i].Key, rows[i].Fields, want)
		}
	}
}
