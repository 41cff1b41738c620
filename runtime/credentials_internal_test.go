package runtime

import (
	"context"
	"errors"
	"testing"

	"github.com/siphonhq/siphon/dsl"
	"github.com/siphonhq/siphon/internal/state"
)

// downControl is a store whose credential reads fail as a store outage does.
type downControl struct{ state.Control }

func (downControl) Credential(context.Context, string) ([]byte, error) {
	return nil, errors.New("dial tcp 127.0.0.1:6390: connection refused")
}

func TestCredentialReadFailureIsTheStores(t *testing.T) {
	_, err := SealedCredentials{Store: downControl{}}.Token(context.Background(), &dsl.Tenant{ID: "acme"})
	if err == nil || !isStoreFailure(err) {
		t.Fatalf("err = %v; want a store failure, so the job is retried rather than failed", err)
	}
	if errors.Is(err, ErrNoCredentials) {
		t.Fatal("a store outage must not read as missing credentials")
	}
}
