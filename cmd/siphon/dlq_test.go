package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siphonhq/siphon/internal/state"
)

// operatorConfig writes a configuration with two tenants of one pipeline
// and returns its directory; the store is the default .siphon/state.db.
func operatorConfig(t *testing.T) string {
	t.Helper()
	return twoTenantConfig(t, "http://127.0.0.1:9/v1", "acme", "globex")
}

// withStore opens the configuration's store directly, for setting up and
// checking state around the commands. It closes the store before returning,
// so the commands under test open it themselves rather than going through
// the socket this process would serve it on while holding it.
func withStore(t *testing.T, dir string, fn func(ctx context.Context, st state.Store)) {
	t.Helper()
	path := filepath.Join(dir, ".siphon", "state.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := state.Open(ctx, path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	fn(ctx, st)
}

var testVersion = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

// deadLetters enqueues one entry per key on the tenant's db queue and fails
// each write once with maxAttempts 1, so they land in the tenant's DLQ.
func deadLetters(t *testing.T, ctx context.Context, st state.Store, tenant string, keys ...string) {
	t.Helper()
	q := state.QueueRef{Tenant: tenant, Destination: "db", Lane: "default"}
	var es []state.Entry
	for _, k := range keys {
		es = append(es, state.Entry{Pipeline: "volunteers", Key: k, Op: "upsert", Version: testVersion,
			ConfigGeneration: 7, ContentHash: "h" + k, Payload: []byte(`{"id":"` + k + `","email":"` + k + `@example.com"}`),
			Trace: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	}
	l, ok, err := st.Acquire(ctx, state.AcquireRequest{Tenant: tenant, Job: "seed", Owner: "test", TTL: time.Minute})
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := st.CommitPage(ctx, state.PageCommit{Lease: l, Enqueue: []state.Enqueue{{Queue: q, Entries: es}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	cl, err := st.Claim(ctx, q, "w", len(keys), 5)
	if err != nil {
		t.Fatal(err)
	}
	var fs []state.Failure
	for _, e := range cl.Entries {
		fs = append(fs, state.Failure{ID: e.ID, Error: "422 Unprocessable: email of " + e.Key + " is not valid\nsecond line"})
	}
	if r, err := st.Fail(ctx, q, "w", fs, 1); err != nil || r.Dead != len(keys) {
		t.Fatalf("fail to the dlq: %+v %v", r, err)
	}
}

func letters(t *testing.T, ctx context.Context, st state.Store, tenant string) []state.DeadLetter {
	t.Helper()
	ls, _, err := st.DeadLetterList(ctx, tenant, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func auditLog(t *testing.T, ctx context.Context, st state.Store, tenant string) []state.AuditEntry {
	t.Helper()
	es, _, err := st.Audit(ctx, tenant, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func listJSON(t *testing.T, args ...string) letterList {
	t.Helper()
	code, out, errOut := siphon(t, append([]string{"dlq", "list"}, args...)...)
	if code != 0 {
		t.Fatalf("dlq list %v: %d %s", args, code, errOut)
	}
	var l letterList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("dlq list --json: %v\n%s", err, out)
	}
	return l
}

func TestDLQListAndShow(t *testing.T) {
	dir := operatorConfig(t)
	var ids []string
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		deadLetters(t, ctx, st, "acme", "1", "2", "3")
		deadLetters(t, ctx, st, "globex", "9")
		for _, l := range letters(t, ctx, st, "acme") {
			ids = append(ids, l.ID)
		}
	})

	code, out, errOut := siphon(t, "dlq", "list", "acme", "--config", dir)
	if code != 0 {
		t.Fatalf("dlq list: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], ids[0]) ||
		!strings.Contains(lines[1], "volunteers") || !strings.Contains(lines[1], "422 Unprocessable: email of 1 is not valid second line") {
		t.Fatalf("dlq list:\n%s", out)
	}

	l := listJSON(t, "acme", "--config", dir, "--json")
	if l.Tenant != "acme" || len(l.Letters) != 3 || l.More {
		t.Fatalf("dlq list --json: %+v", l)
	}
	first := l.Letters[0]
	if first.ID != ids[0] || first.Key != "1" || first.Pipeline != "volunteers" || first.Destination != "db" ||
		first.Attempts != 1 || first.Reason != "failed" || first.At.IsZero() {
		t.Fatalf("first letter: %+v", first)
	}
	l = listJSON(t, "acme", "--config", dir, "--json", "--limit", "2")
	if len(l.Letters) != 2 || !l.More {
		t.Fatalf("dlq list --limit 2: %+v", l)
	}
	code, out, _ = siphon(t, "dlq", "list", "acme", "--config", dir, "--limit", "2")
	if code != 0 || !strings.Contains(out, "showing the first 2") {
		t.Fatalf("dlq list --limit 2: %d\n%s", code, out)
	}
	// Another tenant's letters are not listed.
	if l := listJSON(t, "globex", "--config", dir, "--json"); len(l.Letters) != 1 || l.Letters[0].Key != "9" {
		t.Fatalf("globex: %+v", l)
	}

	code, out, errOut = siphon(t, "dlq", "show", "acme", ids[1], "--config", dir)
	if code != 0 {
		t.Fatalf("dlq show: %d %s", code, errOut)
	}
	for _, want := range []string{"key                2", "trace id           0af7651916cd43dd8448eb211c80319c", "seq ",
		"version            2026-01-02T03:04:05.000006Z", "payload:\n{\n  \"id\": \"2\",\n  \"email\": \"2@example.com\"\n}"} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq show lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = siphon(t, "dlq", "show", "acme", ids[1], "--config", dir, "--json")
	var d letterDetail
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil {
		t.Fatalf("dlq show --json: %d %v\n%s", code, err, out)
	}
	var payload map[string]string
	if err := json.Unmarshal(d.Payload, &payload); err != nil || payload["email"] != "2@example.com" {
		t.Fatalf("payload %s: %v", d.Payload, err)
	}
	if d.Key != "2" || d.ConfigGeneration != 7 || !d.Version.Equal(testVersion) || d.Seq == 0 ||
		d.TraceID != "0af7651916cd43dd8448eb211c80319c" || d.ContentHash != "h2" {
		t.Fatalf("dlq show --json: %+v", d)
	}
	// An acme id means nothing for globex.
	code, _, errOut = siphon(t, "dlq", "show", "globex", ids[1], "--config", dir)
	if code != 1 || !strings.Contains(errOut, "no dead letter") {
		t.Fatalf("dlq show in the wrong tenant: %d %s", code, errOut)
	}
}

func TestDLQReplay(t *testing.T) {
	dir := operatorConfig(t)
	var before []state.DeadLetter
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		deadLetters(t, ctx, st, "acme", "1", "2", "3")
		deadLetters(t, ctx, st, "globex", "9")
		before = letters(t, ctx, st, "acme")
	})
	code, out, errOut := siphon(t, "dlq", "replay", "acme", before[0].ID, before[2].ID, "--config", dir)
	if code != 0 || out != "replayed 2 dead letters of acme onto their queues\n" {
		t.Fatalf("dlq replay: %d %q %s", code, out, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if left := letters(t, ctx, st, "acme"); len(left) != 1 || left[0].ID != before[1].ID {
			t.Fatalf("left in the dlq: %+v", left)
		}
		cl, err := st.Claim(ctx, state.QueueRef{Tenant: "acme", Destination: "db", Lane: "default"}, "check", 10, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(cl.Entries) != 2 {
			t.Fatalf("back on the queue: %+v", cl.Entries)
		}
		for i, e := range cl.Entries {
			orig := []state.DeadLetter{before[0], before[2]}[i].Entry
			if e.Key != orig.Key || e.Attempts != 0 || e.LastError != "" || e.Seq != orig.Seq ||
				!e.Version.Equal(orig.Version) || e.ConfigGeneration != orig.ConfigGeneration {
				t.Errorf("replayed %+v from %+v", e, orig)
			}
		}
		a := auditLog(t, ctx, st, "acme")
		if len(a) != 1 || a[0].Action != "dlq replay" || a[0].Who == "" ||
			a[0].Detail != "2 dead letters: "+before[0].ID+" "+before[2].ID {
			t.Fatalf("audit: %+v", a)
		}
		if len(letters(t, ctx, st, "globex")) != 1 || len(auditLog(t, ctx, st, "globex")) != 0 {
			t.Fatal("replay in acme touched globex")
		}
	})

	// An unknown id changes nothing, even beside a good one.
	code, _, errOut = siphon(t, "dlq", "replay", "acme", before[1].ID, "0-1", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "no dead letter 0-1 for tenant acme; nothing changed") {
		t.Fatalf("replay of an unknown id: %d %s", code, errOut)
	}
	code, _, errOut = siphon(t, "dlq", "replay", "acme", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "--all") {
		t.Fatalf("replay without ids: %d %s", code, errOut)
	}
	code, _, errOut = siphon(t, "dlq", "replay", "acme", before[1].ID, "--all", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "not both") {
		t.Fatalf("replay with ids and --all: %d %s", code, errOut)
	}

	code, out, errOut = siphon(t, "dlq", "replay", "globex", "--all", "--config", dir)
	if code != 0 || out != "replayed 1 dead letter of globex onto their queues\n" {
		t.Fatalf("dlq replay --all: %d %q %s", code, out, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if len(letters(t, ctx, st, "globex")) != 0 || len(letters(t, ctx, st, "acme")) != 1 {
			t.Fatal("replay --all of globex")
		}
		if a := auditLog(t, ctx, st, "globex"); len(a) != 1 || a[0].Detail != "all, 1 dead letter" {
			t.Fatalf("globex audit: %+v", a)
		}
	})
}

func TestDLQPurge(t *testing.T) {
	dir := operatorConfig(t)
	var acme []state.DeadLetter
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		deadLetters(t, ctx, st, "acme", "1", "2", "3")
		deadLetters(t, ctx, st, "globex", "9")
		acme = letters(t, ctx, st, "acme")
	})
	code, out, errOut := siphon(t, "dlq", "purge", "acme", acme[1].ID, "--config", dir)
	if code != 0 || out != "purged 1 dead letter of acme\n" {
		t.Fatalf("dlq purge: %d %q %s", code, out, errOut)
	}
	code, _, errOut = siphon(t, "dlq", "purge", "acme", "--all", "--config", dir)
	if code != 1 || !strings.Contains(errOut, "add --yes") {
		t.Fatalf("purge --all without --yes: %d %s", code, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		left := letters(t, ctx, st, "acme")
		if len(left) != 2 || left[0].ID != acme[0].ID || left[1].ID != acme[2].ID {
			t.Fatalf("after purging one: %+v", left)
		}
	})
	code, out, errOut = siphon(t, "dlq", "purge", "acme", "--all", "--yes", "--config", dir)
	if code != 0 || out != "purged 2 dead letters of acme\n" {
		t.Fatalf("dlq purge --all: %d %q %s", code, out, errOut)
	}
	withStore(t, dir, func(ctx context.Context, st state.Store) {
		if n := len(letters(t, ctx, st, "acme")); n != 0 {
			t.Fatalf("%d letters after purge --all", n)
		}
		if n := len(letters(t, ctx, st, "globex")); n != 1 {
			t.Fatalf("purge in acme left globex %d letters", n)
		}
		var got []string
		for _, e := range auditLog(t, ctx, st, "acme") {
			got = append(got, e.Action+": "+e.Detail)
		}
		want := []string{"dlq purge: 1 dead letter: " + acme[1].ID, "dlq purge: all, 2 dead letters"}
		if !slices.Equal(got, want) {
			t.Fatalf("audit %q, want %q", got, want)
		}
	})
}

func TestDLQBadInput(t *testing.T) {
	dir := operatorConfig(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "list", "acm"}, `no tenant "acm" in ` + dir + `; did you mean "acme"?`},
		{[]string{"dlq", "list", "initech"}, `no tenant "initech" in ` + dir + ` (tenants: acme, globex)`},
		{[]string{"dlq", "list"}, "usage: siphon dlq list TENANT"},
		{[]string{"dlq", "list", "acme", "globex"}, "usage: siphon dlq list TENANT"},
		{[]string{"dlq", "list", "acme", "--limit", "-1"}, "--limit must be 0"},
		{[]string{"dlq", "show", "acme"}, "usage: siphon dlq show TENANT ID"},
		{[]string{"dlq", "show", "acme", "nope"}, `no dead letter "nope" for tenant acme`},
		{[]string{"dlq", "purge", "acme", "1-0"}, "no dead letter 1-0 for tenant acme; nothing changed"},
	} {
		code, out, errOut := siphon(t, append(c.args, "--config", dir)...)
		if code != 1 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: %d %q %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
	if code, out, _ := siphon(t, "dlq", "list", "acme", "--config", dir); code != 0 || out != "the dead-letter queue of acme is empty\n" {
		t.Fatalf("empty dlq: %d %q", code, out)
	}
}
