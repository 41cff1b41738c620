// Package host finds, verifies, launches and supervises destination
// plugins. The runtime talks to a destination only through a *Destination,
// which has the methods of sdk.Destination and adds what a plugin
// subprocess needs around them:
//
//   - discovery: built-ins (re-executing the siphon binary with `plugin
//     serve NAME`), then siphon-destination-NAME on the plugin path
//     (--plugin-dir, SIPHON_PLUGIN_PATH, ./plugins, ~/.siphon/plugins);
//   - verification: a pinned sha256 is checked before every start;
//   - isolation: go-plugin over gRPC with automatic mutual TLS, a
//     parent-death signal on the child (and the SDK's own parent watch), so
//     no plugin outlives siphon;
//   - supervision: per-call timeouts, idle timeouts on streams, restart with
//     backoff after a crash with the in-flight batch retried, a circuit
//     breaker per tenant;
//   - batch hygiene: de-duplication by (object, key), splitting at 4 MiB,
//     and bisection of a batch that fails as a statement or crashes the
//     plugin twice, so one bad record gets a permanent result and the rest
//     land.
//
// Plugin logs (hclog JSON on the plugin's stderr) are re-logged to the
// host's slog logger with the destination's name, and the last lines are
// kept for the errors the user sees when a plugin dies.
package host
