package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// testKey is a master key made of one repeated byte, with its base64 form.
func testKey(t *testing.T, b byte) (*MasterKey, string) {
	t.Helper()
	raw := bytes.Repeat([]byte{b}, 32)
	k, err := NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k, base64.StdEncoding.EncodeToString(raw)
}

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, err := LoadKeyring(dir, "", true, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, DefaultKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	sealed, err := Seal(ctx, k, "acme", []byte("vomo_secret_token"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "vomo_secret_token") {
		t.Fatal("plaintext visible in the sealed blob")
	}
	again, err := LoadKeyring(dir, "", false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(ctx, again, "acme", sealed)
	if err != nil || string(got) != "vomo_secret_token" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := Open(ctx, again, "kiez", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another tenant's name opened the blob: %v", err)
	}
	other, _ := NewMasterKey(make([]byte, 32))
	if _, err := Open(ctx, other, "acme", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another master key: %v", err)
	}
}

func TestMasterKeyFromEnvWins(t *testing.T) {
	ctx := context.Background()
	cur, curText := testKey(t, 1)
	prev, prevText := testKey(t, 2)
	dir := t.TempDir()
	r, err := LoadKeyring(dir, "", true, envOf(map[string]string{EnvMasterKey: curText, EnvPreviousKeys: " " + prevText + " ,"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key file was created although the environment gave the key")
	}
	if r.ID() != cur.ID() || len(r.Keys()) != 2 || r.File() != "" {
		t.Fatalf("ring from the environment: %v, file %q", r, r.File())
	}
	// The previous key opens what it sealed; the current one seals.
	old, _ := Seal(ctx, prev, "acme", []byte("tok"))
	if got, err := Open(ctx, r, "acme", old); err != nil || string(got) != "tok" {
		t.Fatalf("open under the previous key: %q %v", got, err)
	}
	sealed, _ := Seal(ctx, r, "acme", []byte("tok"))
	if id, _ := KeyIDOf("acme", sealed); id != cur.ID() {
		t.Fatalf("sealed under %s, want the current key %s", id, cur.ID())
	}
	if err := r.Replace([]*MasterKey{prev}); err == nil || !strings.Contains(err.Error(), EnvPreviousKeys) {
		t.Fatalf("replacing a ring from the environment: %v", err)
	}
	if _, err := LoadKeyring(dir, "", false, noEnv); err == nil {
		t.Fatal("missing key file without create should fail")
	}
	for _, env := range []map[string]string{
		{EnvMasterKey: "c2hvcnQ="},
		{EnvMasterKey: curText, EnvPreviousKeys: prevText + ",c2hvcnQ="},
		{EnvMasterKey: curText, EnvPreviousKeys: "%%%"},
	} {
		_, err := LoadKeyring(dir, "", true, envOf(env))
		if err == nil || strings.Contains(err.Error(), "c2hvcnQ") || strings.Contains(err.Error(), curText) {
			t.Fatalf("bad key in %v: %v", env, err)
		}
	}
}

// The key file holds the ring newest first; comments and blank lines are
// skipped; a bad line is named by number, never quoted.
func TestKeyFileFormat(t *testing.T) {
	k1, t1 := testKey(t, 1)
	k2, t2 := testKey(t, 2)
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	writeFiles(t, file, "# hub keys\n\n"+t2+"\n  "+t1+"  \n")
	r, err := LoadKeyring("", file, false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if ks := r.Keys(); len(ks) != 2 || !ks[0].Equal(k2) || !ks[1].Equal(k1) || r.ID() != k2.ID() {
		t.Fatalf("ring %v, want %s then %s", r, k2, k1)
	}
	writeFiles(t, file, t2+"\nnot-a-key-at-all\n")
	if _, err := LoadKeyring("", file, false, noEnv); err == nil || !strings.Contains(err.Error(), "line 2") ||
		strings.Contains(err.Error(), "not-a-key") || strings.Contains(err.Error(), t2) {
		t.Fatalf("bad line: %v", err)
	}
	writeFiles(t, file, "# only a comment\n")
	if _, err := LoadKeyring("", file, false, noEnv); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Fatalf("empty ring: %v", err)
	}

	// Replace writes the ring atomically, mode 0600, and reads back the same.
	r, err = NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Replace([]*MasterKey{k2}); err == nil {
		t.Fatal("a fixed ring has no file to write")
	}
	writeFiles(t, file, t1+"\n")
	r, err = LoadKeyring("", file, false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Replace([]*MasterKey{k2, k1, k2}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file after replace: %v %v", fi, err)
	}
	back, err := LoadKeyring("", file, false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if ks := back.Keys(); len(ks) != 2 || !ks[0].Equal(k2) || !ks[1].Equal(k1) {
		t.Fatalf("written ring reads back as %v", back)
	}
	if left, _ := filepath.Glob(file + ".new-*"); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func writeFiles(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A rotated ring opens envelopes by their KeyID; Rewrap moves the data key
// to the current key without touching the ciphertext; a ring without the
// old key can then open it, one without the new key cannot.
func TestRewrapKeepsCiphertext(t *testing.T) {
	ctx := context.Background()
	k1, _ := testKey(t, 1)
	k2, _ := testKey(t, 2)
	old, _ := NewKeyring(k1)
	sealed, err := Seal(ctx, old, "acme", []byte("tok-acme"))
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := NewKeyring(k2, k1)
	if got, err := Open(ctx, ring, "acme", sealed); err != nil || string(got) != "tok-acme" {
		t.Fatalf("rotated ring opens the old envelope: %q %v", got, err)
	}
	re, changed, err := Rewrap(ctx, ring, "acme", sealed)
	if err != nil || !changed {
		t.Fatalf("rewrap: %v %v", changed, err)
	}
	var a, b envelope
	_ = json.Unmarshal(sealed, &a)
	_ = json.Unmarshal(re, &b)
	if b.KeyID != k2.ID() || !bytes.Equal(a.Sealed, b.Sealed) || !bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.DataKey, b.DataKey) {
		t.Fatalf("rewrapped envelope: kid %s (want %s), same ciphertext %v, same wrapped key %v",
			b.KeyID, k2.ID(), bytes.Equal(a.Sealed, b.Sealed), bytes.Equal(a.DataKey, b.DataKey))
	}
	again, changed, err := Rewrap(ctx, ring, "acme", re)
	if err != nil || changed || !bytes.Equal(again, re) {
		t.Fatalf("rewrap of an envelope on the current key: changed %v %v", changed, err)
	}
	onlyNew, _ := NewKeyring(k2)
	if got, err := Open(ctx, onlyNew, "acme", re); err != nil || string(got) != "tok-acme" {
		t.Fatalf("the new key alone opens the rewrapped envelope: %q %v", got, err)
	}
	if _, err := Open(ctx, old, "acme", re); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old key alone opened the rewrapped envelope: %v", err)
	}
	if _, _, err := Rewrap(ctx, ring, "kiez", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("rewrap under another credential's name: %v", err)
	}
}

// Reseal: the same token under a fresh data key and nonce.
func TestResealFreshDataKey(t *testing.T) {
	ctx := context.Background()
	k1, _ := testKey(t, 1)
	ring, _ := NewKeyring(k1)
	sealed, _ := Seal(ctx, ring, "acme", []byte("tok-acme"))
	re, err := Reseal(ctx, ring, "acme", sealed)
	if err != nil {
		t.Fatal(err)
	}
	var a, b envelope
	_ = json.Unmarshal(sealed, &a)
	_ = json.Unmarshal(re, &b)
	if bytes.Equal(a.Sealed, b.Sealed) || bytes.Equal(a.Nonce, b.Nonce) || bytes.Equal(a.DataKey, b.DataKey) {
		t.Fatal("reseal kept the ciphertext, nonce or wrapped data key")
	}
	if got, err := Open(ctx, ring, "acme", re); err != nil || string(got) != "tok-acme" {
		t.Fatalf("open the resealed token: %q %v", got, err)
	}
}

// A ring loaded from a file loads it again when it meets a KeyID it does
// not hold: a process started before a rotation opens what the rotation
// re-wrapped. A fixed ring does not.
func TestKeyringReloadsOnUnknownKeyID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	running, err := LoadKeyring(dir, "", true, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	oldID := running.ID()
	rotating, err := LoadKeyring(dir, "", false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := rotating.Replace(append([]*MasterKey{k2}, rotating.Keys()...)); err != nil {
		t.Fatal(err)
	}
	sealed, _ := Seal(ctx, rotating, "acme", []byte("tok-acme"))
	if id, _ := KeyIDOf("acme", sealed); id != k2.ID() || id == oldID {
		t.Fatalf("sealed under %s, want the new key %s", id, k2.ID())
	}
	if got, err := Open(ctx, running, "acme", sealed); err != nil || string(got) != "tok-acme" {
		t.Fatalf("the running ring opens after the rotation: %q %v", got, err)
	}
	if running.ID() != k2.ID() {
		t.Fatalf("the running ring seals under %s after reloading, want %s", running.ID(), k2.ID())
	}
	fixed, _ := NewKeyring(rotating.Keys()[1])
	if _, err := Open(ctx, fixed, "acme", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("a fixed ring without the key: %v", err)
	}
	foreign, _ := testKey(t, 9)
	other, _ := Seal(ctx, foreign, "acme", []byte("x"))
	if _, err := Open(ctx, running, "acme", other); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), foreign.ID()) {
		t.Fatalf("a key in no ring: %v", err)
	}
}

// No error, and no printed or logged key or ring, holds key or token bytes
// in any encoding.
func TestErrorsNeverHoldKeyBytes(t *testing.T) {
	ctx := context.Background()
	raw := []byte("0123456789abcdef0123456789ABCDEF")
	token := []byte("vomo_tok_ErrorsNeverHoldKeyBytes")
	k, err := NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := NewKeyring(k)
	sealed, _ := Seal(ctx, ring, "acme", token)
	other, _ := testKey(t, 7)
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	// A file whose second line is the key cut short, and one holding the
	// key's hex instead of base64.
	writeFiles(t, file, base64.StdEncoding.EncodeToString(raw)+"\n"+base64.StdEncoding.EncodeToString(raw[:31])+"\n")
	hexFile := filepath.Join(dir, "hexkeys")
	writeFiles(t, hexFile, hex.EncodeToString(raw)+"\n")

	var texts []string
	add := func(err error) {
		if err == nil {
			t.Fatal("expected an error")
		}
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	_, err = Open(ctx, other, "acme", sealed)
	add(err)
	_, err = Open(ctx, ring, "kiez", sealed)
	add(err)
	_, err = Open(ctx, ring, "acme", append([]byte(nil), sealed[:len(sealed)/2]...))
	add(err)
	tampered := bytes.Replace(sealed, []byte(`"ct":"`), []byte(`"ct":"AA`), 1)
	_, err = Open(ctx, ring, "acme", tampered)
	add(err)
	_, _, err = Rewrap(ctx, other, "acme", sealed)
	add(err)
	_, err = Reseal(ctx, other, "acme", sealed)
	add(err)
	_, err = NewMasterKey(raw[:31])
	add(err)
	_, err = DecodeMasterKey(base64.StdEncoding.EncodeToString(raw)+"!", "test")
	add(err)
	_, err = DecodeMasterKey(hex.EncodeToString(raw), "test")
	add(err)
	_, err = LoadKeyring("", file, false, noEnv)
	add(err)
	_, err = LoadKeyring("", hexFile, false, noEnv)
	add(err)
	_, err = LoadKeyring("", "", false, envOf(map[string]string{EnvMasterKey: base64.StdEncoding.EncodeToString(raw[:30])}))
	add(err)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "key", k, "ring", ring)
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprintf("%v %+v %#v", ring, ring, ring), logged.String())

	for _, text := range texts {
		for _, secret := range [][]byte{raw, raw[:31], token} {
			if where := leaked(text, secret); where != "" {
				t.Errorf("%s of a secret in %q", where, text)
			}
		}
	}
}

// leaked names the encoding in which secret appears in text, or "".
func leaked(text string, secret []byte) string {
	forms := map[string]string{
		"raw bytes": string(secret),
		"base64":    base64.StdEncoding.EncodeToString(secret),
		"base64url": base64.RawURLEncoding.EncodeToString(secret),
		"hex":       hex.EncodeToString(secret),
		"HEX":       strings.ToUpper(hex.EncodeToString(secret)),
		"byte list": strings.Trim(fmt.Sprint(secret), "[]"),
	}
	for name, f := range forms {
		// The leading 16 characters of an encoding are enough to count:
		// a key cut short is still most of a key.
		if len(f) > 16 {
			f = f[:16]
		}
		if strings.Contains(text, f) {
			return name
		}
	}
	return ""
}

// Many goroutines opening envelopes of a new key at once share one reload
// and all succeed; sealing beside them records the key that wrapped.
func TestKeyringConcurrentReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	running, err := LoadKeyring(dir, "", true, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	rotating, _ := LoadKeyring(dir, "", false, noEnv)
	k2, _ := GenerateMasterKey()
	if err := rotating.Replace(append([]*MasterKey{k2}, rotating.Keys()...)); err != nil {
		t.Fatal(err)
	}
	sealed, _ := Seal(ctx, rotating, "acme", []byte("tok"))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 32; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if got, err := Open(ctx, running, "acme", sealed); err != nil || string(got) != "tok" {
				errs <- fmt.Errorf("open: %q %v", got, err)
			}
		}()
		go func() {
			defer wg.Done()
			blob, err := Seal(ctx, running, "kiez", []byte("x"))
			if err == nil {
				_, err = Open(ctx, running, "kiez", blob)
			}
			if err != nil {
				errs <- fmt.Errorf("seal then open: %v", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
