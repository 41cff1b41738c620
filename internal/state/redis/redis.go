// Package redis is the production state store: go-redis v9 on one Redis
// server or a Redis Cluster, shared by any number of workers on any number
// of machines. Every key of a tenant carries the tenant as a hash tag and
// every state change is one Lua script in that slot (scripts.go, keys in
// keys.go); the due and ready indexes are sharded outside tenant slots and
// updated as their own idempotent step.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

func init() {
	for _, scheme := range []string{"redis", "rediss", "redis+cluster", "rediss+cluster"} {
		state.Register(scheme, func(ctx context.Context, u *url.URL, opt state.Options) (state.Store, error) {
			return Open(ctx, u.String(), opt)
		})
	}
}

const (
	group     = "workers" // the one consumer group of every queue stream
	opTTL     = "60"      // seconds an operation record answers a retried script (retries come within milliseconds)
	dueShards = 16
)

// Store is the Redis backend.
type Store struct {
	rdb     goredis.UniversalClient
	k       keys
	epoch   string
	backend string
	// takes and lendTakes batch budget takes (without and with loans) on
	// one server; nil on a cluster, where each take's keys must share a
	// slot.
	takes, lendTakes *takeBatcher
}

var _ state.Store = (*Store)(nil)

// Open connects to redis://, rediss:// or redis+cluster://h1:p1,h2:p2
// (rediss+cluster for TLS), checks durability settings, records or checks
// the format version and loads the scripts.
func Open(ctx context.Context, raw string, opt state.Options) (*Store, error) {
	rdb, backend, err := newClient(raw)
	if err != nil {
		return nil, err
	}
	s := &Store{rdb: rdb, backend: backend, k: keys{prefix: opt.Prefix, shards: dueShards}}
	if c, single := rdb.(*goredis.Client); single {
		s.takes, s.lendTakes = newTakeBatcher(c, takeScript), newTakeBatcher(c, takeLendScript)
	}
	if s.k.prefix == "" {
		s.k.prefix = "sx"
	}
	if err := s.init(ctx, opt); err != nil {
		rdb.Close()
		return nil, err
	}
	if opt.Trips != nil {
		rdb.AddHook(tripHook{opt.Trips})
	}
	return s, nil
}

func newClient(raw string) (goredis.UniversalClient, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", state.ErrInvalid, err)
	}
	// go-redis retries a command after a network error; the scripts are
	// written to be safe when that re-runs them (see scripts.go), so the
	// default retry settings stay.
	switch u.Scheme {
	case "redis", "rediss":
		o, err := goredis.ParseURL(raw)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %v", state.ErrInvalid, err)
		}
		return goredis.NewClient(o), "redis", nil
	case "redis+cluster", "rediss+cluster":
		o := &goredis.ClusterOptions{Addrs: strings.Split(u.Host, ",")}
		if u.User != nil {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		if u.Scheme == "rediss+cluster" {
			o.TLSConfig = tlsConfig(o.Addrs[0])
		}
		return goredis.NewClusterClient(o), "redis-cluster", nil
	}
	return nil, "", fmt.Errorf("%w: scheme %q is not redis", state.ErrInvalid, u.Scheme)
}

func (s *Store) init(ctx context.Context, opt state.Options) error {
	if err := s.checkDurable(ctx, opt.Unsafe); err != nil {
		return err
	}
	for _, sc := range allScripts {
		if err := s.loadScript(ctx, sc); err != nil {
			return fmt.Errorf("load scripts: %w", err)
		}
	}
	res, err := initMetaScript.Run(ctx, s.rdb, []string{s.k.meta()}, state.FormatVersion, newID()).StringSlice()
	if err != nil {
		return fmt.Errorf("read store format: %w", err)
	}
	format, err := strconv.Atoi(res[0])
	if err != nil {
		return fmt.Errorf("unreadable store format %q", res[0])
	}
	if format > state.FormatVersion {
		return fmt.Errorf("%w: format %d, this siphon reads up to %d", state.ErrFormatTooNew, format, state.FormatVersion)
	}
	s.epoch = res[1]
	return nil
}

// loadScript puts a script into every master, so the first EVALSHA of a
// worker does not pay a NOSCRIPT round trip.
func (s *Store) loadScript(ctx context.Context, sc *goredis.Script) error {
	if c, ok := s.rdb.(*goredis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			return sc.Load(ctx, n).Err()
		})
	}
	return sc.Load(ctx, s.rdb).Err()
}

// checkDurable refuses a server that can lose acknowledged writes: without
// appendonly a restart drops everything since the last snapshot, and any
// eviction policy but noeviction silently deletes queues and checkpoints
// under memory pressure.
func (s *Store) checkDurable(ctx context.Context, unsafe bool) error {
	check := func(ctx context.Context, c *goredis.Client) error {
		cfg, err := c.ConfigGet(ctx, "*").Result()
		if err != nil {
			if unsafe {
				return nil
			}
			// Managed services often disable CONFIG.
			return fmt.Errorf("%w: cannot read the config of redis at %s (%v); make sure it runs with appendonly yes and maxmemory-policy noeviction, then pass --unsafe-store", state.ErrUnsafeStore, c.Options().Addr, err)
		}
		var problems []string
		if v := cfg["appendonly"]; v != "yes" {
			problems = append(problems, fmt.Sprintf("appendonly is %q (want yes: without it a restart loses recent writes)", v))
		}
		if v := cfg["maxmemory-policy"]; v != "noeviction" {
			problems = append(problems, fmt.Sprintf("maxmemory-policy is %q (want noeviction: eviction deletes queues and checkpoints)", v))
		}
		if len(problems) > 0 && !unsafe {
			return fmt.Errorf("%w: redis at %s: %s; fix the server config or pass --unsafe-store", state.ErrUnsafeStore, c.Options().Addr, strings.Join(problems, "; "))
		}
		return nil
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if c, ok := s.rdb.(*goredis.ClusterClient); ok {
		return c.ForEachMaster(ctx, check)
	}
	return check(ctx, s.rdb.(*goredis.Client))
}

// Close closes the client.
func (s *Store) Close() error { return s.rdb.Close() }

// Info reports backend, format and epoch.
func (s *Store) Info(ctx context.Context) (state.Info, error) {
	return state.Info{Backend: s.backend, FormatVersion: state.FormatVersion, Epoch: s.epoch}, nil
}

// tripHook counts commands and pipelines sent: one per network round trip.
// The handshake of a new pooled connection (HELLO, CLIENT SETINFO, AUTH,
// SELECT, READONLY) is a one-time cost per connection, not per operation,
// so it is left out.
type tripHook struct{ t *state.Trips }

func (h tripHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h tripHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !handshake(cmd) {
			h.t.Add()
		}
		return next(ctx, cmd)
	}
}

func (h tripHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) == 0 || !handshake(cmds[0]) {
			h.t.Add()
		}
		return next(ctx, cmds)
	}
}

func handshake(cmd goredis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "readonly":
		return true
	}
	return false
}

// newID is a random operation id or epoch.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func us(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func fromUS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

func parseUS(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return fromUS(n)
}

// streamID matches a Redis stream id; anything else cannot name an entry,
// and would make XPENDING fail the whole script.
var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if streamID.MatchString(id) {
			out = append(out, id)
		}
	}
	return out
}

// reply helpers for script results.
func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func isNil(err error) bool { return errors.Is(err, goredis.Nil) }
