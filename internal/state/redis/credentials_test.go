package redis

import (
	"bytes"
	"context"
	"testing"
)

// TestRetriedCredentialSwap cuts the connection after the server ran a
// credential swap: go-redis runs it again, and the retry, finding its own
// blob stored, reports the swap done instead of a lost race (which would
// send a rotation round again for nothing, or report it failed).
func TestRetriedCredentialSwap(t *testing.T) {
	s, proxy, _ := openBehindDropProxy(t)
	ctx := context.Background()
	old, sealed := []byte("sealed-old"), []byte("sealed-new")
	if err := s.PutCredential(ctx, "acme", old); err != nil {
		t.Fatal(err)
	}
	marker := []byte(swapCredentialScript.Hash())
	proxy.marker.Store(&marker)
	ok, err := s.SwapCredential(ctx, "acme", old, sealed)
	if err != nil {
		t.Fatalf("swap across a cut connection: %v", err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatal("the connection was not cut")
	}
	if !ok {
		t.Fatal("the retried swap reported a lost race")
	}
	if got, err := s.Credential(ctx, "acme"); err != nil || !bytes.Equal(got, sealed) {
		t.Fatalf("stored after the retried swap: %q %v", got, err)
	}
}
