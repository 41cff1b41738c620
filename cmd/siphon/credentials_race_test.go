package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
	"github.com/siphonhq/siphon/internal/state/redistest"
)

// raceStore lands another command's write on a credential right before the
// rewriting command writes it: the moment a read, re-seal and write loses a
// race. Each credential's race runs once, with the store underneath.
type raceStore struct {
	state.Store
	races *races
}

type races struct {
	mu     sync.Mutex
	byCred map[string]func(st state.Store)
}

func (r *raceStore) race(name string) {
	r.races.mu.Lock()
	fn := r.races.byCred[name]
	delete(r.races.byCred, name)
	r.races.mu.Unlock()
	if fn != nil {
		fn(r.Store)
	}
}

func (r *raceStore) PutCredential(ctx context.Context, name string, sealed []byte) error {
	r.race(name)
	return r.Store.PutCredential(ctx, name, sealed)
}

func (r *raceStore) SwapCredential(ctx context.Context, name string, old, sealed []byte) (bool, error) {
	r.race(name)
	return r.Store.SwapCredential(ctx, name, old, sealed)
}

// withRaces makes the rewriting commands run byCred's races.
func withRaces(t *testing.T, byCred map[string]func(st state.Store)) *races {
	t.Helper()
	rs := &races{byCred: byCred}
	saved := rewriteStore
	rewriteStore = func(st state.Store) state.Store { return &raceStore{Store: st, races: rs} }
	t.Cleanup(func() {
		rewriteStore = saved
		if len(rs.byCred) != 0 {
			t.Errorf("races never run: %d", len(rs.byCred))
		}
	})
	return rs
}

