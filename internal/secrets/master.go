package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// MasterKey is one key of the built-in KMS: AES-256-GCM under a key the
// hub holds. A Keyring holds the current one and those it replaced.
type MasterKey struct {
	key []byte
	id  string
}

// NewMasterKey uses a 32-byte key (copied: the caller may clear its own).
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key: want 32 bytes, got %d", len(key))
	}
	seed := append([]byte("siphon master key id\x00"), key...)
	sum := sha256.Sum256(seed)
	clear(seed)
	return &MasterKey{key: append([]byte(nil), key...), id: "master:" + hex.EncodeToString(sum[:6])}, nil
}

// GenerateMasterKey makes a fresh random master key.
func GenerateMasterKey() (*MasterKey, error) {
	key := make([]byte, 32)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return NewMasterKey(key)
}

// DecodeMasterKey reads a base64 master key, as the key file and the
// environment hold it; where names its source in errors, which never quote
// the text (it may be most of a key).
func DecodeMasterKey(text, where string) (*MasterKey, error) {
	b := []byte(text)
	defer clear(b)
	return DecodeMasterKeyBytes(b, where)
}

// DecodeMasterKeyBytes is DecodeMasterKey on bytes the caller owns (and
// clears after).
func DecodeMasterKeyBytes(text []byte, where string) (*MasterKey, error) {
	text = bytes.TrimSpace(text)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	defer clear(key)
	n, err := base64.StdEncoding.Decode(key, text)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64", where)
	}
	k, err := NewMasterKey(key[:n])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return k, nil
}

// appendBase64 appends the key's text form to dst.
func appendBase64(dst, key []byte) []byte { return base64.StdEncoding.AppendEncode(dst, key) }

// ID names the key by a hash, never by its bytes.
func (m *MasterKey) ID() string { return m.id }

// Equal reports whether two keys hold the same bytes.
func (m *MasterKey) Equal(o *MasterKey) bool {
	return o != nil && subtle.ConstantTimeCompare(m.key, o.key) == 1
}

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

// String, GoString and LogValue show the key's id only, so a key printed
// or logged by mistake (%v, %#v, slog) shows no key bytes.
func (m *MasterKey) String() string { return m.id }

// GoString: see String.
func (m *MasterKey) GoString() string { return "secrets.MasterKey(" + m.id + ")" }

// LogValue: see String.
func (m *MasterKey) LogValue() slog.Value { return slog.StringValue(m.id) }
