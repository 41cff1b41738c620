package statetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/siphonhq/siphon/internal/state"
)

// testCredentialSwap: a swap writes only over the blob it names (none:
// only where nothing is stored), never brings back a deleted credential,
// reports an identical earlier write as done, and of racing swaps from one
// blob exactly one wins.
func testCredentialSwap(t *testing.T, s state.Store) {
	swap := func(tenant string, old, sealed []byte) bool {
		t.Helper()
		return must(s.SwapCredential(ctx, tenant, old, sealed))(t)
	}
	holds := func(tenant string, want []byte) {
		t.Helper()
		got, err := s.Credential(ctx, tenant)
		switch {
		case want == nil && !errors.Is(err, state.ErrNotFound):
			t.Fatalf("%s: want no credential, got %d bytes, %v", tenant, len(got), err)
		case want != nil && (err != nil || !bytes.Equal(got, want)):
			t.Fatalf("%s: want %x, got %x, %v", tenant, want, got, err)
		}
	}
	a, b, c := []byte{0, 1, 2, 255, 'a'}, []byte("sealed-b"), []byte("sealed-c")

	if !swap("acme", nil, a) {
		t.Fatal("swap into an absent credential lost")
	}
	holds("acme", a)
	if swap("acme", nil, b) {
		t.Fatal("a swap expecting no credential overwrote one")
	}
	if swap("acme", c, b) {
		t.Fatal("a swap from a blob not stored won")
	}
	holds("acme", a)
	if !swap("acme", a, b) {
		t.Fatal("a swap from the stored blob lost")
	}
	holds("acme", b)
	// The same call again (a retry after a lost reply) finds its blob there.
	if !swap("acme", a, b) {
		t.Fatal("a repeated swap reported a lost race")
	}
	holds("acme", b)
	// A set in between wins: the swap from the blob it read loses.
	check(t, s.PutCredential(ctx, "acme", c))
	if swap("acme", b, a) {
		t.Fatal("a swap overwrote the credential a put replaced")
	}
	holds("acme", c)
	// A delete in between wins: nothing comes back.
	check(t, s.DeleteCredential(ctx, "acme"))
	if swap("acme", c, a) {
		t.Fatal("a swap brought back a deleted credential")
	}
	holds("acme", nil)
	// Tenants are apart: acme's blob does not match globex's.
	check(t, s.PutCredential(ctx, "acme", a))
	if swap("globex", a, b) {
		t.Fatal("a swap on globex matched acme's credential")
	}
	holds("globex", nil)
	holds("acme", a)
	if _, err := s.SwapCredential(ctx, "acme", a, nil); !errors.Is(err, state.ErrInvalid) {
		t.Fatalf("an empty sealed credential: %v", err)
	}
	holds("acme", a)

	const racers = 8
	var wg sync.WaitGroup
	won := make([]bool, racers)
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], errs[i] = s.SwapCredential(ctx, "acme", a, []byte(fmt.Sprintf("racer-%d", i)))
		}()
	}
	wg.Wait()
	winner := -1
	for i := range racers {
		check(t, errs[i])
		if won[i] {
			if winner >= 0 {
				t.Fatalf("racers %d and %d both swapped from the same blob", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no racer swapped")
	}
	holds("acme", []byte(fmt.Sprintf("racer-%d", winner)))
}
