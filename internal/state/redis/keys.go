package redis

import (
	"hash/fnv"
	"strconv"
)

// Keys. Every key of a tenant starts with <prefix>:{<tenant>}: so Redis
// Cluster keeps all of a tenant's keys in one hash slot and every tenant
// script is legal there. Hub-wide keys (meta, config, hub audit) share the
// {hub} tag; the due and ready indexes are sharded, each shard its own tag,
// so no single slot is hot. Names after the tag are never parsed back.
type keys struct {
	prefix string
	shards int
}

func (k keys) tenant(t string) string { return k.prefix + ":{" + t + "}:" }

// job is a hash: owner, ctr (fence counter), ep (epoch), exp (lease expiry
// µs, server clock), due (next due µs, scheduler clock).
func (k keys) job(t, job string) string { return k.tenant(t) + "job:" + job }

// checkpoint is a hash: gen, cursor, and while a walk runs after, cap, pos, total.
func (k keys) checkpoint(t, pipeline string) string { return k.tenant(t) + "cp:" + pipeline }

// seq is the tenant's enqueue sequence counter.
func (k keys) seq(t string) string { return k.tenant(t) + "seq" }

// stream is the (tenant, destination) queue, consumer group "workers".
func (k keys) stream(t, dest string) string { return k.tenant(t) + "q:" + dest }

// retry is a ZSET of stream ids scored by retry time (µs, server clock);
// retryData holds each one's fields, packed.
func (k keys) retry(t, dest string) string     { return k.tenant(t) + "qr:" + dest }
func (k keys) retryData(t, dest string) string { return k.tenant(t) + "qd:" + dest }

// dlq is the tenant's dead-letter stream (all destinations).
func (k keys) dlq(t string) string { return k.tenant(t) + "dlq" }

// control is a hash of flags: "<kind>|<scope>" → JSON.
func (k keys) control(t string) string { return k.tenant(t) + "ctl" }

// credential is the sealed credential blob.
func (k keys) credential(t string) string { return k.tenant(t) + "cred" }

// audit is the tenant's audit stream.
func (k keys) audit(t string) string { return k.tenant(t) + "audit" }

// scan is a hash page → id blob of one reconcile scan.
func (k keys) scan(t, resource, scanID string) string {
	return k.tenant(t) + "scan:" + resource + "|" + scanID
}

// op marks a finished non-idempotent script call, holding its reply, so a
// client-side retry of the same call returns that reply instead of running
// again.
func (k keys) op(t, id string) string { return k.tenant(t) + "op:" + id }

// budget is one of the tenant's rate budgets: its GCRA theoretical
// arrival time (µs, server clock); drain, when present, the end of a
// drain of it (µs).
func (k keys) budget(t, key string) string { return k.tenant(t) + "bud:" + key }
func (k keys) drain(t, key string) string  { return k.tenant(t) + "drain:" + key }

// note is one of the tenant's notes (a string).
func (k keys) note(t, name string) string { return k.tenant(t) + "note:" + name }

// hubBudget is a hub-wide rate budget, laid out as budget (hub budgets
// are never drained). Each is its own
// hash tag, so the lanes' budgets spread over the cluster's slots.
func (k keys) hubBudget(key string) string { return k.prefix + ":{bud:" + key + "}" }

// hubBudgetOp is an op key in a hub budget's slot (a give-back of it).
func (k keys) hubBudgetOp(key, id string) string { return k.hubBudget(key) + ":op:" + id }

func (k keys) hub() string { return k.prefix + ":{hub}:" }

// throttle is the hub-wide throttle factor (a string; absent means 1).
func (k keys) throttle() string { return k.hub() + "throttle" }

// meta is a hash: format, epoch.
func (k keys) meta() string { return k.hub() + "meta" }

// config is a hash: version, hash, at, last (the highest version ever
// activated); superseded is a set of config hashes.
func (k keys) config() string     { return k.hub() + "config" }
func (k keys) superseded() string { return k.hub() + "superseded" }

func (k keys) hubAudit() string       { return k.hub() + "audit" }
func (k keys) hubOp(id string) string { return k.hub() + "op:" + id }

// dueShard is one shard of the due index: ZSET "tenant|job" → due µs.
func (k keys) dueShard(i int) string { return k.prefix + ":{due:" + strconv.Itoa(i) + "}" }

func (k keys) dueShardOf(member string) string { return k.dueShard(k.shardOf(member)) }

// readyShard is one shard of a lane's ready index: ZSET "tenant|dest" →
// µs (server clock) when work is next available.
func (k keys) readyShard(lane string, i int) string {
	return k.prefix + ":{ready:" + lane + ":" + strconv.Itoa(i) + "}"
}

func (k keys) readyShardOf(lane, member string) string {
	return k.readyShard(lane, k.shardOf(member))
}

func (k keys) shardOf(member string) int {
	h := fnv.New32a()
	h.Write([]byte(member))
	return int(h.Sum32() % uint32(k.shards))
}
