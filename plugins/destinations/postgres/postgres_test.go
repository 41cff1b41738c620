package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/siphonhq/siphon/plugins/destinations"
	"github.com/siphonhq/siphon/plugins/destinations/internal/desttest"
	"github.com/siphonhq/siphon/plugins/destinations/internal/pgtest"
	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
)

// server is the package's PostgreSQL, nil when none is installed; dsn is
// its database for tests, which isolate themselves by schema.
var (
	server  *pgtest.Server
	dsn     string
	skipWhy error
	seq     atomic.Int64
)

func TestMain(m *testing.M) {
	s, d, err := pgtest.StartDatabase(context.Background(), "siphon")
	switch {
	case errors.Is(err, pgtest.ErrNotInstalled):
		skipWhy = err
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		server, dsn = s, d
	}
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	os.Exit(code)
}

// fresh returns a destination on a schema of its own, which it creates.
func fresh(t testing.TB) *Destination {
	t.Helper()
	if server == nil {
		t.Skip(skipWhy)
	}
	return configured(t, dsn, fmt.Sprintf("t-%d", seq.Add(1)))
}

func configured(t testing.TB, dsn, schema string) *Destination {
	t.Helper()
	attrs := map[string]cty.Value{"dsn": cty.StringVal(dsn)}
	if schema != "" {
		attrs["schema"] = cty.StringVal(schema)
	}
	d := New()
	if diags := d.Configure(context.Background(), sdk.Config{Value: cty.ObjectVal(attrs)}); diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return d
}

// TestSuite runs each case in a schema that does not exist yet and needs
// quoting.
func TestSuite(t *testing.T) {
	desttest.Run(t, func(t *testing.T) sdk.Destination { return fresh(t) })
}

func TestRegistered(t *testing.T) {
	f, ok := destinations.Lookup(Name)
	if !ok {
		t.Fatalf("%s is not registered", Name)
	}
	if info := f().Info(); !info.Has(sdk.CapTransactions) || info.Has(sdk.CapSingleNode) {
		t.Errorf("capabilities %v", info.Capabilities)
	}
}

func TestConfigure(t *testing.T) {
	obj := func(kv ...any) cty.Value {
		m := map[string]cty.Value{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(cty.Value)
		}
		return cty.ObjectVal(m)
	}
	cases := []struct {
		name     string
		cfg      cty.Value
		wantPath []string // nil: no error
	}{
		{"dsn", obj("dsn", cty.StringVal("postgres://u@127.0.0.1:1/db")), nil},
		{"dsn and schema", obj("dsn", cty.StringVal("host=127.0.0.1 port=1"), "schema", cty.StringVal("sync")), nil},
		{"unknown dsn", obj("dsn", cty.UnknownVal(cty.String)), nil},
		{"missing dsn", cty.EmptyObjectVal, []string{"dsn"}},
		{"bad dsn", obj("dsn", cty.StringVal("postgres://[::1")), []string{"dsn"}},
		{"bad schema type", obj("dsn", cty.StringVal("host=x"), "schema", cty.True), []string{"schema"}},
		{"unknown attribute", obj("dsn", cty.StringVal("host=x"), "path", cty.StringVal("x")), []string{"path"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := New()
			defer d.Close(context.Background())
			diags := d.Configure(context.Background(), sdk.Config{Value: c.cfg})
			desttest.ExpectDiagnostics(t, diags, c.wantPath)
		})
	}
}

func TestCheckUnreachable(t *testing.T) {
	d := configured(t, "postgres://postgres@127.0.0.1:1/x?connect_timeout=5", "")
	defer d.Close(context.Background())
	if err := d.Check(context.Background(), "acme"); err == nil {
		t.Fatal("Check of an unreachable server succeeded")
	}
}

