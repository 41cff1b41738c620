// Package secrets seals tenant credentials with envelope encryption: each
// credential is encrypted under its own random data key (AES-256-GCM), and
// the data key is wrapped by a key-encryption service (a KMS). The hub's
// master key is the built-in KMS; a cloud KMS implements the same two-call
// interface later without changing the sealed format's readers.
//
// Plaintext tokens exist only in the memory of the caller that opens them;
// no function here logs, and no error message includes key or token bytes.
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
)

// KMS wraps and unwraps data keys. The context is the credential's name,
// bound to the wrapped key so a sealed blob cannot be moved to another
// tenant.
type KMS interface {
	// ID names the key that wraps, recorded in every envelope so a rotated
	// or foreign key is recognised instead of failing with a cipher error.
	ID() string
	Wrap(ctx context.Context, dataKey []byte, context string) ([]byte, error)
	Unwrap(ctx context.Context, wrapped []byte, context string) ([]byte, error)
}

// ErrWrongKey means the envelope was sealed by another key than the one
// given (another master key, or the blob belongs to another credential).
var ErrWrongKey = errors.New("credential was sealed with another key or for another tenant")

// envelope is the sealed form stored as the credential blob.
type envelope struct {
	Version int    `json:"v"`
	KeyID   string `json:"kid"`
	DataKey []byte `json:"dek"` // wrapped by the KMS
	Nonce   []byte `json:"nonce"`
	Sealed  []byte `json:"ct"`
}

const envelopeVersion = 1

// Seal encrypts plaintext for the credential name under a fresh data key.
func Seal(ctx context.Context, kms KMS, name string, plaintext []byte) ([]byte, error) {
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("seal credential %s: data key: %w", name, err)
	}
	defer clear(dek)
	aead, err := gcm(dek)
	if err != nil {
		return nil, fmt.Errorf("seal credential %s: %w", name, err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal credential %s: nonce: %w", name, err)
	}
	wrapped, err := kms.Wrap(ctx, dek, name)
	if err != nil {
		return nil, fmt.Errorf("seal credential %s: wrap data key: %w", name, err)
	}
	env := envelope{Version: envelopeVersion, KeyID: kms.ID(), DataKey: wrapped, Nonce: nonce,
		Sealed: aead.Seal(nil, nonce, plaintext, []byte(name))}
	return json.Marshal(env)
}

// Open decrypts a blob Seal made for the same credential name.
func Open(ctx context.Context, kms KMS, name string, sealed []byte) ([]byte, error) {
	var env envelope
	if err := json.Unmarshal(sealed, &env); err != nil {
		return nil, fmt.Errorf("open credential %s: not a sealed credential", name)
	}
	if env.Version != envelopeVersion {
		return nil, fmt.Errorf("open credential %s: envelope version %d is not supported", name, env.Version)
	}
	if env.KeyID != kms.ID() {
		return nil, fmt.Errorf("open credential %s: sealed by key %s, have key %s: %w", name, env.KeyID, kms.ID(), ErrWrongKey)
	}
	dek, err := kms.Unwrap(ctx, env.DataKey, name)
	if err != nil {
		return nil, fmt.Errorf("open credential %s: %w", name, err)
	}
	defer clear(dek)
	aead, err := gcm(dek)
	if err != nil {
		return nil, fmt.Errorf("open credential %s: %w", name, err)
	}
	out, err := aead.Open(nil, env.Nonce, env.Sealed, []byte(name))
	if err != nil {
		return nil, fmt.Errorf("open credential %s: %w", name, ErrWrongKey)
	}
	return out, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