// inOwnProcess runs a siphon command in its own process (this test binary
// as siphon, see TestMain), as an operator's second shell would, and
// waits for it.
func (e *rotateEnv) inOwnProcess(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SIPHON_TEST_CLI=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	e.outputs = append(e.outputs, out.String(), errOut.String())
	if err != nil {
		t.Errorf("siphon %s in its own process: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
}

// token opens the stored credential of id, or reports it absent.
func (e *rotateEnv) token(t *testing.T, id string) (tok, kid string, ok bool) {
	t.Helper()
	e.withStore(t, func(ctx context.Context, st state.Store) {
		blob, err := st.Credential(ctx, id)
		if errors.Is(err, state.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		plain, err := secrets.Open(ctx, e.ring(t), id, blob)
		if err != nil {
			t.Fatalf("open the credential of %s: %v", id, err)
		}
		kid, _, _ = envelopeOf(t, blob)
		tok, ok = string(plain), true
	})
	return tok, kid, ok
}

// A credentials set and a credentials delete, each in its own process,
// land between credentials rotate's read and its write: the newer token
// survives (re-sealed by the rotate's second round), the deleted one stays
// deleted and the rotate says so.
func TestCredentialsRotateRacingSetAndDelete(t *testing.T) {
	e := newRotateEnvOn(t, redistest.Start(t).URL())
	a, b := e.ids[0], e.ids[1]
	newer := "newer-" + e.tokens[0]
	e.tokens = append(e.tokens, newer)
	withRaces(t, map[string]func(state.Store){
		a: func(state.Store) {
			e.inOwnProcess(t, newer+"\n", append([]string{"credentials", "set", a}, e.where()...)...)
		},
		b: func(state.Store) {
			e.inOwnProcess(t, "", append([]string{"credentials", "delete", b}, e.where()...)...)
		},
	})

	out := e.ok(t, append([]string{"credentials", "rotate", a}, e.where()...)...)
	if !strings.Contains(out, "changed while it was re-sealed") || !strings.Contains(out, "re-sealed the token of "+a) {
		t.Fatalf("rotate racing a set said: %s", out)
	}
	if tok, _, ok := e.token(t, a); !ok || tok != newer {
		t.Fatalf("after rotate racing a set, %s holds the newer token: %v (stored: %v)", a, tok == newer, ok)
	}
	e.withStore(t, func(ctx context.Context, st state.Store) {
		var actions []string
		log := auditLog(t, ctx, st, a)
		for _, en := range log {
			actions = append(actions, en.Action)
		}
		if n := len(actions); n < 2 || actions[n-2] != "credentials set" || actions[n-1] != "credentials rotate" ||
			!strings.Contains(log[n-1].Detail, "read again after a concurrent change") {
			t.Fatalf("audit of %s: %+v", a, log)
		}
	})

	code, _, errOut := e.run(t, append([]string{"credentials", "rotate", b}, e.where()...)...)
	if code != 1 || !strings.Contains(errOut, "deleted while it was re-sealed") {
		t.Fatalf("rotate racing a delete: %d %s", code, errOut)
	}
	if _, _, ok := e.token(t, b); ok {
		t.Fatalf("rotate brought back the credential of %s deleted meanwhile", b)
	}
	e.noSecrets(t, readFile(t, filepath.Join(e.dir, ".siphon", "master.key")))
}

// A credentials set and delete, each in its own process, land between
// rotate-master's read of a credential and its write: the rotation
// finishes, the newer token survives on the new key and the deleted
// credential stays deleted.
func TestRotateMasterRacingSetAndDelete(t *testing.T) {
	e := newRotateEnvOn(t, redistest.Start(t).URL())
	a, b := e.ids[0], e.ids[1]
	keyFile := filepath.Join(e.dir, ".siphon", "master.key")
	keyTexts := []string{readFile(t, keyFile)}
	newer := "newer-" + e.tokens[0]
	e.tokens = append(e.tokens, newer)
	withRaces(t, map[string]func(state.Store){
		a: func(state.Store) {
			e.inOwnProcess(t, newer+"\n", append([]string{"credentials", "set", a}, e.where()...)...)
		},
		b: func(state.Store) {
			e.inOwnProcess(t, "", append([]string{"credentials", "delete", b}, e.where()...)...)
		},
	})

	out := e.ok(t, append([]string{"credentials", "rotate-master"}, e.where()...)...)
	keyTexts = append(keyTexts, readFile(t, keyFile))
	ring := e.ring(t)
	if !strings.Contains(out, "1 already on it; 1 tenants' credentials not stored; 0 failed") ||
		!strings.Contains(out, "credential "+b+" (tenants "+b+") was deleted while it was re-wrapped") ||
		!strings.Contains(out, "credential "+a+" (tenants "+a+") changed while it was re-wrapped") {
		t.Fatalf("rotate-master racing a set and a delete said: %s", out)
	}
	if tok, kid, ok := e.token(t, a); !ok || tok != newer || kid != ring.ID() {
		t.Fatalf("after rotate-master racing a set, %s: newer token %v, key %s (want %s), stored %v", a, tok == newer, kid, ring.ID(), ok)
	}
	if _, _, ok := e.token(t, b); ok {
		t.Fatalf("rotate-master brought back the credential of %s deleted meanwhile", b)
	}
	e.withStore(t, func(ctx context.Context, st state.Store) {
		log := auditLog(t, ctx, st, "")
		if len(log) == 0 || log[len(log)-1].Action != "credentials rotate-master" ||
			!strings.Contains(log[len(log)-1].Detail, "1 already on it; 1 tenants' credentials not stored; 0 failed; 2 read again after a concurrent set or delete") {
			t.Fatalf("hub audit: %+v", log)
		}
	})
	e.noSecrets(t, keyTexts...)
}

// A set that sealed the newer token under the old master key (it loaded
// the key file before rotate-master rewrote it) lands between
// rotate-master's read and write: rotate-master reads it again and moves
// it to the new key too, so --drop-old strands nothing.
func TestRotateMasterRewrapsARacingSet(t *testing.T) {
	e := newRotateEnv(t)
	a := e.ids[0]
	keyFile := filepath.Join(e.dir, ".siphon", "master.key")
	keyTexts := []string{readFile(t, keyFile)}
	oldRing := e.ring(t)
	newer := "newer-" + e.tokens[0]
	e.tokens = append(e.tokens, newer)
	withRaces(t, map[string]func(state.Store){
		a: func(st state.Store) {
			ctx := context.Background()
			blob, err := secrets.Seal(ctx, oldRing, a, []byte(newer))
			if err != nil {
				t.Error(err)
				return
			}
			if err := st.PutCredential(ctx, a, blob); err != nil {
				t.Error(err)
			}
		},
	})

	out := e.ok(t, append([]string{"credentials", "rotate-master"}, e.where()...)...)
	keyTexts = append(keyTexts, readFile(t, keyFile))
	ring := e.ring(t)
	if !strings.Contains(out, "re-wrapped 2 credentials under "+ring.ID()+"; 0 already on it") || !strings.Contains(out, "changed while it was re-wrapped") {
		t.Fatalf("rotate-master racing a set under the old key said: %s", out)
	}
	if tok, kid, ok := e.token(t, a); !ok || tok != newer || kid != ring.ID() {
		t.Fatalf("%s: newer token %v, key %s (want %s), stored %v", a, tok == newer, kid, ring.ID(), ok)
	}
	e.ok(t, append([]string{"credentials", "rotate-master", "--drop-old"}, e.where()...)...)
	if tok, _, ok := e.token(t, a); !ok || tok != newer {
		t.Fatalf("%s does not open after --drop-old", a)
	}
	e.noSecrets(t, keyTexts...)
}

// A credential that another command changes before every write of a
// rotate makes the rotate give up after maxRewriteRounds reads, saying
// so, and the last token set stays.
func TestCredentialsRotateGivesUpOnEndlessChange(t *testing.T) {
	e := newRotateEnv(t)
	a := e.ids[0]
	ring := e.ring(t)
	sets := 0
	var rs *races
	var race func(st state.Store)
	race = func(st state.Store) {
		sets++
		tok := fmt.Sprintf("set-%d-%s", sets, e.tokens[0])
		e.tokens = append(e.tokens, tok)
		blob, err := secrets.Seal(context.Background(), ring, a, []byte(tok))
		if err == nil {
			err = st.PutCredential(context.Background(), a, blob)
		}
		if err != nil {
			t.Error(err)
		}
		if sets < maxRewriteRounds {
			rs.mu.Lock()
			rs.byCred[a] = race
			rs.mu.Unlock()
		}
	}
	rs = withRaces(t, map[string]func(state.Store){a: race})
	code, _, errOut := e.run(t, append([]string{"credentials", "rotate", a}, e.where()...)...)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("changed %d times while it was rewritten: run the command again", maxRewriteRounds)) {
		t.Fatalf("rotate against endless sets: %d %s", code, errOut)
	}
	if tok, _, ok := e.token(t, a); !ok || tok != e.tokens[len(e.tokens)-1] {
		t.Fatalf("the last token set did not stay (stored %v)", ok)
	}
	e.noSecrets(t, readFile(t, filepath.Join(e.dir, ".siphon", "master.key")))
}
