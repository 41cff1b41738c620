package state

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Options tune how a store is opened; the zero value is the safe default.
type Options struct {
	// Unsafe opens a Redis without appendonly or noeviction (tests, demos).
	Unsafe bool
	// Prefix starts every Redis key (default "sx"), so several hubs or
	// tests can share a server.
	Prefix string
	// Trips, when set, counts round trips.
	Trips *Trips
	// Exclusive refuses a local store that another process holds instead
	// of reaching it through that process's socket, with an error naming
	// the holder. siphon run sets it: the embedded store is single-node, and
	// a second worker going through the first one's socket would lose the
	// store when the first exits. Redis stores ignore it.
	Exclusive bool
}

// Opener opens one kind of store from its URL.
type Opener func(ctx context.Context, u *url.URL, opt Options) (Store, error)

var (
	openersMu sync.Mutex
	openers   = map[string]Opener{}
)

// Register makes a backend available to Open under a URL scheme. Backends
// register themselves from init, so a binary imports the ones it offers.
func Register(scheme string, o Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	openers[scheme] = o
}

// Open opens the store a URL names: redis://, rediss://,
// redis+cluster://h1:p1,h2:p2, file:PATH, or a bare path (the local store).
// A local store that another process holds is reached through the socket
// that process serves it on, so callers need not know who holds it, unless
// opt.Exclusive.
func Open(ctx context.Context, raw string, opt Options) (Store, error) {
	scheme, u, err := parseStoreURL(raw)
	if err != nil {
		return nil, err
	}
	openersMu.Lock()
	o := openers[scheme]
	known := make([]string, 0, len(openers))
	for s := range openers {
		known = append(known, s)
	}
	openersMu.Unlock()
	if o == nil {
		sort.Strings(known)
		return nil, fmt.Errorf("open store %s: no backend for %q in this binary (have %s)", redact(u), scheme, strings.Join(known, ", "))
	}
	s, err := o(ctx, u, opt)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", redact(u), err)
	}
	return s, nil
}

func parseStoreURL(raw string) (string, *url.URL, error) {
	if raw == "" {
		return "", nil, fmt.Errorf("open store: %w: empty store URL", ErrInvalid)
	}
	if !strings.Contains(raw, "://") && !strings.HasPrefix(raw, "file:") {
		return "file", &url.URL{Scheme: "file", Opaque: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("open store: %w: %v", ErrInvalid, err)
	}
	return u.Scheme, u, nil
}

// redact hides a password in the URL for error messages.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}

// LocalPath returns the file path of a file: URL (file:PATH, file:///PATH).
func LocalPath(u *url.URL) string {
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Path
}
