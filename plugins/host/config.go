package host

import (
	"log/slog"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// LaunchConfig says which plugin to start for a destination block and how
// to supervise it. Only Name and Plugin (or Path) are required.
type LaunchConfig struct {
	// Name is the destination block's name ("warehouse"); it labels logs
	// and errors.
	Name string
	// Plugin is the plugin type: a built-in ("sqlite", "postgres",
	// "jsonl") or NAME of a siphon-destination-NAME binary on the plugin
	// path. Built-ins are found first.
	Plugin string
	// SHA256 pins the plugin binary (hex). Launch refuses a binary whose
	// hash differs, naming both hashes, and go-plugin re-checks it before
	// every restart.
	SHA256 string
	// Config is the destination block's config. When it is not cty.NilVal,
	// Launch calls Configure with it and fails with a *ConfigError if the
	// plugin reports error diagnostics. Either way the last accepted config
	// is replayed after each restart.
	Config cty.Value
	// Dirs are extra plugin directories (--plugin-dir), searched before
	// SIPHON_PLUGIN_PATH, ./plugins and ~/.siphon/plugins.
	Dirs []string
	// Dir is the plugin process's working directory. Relative paths in a
	// destination's config (sqlite's `path` and its default
	// .siphon/destination.db, jsonl's `dir`) resolve against it, so the
	// runtime sets it to the config directory (DESIGN.md §8) and a pipeline
	// writes to the same files from wherever siphon is started. Empty means
	// this process's working directory. Relative plugin paths (Path, Dirs,
	// the search path) still resolve against this process's working
	// directory.
	Dir string

	// Path, when set, is the plugin executable to run instead of
	// discovering one; Args and Env are added to its command line and
	// environment. `siphon plugin test PATH` and tests use these.
	Path string
	Args []string
	Env  []string

	// Logger receives the plugin's logs and the host's supervision events.
	// Nil means slog.Default().
	Logger   *slog.Logger
	Timeouts Timeouts
	Breaker  BreakerConfig
	Restart  Backoff
}

// Timeouts bound calls into a plugin. A call that exceeds its timeout fails
// with a *TimeoutError and the plugin, presumed hung, is stopped and
// restarted on the next call. Zero values take the defaults.
type Timeouts struct {
	Start time.Duration // process start and handshake; default 30s
	Call  time.Duration // Info, Configure, Check, EnsureObject, Read, Changes, one Keys page; default 30s
	Write time.Duration // one Write round trip (one split part); default 2m
	Idle  time.Duration // longest wait for the next page of a KeysAll stream; default 1m
}

// BreakerConfig configures the circuit breaker kept per tenant: after
// Failures consecutive failed writes for a tenant its writes fail fast
// with a *BreakerOpenError for Cooldown, then one trial write decides
// whether it closes or opens again. Zero values take the defaults.
type BreakerConfig struct {
	Failures int           // default 5
	Cooldown time.Duration // default 30s
}

// Backoff spaces restarts of a plugin that keeps dying: Initial after the
// first crash, doubling up to Max; a successful call resets it.
type Backoff struct {
	Initial time.Duration // default 100ms
	Max     time.Duration // default 10s
}

func (c *LaunchConfig) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Timeouts.Start, 30*time.Second)
	def(&c.Timeouts.Call, 30*time.Second)
	def(&c.Timeouts.Write, 2*time.Minute)
	def(&c.Timeouts.Idle, time.Minute)
	def(&c.Breaker.Cooldown, 30*time.Second)
	def(&c.Restart.Initial, 100*time.Millisecond)
	def(&c.Restart.Max, 10*time.Second)
	if c.Breaker.Failures <= 0 {
		c.Breaker.Failures = 5
	}
	if c.Name == "" {
		c.Name = c.Plugin
	}
}

func (b Backoff) delay(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
