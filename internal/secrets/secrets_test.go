package secrets

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, err := LoadMasterKey(dir, "", true, noEnv)
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
	again, err := LoadMasterKey(dir, "", false, noEnv)
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
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := func(k string) (string, bool) { return key, k == EnvMasterKey }
	dir := t.TempDir()
	if _, err := LoadMasterKey(dir, "", true, env); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key file was created although the environment gave the key")
	}
	if _, err := LoadMasterKey(dir, "", false, noEnv); err == nil {
		t.Fatal("missing key file without create should fail")
	}
	bad := func(string) (string, bool) { return "c2hvcnQ=", true }
	if _, err := LoadMasterKey(dir, "", true, bad); err == nil || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Fatalf("short key: %v", err)
	}
}
