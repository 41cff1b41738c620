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

// KeyResolver is a KMS that holds more keys than the one it wraps with
// (a keyring after a rotation): Open asks it for the key an envelope's
// KeyID names. A cloud KMS that unwraps any of its key versions by itself
// need not implement it.
type KeyResolver interface {
	KMS
	KeyFor(ctx context.Context, id string) (KMS, error)
}

// currentWrapper wraps and names the key it wrapped with in one step, so a
// KMS whose current key can change (a keyring reloading) never records one
// key's id beside another key's wrap.
type currentWrapper interface {
	WrapCurrent(ctx context.Context, dataKey []byte, context string) ([]byte, string, error)
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

// Seal encrypts plaintext for the credential name under a fresh data key,
// wrapped by the KMS's current key. The caller owns plaintext and clears it.
func Seal(ctx context.Context, kms KMS, name string, plaintext []byte) ([]byte, error) {
	dek := make([]byte, 32)
	defer clear(dek)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("seal credential %s: data key: %w", name, err)
	}
	aead, err := gcm(dek)
	if err != nil {
		return nil, fmt.Errorf("seal credential %s: %w", name, err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal credential %s: nonce: %w", name, err)
	}
	wrapped, kid, err := wrapCurrent(ctx, kms, dek, name)
	if err != nil {
		return nil, fmt.Errorf("seal credential %s: wrap data key: %w", name, err)
	}
	env := envelope{Version: envelopeVersion, KeyID: kid, DataKey: wrapped, Nonce: nonce,
		Sealed: aead.Seal(nil, nonce, plaintext, []byte(name))}
	return json.Marshal(env)
}

func wrapCurrent(ctx context.Context, kms KMS, dek []byte, name string) ([]byte, string, error) {
	if cw, ok := kms.(currentWrapper); ok {
		return cw.WrapCurrent(ctx, dek, name)
	}
	w, err := kms.Wrap(ctx, dek, name)
	return w, kms.ID(), err
}

// Open decrypts a blob Seal made for the same credential name, with the key
// its envelope names. The caller owns the plaintext and clears it after use.
func Open(ctx context.Context, kms KMS, name string, sealed []byte) ([]byte, error) {
	env, err := parse(name, sealed)
	if err != nil {
		return nil, err
	}
	dek, err := unwrap(ctx, kms, name, env)
	if err != nil {
		return nil, err
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

func parse(name string, sealed []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(sealed, &env); err != nil {
		return env, fmt.Errorf("open credential %s: not a sealed credential", name)
	}
	if env.Version != envelopeVersion {
		return env, fmt.Errorf("open credential %s: envelope version %d is not supported", name, env.Version)
	}
	return env, nil
}

// unwrap returns the envelope's data key, unwrapped by the key its KeyID
// names; the caller clears it.
func unwrap(ctx context.Context, kms KMS, name string, env envelope) ([]byte, error) {
	key := kms
	if env.KeyID != kms.ID() {
		r, ok := kms.(KeyResolver)
		if !ok {
			return nil, fmt.Errorf("open credential %s: sealed by key %s, have key %s: %w", name, env.KeyID, kms.ID(), ErrWrongKey)
		}
		k, err := r.KeyFor(ctx, env.KeyID)
		if err != nil {
			return nil, fmt.Errorf("open credential %s: %w", name, err)
		}
		key = k
	}
	dek, err := key.Unwrap(ctx, env.DataKey, name)
	if err != nil {
		return nil, fmt.Errorf("open credential %s: %w", name, err)
	}
	return dek, nil
}

// KeyIDOf names the key a sealed credential's data key is wrapped by.
func KeyIDOf(name string, sealed []byte) (string, error) {
	env, err := parse(name, sealed)
	return env.KeyID, err
}

// Rewrap wraps the credential's data key under the KMS's current key: the
// data key is unwrapped by the key the envelope names and wrapped again;
// the ciphertext stays as it is, so the token itself is never decrypted.
// changed is false, and sealed comes back as it was, when the envelope is
// already on the current key.
func Rewrap(ctx context.Context, kms KMS, name string, sealed []byte) (out []byte, changed bool, err error) {
	env, err := parse(name, sealed)
	if err != nil {
		return nil, false, err
	}
	if env.KeyID == kms.ID() {
		return sealed, false, nil
	}
	dek, err := unwrap(ctx, kms, name, env)
	if err != nil {
		return nil, false, err
	}
	defer clear(dek)
	wrapped, kid, err := wrapCurrent(ctx, kms, dek, name)
	if err != nil {
		return nil, false, fmt.Errorf("rewrap credential %s: %w", name, err)
	}
	env.KeyID, env.DataKey = kid, wrapped
	out, err = json.Marshal(env)
	if err != nil {
		return nil, false, fmt.Errorf("rewrap credential %s: %w", name, err)
	}
	return out, true, nil
}

// Reseal seals the credential's token again under a fresh data key and
// nonce (and the current master key); the token is the same.
func Reseal(ctx context.Context, kms KMS, name string, sealed []byte) ([]byte, error) {
	plain, err := Open(ctx, kms, name, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return Seal(ctx, kms, name, plain)
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
