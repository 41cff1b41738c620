package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/secrets"
	"github.com/siphonhq/siphon/internal/state"
)

// Credentials opens a tenant's source token. A missing credential is
// ErrNoCredentials.
type Credentials interface {
	Token(ctx context.Context, t *dsl.Tenant) (string, error)
}

// ErrNoCredentials: nothing is stored under the tenant's credentials name.
var ErrNoCredentials = errors.New("no credentials")

// SealedCredentials reads credentials sealed by `siphon credentials set`
// from the store, under the tenant's `credentials` name. The token is opened
// for each job and not kept: a `credentials set` or `rotate` takes effect at
// the next poll, and a KMS that is a secrets.Keyring opens envelopes a
// `rotate-master` re-wrapped after this process started (it reloads the
// key file when it meets a key it does not hold).
type SealedCredentials struct {
	Store state.Control
	KMS   secrets.KMS
}

// Token opens the tenant's sealed token. The error never holds token bytes.
func (s SealedCredentials) Token(ctx context.Context, t *dsl.Tenant) (string, error) {
	name := CredentialName(t)
	blob, err := s.Store.Credential(ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return "", ErrNoCredentials
	}
	if err != nil {
		// The store's failure, not the tenant's: the job is retried like
		// any other job the store failed, instead of counting as failed.
		return "", storeErr(fmt.Errorf("read credential %s: %w", name, err))
	}
	tok, err := secrets.Open(ctx, s.KMS, name, blob)
	if err != nil {
		return "", err
	}
	// The opened bytes are cleared at once. The string the source client
	// needs cannot be: Go strings are immutable, and net/http copies it
	// into each request's header; those copies live until the garbage
	// collector reuses their memory, which Go gives no way to force.
	defer clear(tok)
	return string(tok), nil
}

// CredentialName is the name a tenant's token is stored under: its
// `credentials` attribute, else its id.
func CredentialName(t *dsl.Tenant) string {
	if t.Credentials != "" {
		return t.Credentials
	}
	return t.ID
}

// token returns the tenant's token for this job, pausing the tenant with a
// reason an operator can act on when there is none.
func (r *Runner) token(ctx context.Context, t *dsl.Tenant) (string, error) {
	var err error
	tok := ""
	if r.cfg.Credentials == nil {
		err = ErrNoCredentials
	} else {
		tok, err = r.cfg.Credentials.Token(ctx, t)
	}
	if errors.Is(err, ErrNoCredentials) {
		reason := fmt.Sprintf("no credentials: run siphon credentials set %s", t.ID)
		r.setFlag(ctx, t.ID, state.Flag{Kind: state.FlagAuthPaused, Reason: reason}, r.log.With("tenant", t.ID))
		return "", fmt.Errorf("poll %s: tenant paused: %s", t.ID, reason)
	}
	if err != nil {
		return "", fmt.Errorf("poll %s: credentials: %w", t.ID, err)
	}
	return tok, nil
}