func TestDefaultSchemaAndPlainSQL(t *testing.T) {
	if server == nil {
		t.Skip(skipWhy)
	}
	ctx := context.Background()
	db, err := server.CreateDatabase(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	d := configured(t, db, "")
	defer d.Close(ctx)
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: "project-dates", Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	rec := desttest.Upsert("1/2", 1, "h", map[string]any{"name": "Ada", "tags": map[string]any{"a": 1.0}})
	rec.Object = "project-dates"
	if _, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	var src time.Time
	var a float64
	err = conn.QueryRow(ctx, `SELECT name, source_updated_at, (tags->>'a')::float8 FROM public."project-dates" WHERE tenant = 'acme' AND key = '1/2'`).Scan(&name, &src, &a)
	if err != nil || name != "Ada" || !src.Equal(desttest.At(1)) || a != 1 {
		t.Fatalf("plain SQL read %q %v %v: %v", name, src, a, err)
	}
}

// A record the database itself rejects (here a constraint a user added)
// fails only itself: the bulk statement fails, its records are replayed one
// by one.
func TestRejectedByDatabase(t *testing.T) {
	d := fresh(t)
	defer d.Close(context.Background())
	ctx := context.Background()
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.pool.Exec(ctx, `ALTER TABLE `+d.qualified(desttest.Object)+` ADD CONSTRAINT no_bad CHECK (name <> 'bad')`); err != nil {
		t.Fatal(err)
	}
	res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{
		desttest.Upsert("1", 1, "h", map[string]any{"name": "good"}),
		desttest.Upsert("2", 1, "h", map[string]any{"name": "bad"}),
		desttest.Upsert("3", 1, "h", map[string]any{"name": "good"}),
		desttest.Delete("4", 1),
		desttest.Upsert("5", 1, "h", map[string]any{"name": "bad"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sdk.StatusOK || res[1].Status != sdk.StatusPermanent || res[2].Status != sdk.StatusOK ||
		res[3].Status != sdk.StatusOK || res[4].Status != sdk.StatusPermanent {
		t.Fatalf("results %+v", res)
	}
	if rows, err := d.Read(ctx, "acme", desttest.Object, []string{"4"}); err != nil || len(rows) != 1 || !rows[0].Tombstone {
		t.Fatalf("the delete of a replayed batch: %+v, %v", rows, err)
	}
	// The per-record path fails the same way and is replayed too.
	res, err = d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{
		desttest.Delete("1", 2),
		desttest.Upsert("6", 1, "h", map[string]any{"name": "bad"}),
		desttest.Upsert("6", 2, "h", map[string]any{"name": "bad"}),
	}})
	if err != nil || res[0].Status != sdk.StatusOK || res[1].Status != sdk.StatusPermanent || res[2].Status != sdk.StatusPermanent {
		t.Fatalf("results %+v, %v", res, err)
	}
	if !strings.Contains(res[1].Message, "no_bad") {
		t.Errorf("message %q does not name the constraint", res[1].Message)
	}
	keys, err := d.Keys(ctx, sdk.KeysRequest{Tenant: "acme", Object: desttest.Object, Limit: 10})
	if err != nil || len(keys) != 1 || keys[0].Key != "3" {
		t.Fatalf("keys %v, %v", keys, err)
	}
}

// A table that no longer matches (a column dropped by hand) fails the batch
// as permanent, so the host bisects rather than retrying forever.
func TestSchemaMismatchIsPermanent(t *testing.T) {
	d := fresh(t)
	defer d.Close(context.Background())
	ctx := context.Background()
	if err := d.EnsureObject(ctx, sdk.ObjectSpec{Object: desttest.Object, Fields: desttest.Fields}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Keys(ctx, sdk.KeysRequest{Tenant: "acme", Object: desttest.Object, Limit: 1}); err != nil {
		t.Fatal(err) // fills the table cache
	}
	if _, err := d.pool.Exec(ctx, `ALTER TABLE `+d.qualified(desttest.Object)+` DROP COLUMN tags`); err != nil {
		t.Fatal(err)
	}
	_, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert("1", 1, "h", nil)}})
	if err == nil || !sdk.IsPermanent(err) {
		t.Fatalf("write: %v, want a permanent error", err)
	}
	// The next batch sees the table as it is now.
	res, err := d.Write(ctx, sdk.Batch{Tenant: "acme", Records: []sdk.Record{desttest.Upsert("1", 1, "h", nil)}})
	if err != nil || res[0].Status != sdk.StatusOK {
		t.Fatalf("write after the schema change: %v, %v", res, err)
	}
}

func TestTombstonesExpire(t *testing.T) {
	d := fresh(t)
	defer d.Close(context.Background())
	desttest.TombstonesExpire(t, d, func(now func() time.Time) { d.now = now })
}

// A diagnostic about a bad dsn must not show its password.
func TestBadDSNHidesPassword(t *testing.T) {
	cfg := cty.ObjectVal(map[string]cty.Value{"dsn": cty.StringVal("postgres://u:s3cret@[::1/db")})
	diags := New().Configure(context.Background(), sdk.Config{Value: cfg})
	if !diags.HasErrors() {
		t.Fatal("bad dsn accepted")
	}
	if msg := diags.Err().Error(); strings.Contains(msg, "s3cret") {
		t.Errorf("diagnostic shows the password: %s", msg)
	}
}
