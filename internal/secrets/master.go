package secrets

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvMasterKey holds the master key, base64 of 32 bytes; it wins over the
// key file.
const EnvMasterKey = "SIPHON_MASTER_KEY"

// DefaultKeyFile is where the master key lives, relative to the config
// directory, when the environment does not give one.
const DefaultKeyFile = ".siphon/master.key"

// MasterKey is the built-in KMS: AES-256-GCM under a key the hub holds.
type MasterKey struct {
	key []byte
	id  string
}

// NewMasterKey uses a 32-byte key.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key: want 32 bytes, got %d", len(key))
	}
	sum := sha256.Sum256(append([]byte("siphon master key id\x00"), key...))
	return &MasterKey{key: append([]byte(nil), key...), id: "master:" + hex.EncodeToString(sum[:6])}, nil
}

// LoadMasterKey returns the master key from SIPHON_MASTER_KEY (lookup, nil
// for os.LookupEnv), else from the key file (DefaultKeyFile under
// configDir when file is empty). With create, a missing key file is made
// with a fresh random key, mode 0600; without it a missing key is an error,
// so commands that only read never invent a key that opens nothing.
func LoadMasterKey(configDir, file string, create bool, lookup func(string) (string, bool)) (*MasterKey, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, ok := lookup(EnvMasterKey); ok && v != "" {
		return decodeKey(v, EnvMasterKey)
	}
	if file == "" {
		file = filepath.Join(configDir, DefaultKeyFile)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && create {
		return createKeyFile(file)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no master key: set %s or create %s (siphon credentials set does)", EnvMasterKey, file)
	}
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", file, err)
	}
	return decodeKey(string(b), "master key "+file)
}

// decodeKey reads a base64 master key; where names its source in errors.
func decodeKey(text, where string) (*MasterKey, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("%s: not base64", where)
	}
	k, err := NewMasterKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return k, nil
}

func createKeyFile(file string) (*MasterKey, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("master key %s: %w", file, err)
	}
	// O_EXCL: two commands creating the key at once must not end up with
	// credentials sealed under two different keys.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadMasterKey("", file, false, func(string) (string, bool) { return "", false })
	}
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", file, err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("master key %s: %w", file, werr)
	}
	return NewMasterKey(key)
}

// ID names the key by a hash, never by its bytes.
func (m *MasterKey) ID() string { return m.id }

// Wrap seals a data key under the master key, bound to the context.
func (m *MasterKey) Wrap(_ context.Context, dataKey []byte, context string) ([]byte, error) {
	aead, err := gcm(m.key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, dataKey, []byte(context)), nil
}

// Unwrap opens a data key Wrap sealed for the same context.
func (m *MasterKey) Unwrap(_ context.Context, wrapped []byte, context string) ([]byte, error) {
	aead, err := gcm(m.key)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(wrapped) < n {
		return nil, ErrWrongKey
	}
	dek, err := aead.Open(nil, wrapped[:n], wrapped[n:], []byte(context))
	if err != nil {
		return nil, ErrWrongKey
	}
	return dek, nil
}
