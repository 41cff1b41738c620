package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/vomosim"
)

// rotateEnv is two vomosim tenants over HTTP with their tokens stored in
// the configuration's local store.
type rotateEnv struct {
	dir     string
	store   string // the store's URL when not the configuration's local store
	ids     []string
	tokens  []string
	outputs []string // everything the commands printed, checked for secrets
}

func newRotateEnv(t *testing.T) *rotateEnv {
	t.Helper()
	return newRotateEnvOn(t, "")
}

// newRotateEnvOn is newRotateEnv with the state in the store at storeURL
// (given to every command with --store), or in the local store if empty.
func newRotateEnvOn(t *testing.T, storeURL string) *rotateEnv {
	t.Helper()
	sc, err := vomosim.LoadScenario("calm")
	if err != nil {
		t.Fatal(err)
	}
	sc.Tenants, sc.Users, sc.Churn.Enabled = 2, 10, false
	sim, err := vomosim.New(vomosim.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	e := &rotateEnv{store: storeURL}
	for _, ti := range sim.Tenants() {
		e.ids, e.tokens = append(e.ids, ti.ID), append(e.tokens, ti.Token)
	}
	e.dir = twoTenantConfig(t, hs.URL+"/v1", e.ids[0], e.ids[1])
	for i, id := range e.ids {
		withStdin(t, e.tokens[i]+"\n", func() { e.ok(t, append([]string{"credentials", "set", id}, e.where()...)...) })
	}
	return e
}

// where are the flags that name the configuration and the store.
func (e *rotateEnv) where() []string {
	if e.store == "" {
		return []string{"--config", e.dir}
	}
	return []string{"--config", e.dir, "--store", e.store}
}

// ok runs a command that must succeed and returns its stdout.
func (e *rotateEnv) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := e.run(t, args...)
	if code != 0 {
		t.Fatalf("siphon %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *rotateEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := siphon(t, args...)
	e.outputs = append(e.outputs, out, errOut)
	return code, out, errOut
}

// withStore opens the store the commands use.
func (e *rotateEnv) withStore(t *testing.T, fn func(ctx context.Context, st state.Store)) {
	t.Helper()
	if e.store == "" {
		withStore(t, e.dir, fn)
		return
	}
	ctx := context.Background()
	st, err := state.Open(ctx, e.store, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(ctx, st)
}

// blobs are the stored sealed credentials by tenant.
func (e *rotateEnv) blobs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	e.withStore(t, func(ctx context.Context, st state.Store) {
		for _, id := range e.ids {
			b, err := st.Credential(ctx, id)
			if err != nil {
				t.Fatalf("credential of %s: %v", id, err)
			}
			out[id] = b
		}
	})
	return out
}

// ring is the key file as it is now.
func (e *rotateEnv) ring(t *testing.T) *secrets.Keyring {
	t.Helper()
	r, err := secrets.LoadKeyring(e.dir, "", false, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// syncs runs one pass: every tenant's token must open and be accepted by
// the source.
func (e *rotateEnv) syncs(t *testing.T) {
	t.Helper()
	e.ok(t, "run", "--once", e.dir)
}

// noSecrets fails when any output holds a token or a key of the key file,
// raw or base64, or the audit log does.
func (e *rotateEnv) noSecrets(t *testing.T, keyFileTexts ...string) {
	t.Helper()
	texts := append([]string(nil), e.outputs...)
	e.withStore(t, func(ctx context.Context, st state.Store) {
		for _, tenant := range append([]string{""}, e.ids...) {
			for _, a := range auditLog(t, ctx, st, tenant) {
				texts = append(texts, a.Action+" "+a.Detail)
			}
		}
	})
	secretsSeen := append([]string(nil), e.tokens...)
	for _, kf := range keyFileTexts {
		for _, line := range strings.Split(kf, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				raw, _ := base64.StdEncoding.DecodeString(line)
				secretsSeen = append(secretsSeen, line, string(raw))
			}
		}
	}
	for _, text := range texts {
		for _, s := range secretsSeen {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("a token or master key appears in the output or audit log")
			}
		}
	}
}

func envelopeOf(t *testing.T, blob []byte) (kid string, wrapped, ct []byte) {
	t.Helper()
	var env struct {
		KID string `json:"kid"`
		DEK []byte `json:"dek"`
		CT  []byte `json:"ct"`
	}
	if err := json.Unmarshal(blob, &env); err != nil {
		t.Fatal(err)
	}
	return env.KID, env.DEK, env.CT
}

// credentials rotate re-seals one tenant's token under a fresh data key:
// its envelope changes entirely, the other tenant's not at all, the token
// still syncs, and the rotation is audited.
func TestCredentialsRotate(t *testing.T) {
	e := newRotateEnv(t)
	a, b := e.ids[0], e.ids[1]
	before := e.blobs(t)
	out := e.ok(t, "credentials", "rotate", a, "--config", e.dir)
	if !strings.Contains(out, "re-sealed the token of "+a) {
		t.Fatalf("rotate said: %s", out)
	}
	after := e.blobs(t)
	kidA, dekA, ctA := envelopeOf(t, before[a])
	kidA2, dekA2, ctA2 := envelopeOf(t, after[a])
	if kidA != kidA2 || bytes.Equal(dekA, dekA2) || bytes.Equal(ctA, ctA2) {
		t.Fatalf("rotated envelope: same master key %v, same wrapped data key %v, same ciphertext %v",
			kidA == kidA2, bytes.Equal(dekA, dekA2), bytes.Equal(ctA, ctA2))
	}
	if !bytes.Equal(before[b], after[b]) {
		t.Fatalf("rotating %s changed the credential of %s", a, b)
	}
	withStore(t, e.dir, func(ctx context.Context, st state.Store) {
		log := auditLog(t, ctx, st, a)
		if len(log) == 0 || log[len(log)-1].Action != "credentials rotate" {
			t.Fatalf("audit of %s: %+v", a, log)
		}
	})
	e.syncs(t)

	withStore(t, e.dir, func(ctx context.Context, st state.Store) {
		if err := st.DeleteCredential(ctx, b); err != nil {
			t.Fatal(err)
		}
	})
	if code, _, errOut := e.run(t, "credentials", "rotate", b, "--config", e.dir); code != 1 || !strings.Contains(errOut, "no credential stored for "+b) {
		t.Fatalf("rotate without a stored credential: %d %s", code, errOut)
	}
	if code, _, errOut := e.run(t, "credentials", "rotate", "nobody", "--config", e.dir); code != 1 || !strings.Contains(errOut, `no tenant "nobody"`) {
		t.Fatalf("rotate of an unknown tenant: %d %s", code, errOut)
	}
	e.noSecrets(t, readFile(t, filepath.Join(e.dir, ".siphon", "master.key")))
}

// rotate-master puts a new key first in the ring and re-wraps every data
// key under it without touching the ciphertexts; a run cut short is
// finished by the next one instead of starting another rotation;
// --drop-old refuses while a credential still uses an old key.
func TestCredentialsRotateMaster(t *testing.T) {
	e := newRotateEnv(t)
	a, b := e.ids[0], e.ids[1]
	keyFile := filepath.Join(e.dir, ".siphon", "master.key")
	keyTexts := []string{readFile(t, keyFile)}
	first := e.ring(t).Current()
	before := e.blobs(t)

	out := e.ok(t, "credentials", "rotate-master", "--config", e.dir)
	keyTexts = append(keyTexts, readFile(t, keyFile))
	ring := e.ring(t)
	second := ring.Current()
	if second.Equal(first) || len(ring.Keys()) != 2 || !ring.Keys()[1].Equal(first) {
		t.Fatalf("ring after rotate-master: %v (first key %s)", ring, first)
	}
	if !strings.Contains(out, "wrote master key "+second.ID()) || !strings.Contains(out, "re-wrapped 2 credentials under "+second.ID()+"; 0 already on it") {
		t.Fatalf("rotate-master said: %s", out)
	}
	after := e.blobs(t)
	for _, id := range e.ids {
		kid0, _, ct0 := envelopeOf(t, before[id])
		kid1, _, ct1 := envelopeOf(t, after[id])
		if kid0 != first.ID() || kid1 != second.ID() || !bytes.Equal(ct0, ct1) {
			t.Fatalf("%s: key %s -> %s (want %s -> %s), same ciphertext %v", id, kid0, kid1, first.ID(), second.ID(), bytes.Equal(ct0, ct1))
		}
	}
	e.syncs(t)

	// A rotation cut short: the ring holds a third key first, and only a's
	// data key moved to it. The next rotate-master finishes the move and
	// makes no fourth key.
	third, err := secrets.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Replace(append([]*secrets.MasterKey{third}, ring.Keys()...)); err != nil {
		t.Fatal(err)
	}
	keyTexts = append(keyTexts, readFile(t, keyFile))
	withStore(t, e.dir, func(ctx context.Context, st state.Store) {
		re, changed, err := secrets.Rewrap(ctx, ring, a, after[a])
		if err != nil || !changed {
			t.Fatalf("rewrap %s: %v %v", a, changed, err)
		}
		if err := st.PutCredential(ctx, a, re); err != nil {
			t.Fatal(err)
		}
	})
	// Dropping the old keys now would strand b.
	code, _, errOut := e.run(t, "credentials", "rotate-master", "--drop-old", "--config", e.dir)
	if code != 1 || !strings.Contains(errOut, "nothing dropped: 1 credentials are still wrapped by older keys ("+b+")") {
		t.Fatalf("--drop-old with a credential on an old key: %d %s", code, errOut)
	}
	if len(e.ring(t).Keys()) != 3 {
		t.Fatal("--drop-old changed the key file although it refused")
	}
	// A new key while the last rotation is unfinished is refused.
	newKeyFile := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(newKeyFile, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyTexts = append(keyTexts, readFile(t, newKeyFile))
	code, _, errOut = e.run(t, "credentials", "rotate-master", "--new-key-file", newKeyFile, "--config", e.dir)
	if code != 1 || !strings.Contains(errOut, "without --new-key-file first") {
		t.Fatalf("a new key during an unfinished rotation: %d %s", code, errOut)
	}
	out = e.ok(t, "credentials", "rotate-master", "--config", e.dir)
	if !strings.Contains(out, "finishing the move to master key "+third.ID()) || !strings.Contains(out, "re-wrapped 1 credentials under "+third.ID()+"; 1 already on it") {
		t.Fatalf("finishing rotate-master said: %s", out)
	}
	if ring := e.ring(t); len(ring.Keys()) != 3 || !ring.Current().Equal(third) {
		t.Fatalf("finishing made another key: %v", ring)
	}
	for id, blob := range e.blobs(t) {
		if kid, _, _ := envelopeOf(t, blob); kid != third.ID() {
			t.Fatalf("%s is on %s after finishing, want %s", id, kid, third.ID())
		}
	}
	e.syncs(t)

	out = e.ok(t, "credentials", "rotate-master", "--drop-old", "--config", e.dir)
	if r := e.ring(t); len(r.Keys()) != 1 || !r.Current().Equal(third) || !strings.Contains(out, "dropped the older keys") {
		t.Fatalf("after --drop-old: %v; %s", r, out)
	}
	if out := e.ok(t, "credentials", "rotate-master", "--drop-old", "--config", e.dir); !strings.Contains(out, "nothing to drop") {
		t.Fatalf("a second --drop-old: %s", out)
	}
	e.syncs(t)

	// The new key from stdin.
	var stdinOut string
	withStdin(t, readFile(t, newKeyFile), func() { stdinOut = e.ok(t, "credentials", "rotate-master", "--new-key-file", "-", "--config", e.dir) })
	keyTexts = append(keyTexts, readFile(t, keyFile))
	given, _ := secrets.DecodeMasterKey(readFile(t, newKeyFile), "test")
	if r := e.ring(t); !r.Current().Equal(given) || len(r.Keys()) != 2 || !strings.Contains(stdinOut, "re-wrapped 2 credentials under "+given.ID()) {
		t.Fatalf("rotate to the key on stdin: %v; %s", r, stdinOut)
	}
	e.syncs(t)

	withStore(t, e.dir, func(ctx context.Context, st state.Store) {
		var actions []string
		for _, a := range auditLog(t, ctx, st, "") {
			actions = append(actions, a.Action)
		}
		want := "credentials rotate-master,credentials rotate-master,credentials rotate-master --drop-old,credentials rotate-master"
		if got := strings.Join(actions[len(actions)-4:], ","); got != want {
			t.Fatalf("hub audit: %s, want ...%s", strings.Join(actions, ","), want)
		}
	})

	// Bad input: clear errors, never the key file's text.
	if err := os.WriteFile(newKeyFile, []byte("bm90IGEga2V5IGF0IGFsbA==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--new-key-file", newKeyFile}, "--new-key-file " + newKeyFile + ": master key: want 32 bytes"},
		{[]string{"--new-key-file", filepath.Join(e.dir, "missing")}, "no such file"},
		{[]string{"--new-key-file", newKeyFile, "--drop-old"}, "separate steps"},
		{[]string{"extra"}, "takes no arguments"},
	} {
		code, _, errOut := e.run(t, append([]string{"credentials", "rotate-master", "--config", e.dir}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "bm90IGEga2V5") {
			t.Errorf("rotate-master %v: %d %s", c.args, code, errOut)
		}
	}
	e.noSecrets(t, keyTexts...)
}

// A credential wrapped by a key in no ring fails that credential only: the
// others move, the failure names the credential, and the exit is 1.
func TestRotateMasterForeignKey(t *testing.T) {
	e := newRotateEnv(t)
	a, b := e.ids[0], e.ids[1]
	foreign, _ := secrets.NewMasterKey(bytes.Repeat([]byte{9}, 32))
	withStore(t, e.dir, func(ctx context.Context, st state.Store) {
		blob, err := secrets.Seal(ctx, foreign, a, []byte(e.tokens[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutCredential(ctx, a, blob); err != nil {
			t.Fatal(err)
		}
	})
	code, out, errOut := e.run(t, "credentials", "rotate-master", "--config", e.dir)
	if code != 1 || !strings.Contains(errOut, "credential "+a+" (tenants "+a+")") || !strings.Contains(errOut, foreign.ID()) ||
		!strings.Contains(out, "re-wrapped 1 credentials") || !strings.Contains(out, "1 failed") {
		t.Fatalf("rotate-master with a foreign key: %d\n%s%s", code, out, errOut)
	}
	ring := e.ring(t)
	if kid, _, _ := envelopeOf(t, e.blobs(t)[b]); kid != ring.ID() {
		t.Fatalf("%s was not moved past the failing %s", b, a)
	}
	e.noSecrets(t, readFile(t, filepath.Join(e.dir, ".siphon", "master.key")))
}

// rotate-master reaches the credentials of every region, each in its
// region's store, and leaves each store holding only its own tenants'.
func TestRotateMasterAcrossRegions(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": regionsConfig})
	t.Setenv("SIPHON_STORE", "")
	t.Setenv("SIPHON_EU_STORE", "file:eu.db")
	stores := map[string]string{"kiez": "eu.db", "acme": "us.db", "harbour": filepath.Join(".siphon", "state.db")}
	for id := range stores {
		withStdin(t, "token-of-"+id+"\n", func() {
			if code, out, errOut := siphon(t, "credentials", "set", id, "--config", dir); code != 0 {
				t.Fatalf("credentials set %s: %d %s%s", id, code, out, errOut)
			}
		})
	}
	code, out, errOut := siphon(t, "credentials", "rotate-master", "--config", dir)
	if code != 0 || !strings.Contains(out, "re-wrapped 3 credentials") {
		t.Fatalf("rotate-master: %d %s%s", code, out, errOut)
	}
	ring, err := secrets.LoadKeyring(dir, "", false, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for id, file := range stores {
		st, err := state.Open(ctx, filepath.Join(dir, file), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for other := range stores {
			blob, err := st.Credential(ctx, other)
			switch {
			case other != id && err == nil:
				t.Errorf("the store of %s holds the credential of %s", id, other)
			case other == id && err != nil:
				t.Errorf("credential of %s in its region's store: %v", id, err)
			case other == id:
				if kid, _, _ := envelopeOf(t, blob); kid != ring.ID() {
					t.Errorf("%s is wrapped by %s after rotate-master, want %s", id, kid, ring.ID())
				}
				tok, err := secrets.Open(ctx, ring, id, blob)
				if err != nil || string(tok) != "token-of-"+id {
					t.Errorf("open %s: %v", id, err)
				}
			}
		}
		if id == "harbour" { // the hub store keeps the hub audit log
			if a := auditLog(t, ctx, st, ""); len(a) == 0 || a[len(a)-1].Action != "credentials rotate-master" {
				t.Errorf("hub audit: %+v", a)
			}
		}
		st.Close()
	}
}

// A keyring from the environment cannot be written: rotate-master says how
// to rotate it, re-wraps once the new key is current there and the old one
// previous, and --drop-old says when the previous keys can go.
func TestRotateMasterFromEnvironment(t *testing.T) {
	e := newRotateEnv(t)
	oldText := ""
	for _, line := range strings.Split(readFile(t, filepath.Join(e.dir, ".siphon", "master.key")), "\n") {
		if line = strings.TrimSpace(line); oldText == "" && line != "" && !strings.HasPrefix(line, "#") {
			oldText = line
		}
	}
	newText := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	newKey, _ := secrets.DecodeMasterKey(newText, "test")

	t.Setenv(secrets.EnvMasterKey, oldText)
	out := e.ok(t, "credentials", "rotate-master", "--config", e.dir)
	if !strings.Contains(out, "every credential is already wrapped by the current key") || !strings.Contains(out, secrets.EnvPreviousKeys) {
		t.Fatalf("rotate-master with the key in the environment: %s", out)
	}
	newFile := filepath.Join(t.TempDir(), "new.key")
	if err := os.WriteFile(newFile, []byte(newText), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run(t, "credentials", "rotate-master", "--new-key-file", newFile, "--config", e.dir); code != 1 || !strings.Contains(errOut, "siphon cannot change") {
		t.Fatalf("--new-key-file with the key in the environment: %d %s", code, errOut)
	}

	t.Setenv(secrets.EnvMasterKey, newText)
	t.Setenv(secrets.EnvPreviousKeys, oldText)
	out = e.ok(t, "credentials", "rotate-master", "--config", e.dir)
	if !strings.Contains(out, "re-wrapped 2 credentials under "+newKey.ID()) {
		t.Fatalf("rotate-master after the environment's rotation: %s", out)
	}
	for id, blob := range e.blobs(t) {
		if kid, _, _ := envelopeOf(t, blob); kid != newKey.ID() {
			t.Fatalf("%s on %s, want %s", id, kid, newKey.ID())
		}
	}
	out = e.ok(t, "credentials", "rotate-master", "--drop-old", "--config", e.dir)
	if !strings.Contains(out, "remove it from every process's environment") {
		t.Fatalf("--drop-old with the keys in the environment: %s", out)
	}
	t.Setenv(secrets.EnvPreviousKeys, "")
	e.syncs(t)
	e.noSecrets(t, oldText+"\n"+newText)
}
