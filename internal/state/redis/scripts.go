package redis

import (
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/siphonhq/siphon/internal/state"
)

// Every state change of a tenant is one of these scripts, run in the
// tenant's hash slot (all KEYS carry the {tenant} tag), so each step is
// atomic and legal on Redis Cluster.
//
// Retries. go-redis re-sends a command after a network error (MaxRetries on
// a Client; on a ClusterClient also up to MaxRedirects times, whatever
// MaxRetries says), and the first send may have run. So every script is
// safe to run twice, and each says how:
//   - op key: the script records its reply under an operation id chosen per
//     call; a re-run finds the record and returns the same reply
//     (acquire, commitPage, appendAudit);
//   - ownership: it acts only on entries XPENDING shows the caller holding,
//     which the first run already moved (ack, fail, nack, extend);
//   - presence: it acts only on items still where they were (replay, the
//     retry move in claim);
//   - harmless: a second run repeats an idempotent write, or re-delivers to
//     the same consumer (claim, reclaim, renew, release, schedule), or bumps
//     a generation once more (setCheckpoint: any in-flight walk is refused
//     either way).
//
// Times are microseconds. Numbers go back into Redis through n2s, because
// Lua would print a large double in exponent form.

// prelude is prepended to every script.
const prelude = clockPrelude + `
-- op_seen/op_done: KEYS[1] is the operation key, ARGV[1] its TTL in seconds.
local function op_seen()
  local v = redis.call('GET', KEYS[1])
  if v then return cmsgpack.unpack(v) end
  return nil
end
local function op_done(res)
  redis.call('SET', KEYS[1], cmsgpack.pack(res), 'EX', ARGV[1])
  return res
end
-- ensure_group creates a stream with its consumer group on first use.
local function ensure_group(key, group)
  if redis.call('EXISTS', key) == 0 then
    redis.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')
  end
end
-- queue_state is what the ready index needs: entries in the stream and
-- the earliest retry time (-1 when none).
local function queue_state(stream, retry)
  local r = redis.call('ZRANGE', retry, 0, 0, 'WITHSCORES')
  local at = -1
  if r[2] then at = tonumber(r[2]) end
  return redis.call('XLEN', stream), at
end
-- owns: is the entry pending with this consumer?
local function owns(stream, group, id, consumer)
  local p = redis.call('XPENDING', stream, group, id, id, 1)
  return p[1] ~= nil and p[1][2] == consumer
end
`

func script(body string) *goredis.Script { return goredis.NewScript(prelude + body) }

// clockPrelude starts prelude and is all the take and drain scripts use:
// they run on every source request, and defining the rest of prelude's
// functions on each run is a measurable share of their cost.
const clockPrelude = `
local function n2s(x) return string.format('%.0f', x) end
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

// acquireScript grants a job's lease when it is free and, with a due check,
// the job is due; it then advances the authoritative due time in the same
// step. The fence counter is max(stored + 1, server µs).
// KEYS: op, job. ARGV: opTTL, owner, ttl µs, epoch, now (scheduler µs), next due ("" = no due check).
// Reply: {granted, owner, counter, expires, due, epoch}.
var acquireScript = script(`
local seen = op_seen()
if seen then return seen end
local now = server_now()
local h = redis.call('HMGET', KEYS[2], 'owner', 'ctr', 'exp', 'due', 'ep')
local owner, ctr = h[1] or '', tonumber(h[2]) or 0
local exp, due = tonumber(h[3]) or 0, tonumber(h[4]) or 0
-- A refusal changes nothing, so it is not recorded: schedulers that lose
-- the race write nothing.
if owner ~= '' and exp > now then
  return {0, owner, ctr, exp, due, h[5] or ''}
end
if ARGV[6] ~= '' and due ~= 0 and due > tonumber(ARGV[5]) then
  return {0, '', ctr, 0, due, ''}
end
ctr = math.max(ctr + 1, now)
exp = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[2], 'owner', ARGV[2], 'ctr', n2s(ctr), 'exp', n2s(exp), 'ep', ARGV[4])
if ARGV[6] ~= '' then
  due = tonumber(ARGV[6])
  redis.call('HSET', KEYS[2], 'due', ARGV[6])
end
return op_done({1, ARGV[2], ctr, exp, due, ARGV[4]})
`)

// renewScript extends a lease still held by this token.
// KEYS: job. ARGV: owner, counter, epoch, ttl µs. Reply: {1, expires, due} or {0}.
var renewScript = script(`
local h = redis.call('HMGET', KEYS[1], 'owner', 'ctr', 'ep', 'due')
if ARGV[1] == '' or h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[3] ~= ARGV[3] then return {0} end
local exp = server_now() + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'exp', n2s(exp))
return {1, exp, tonumber(h[4]) or 0}
`)

// releaseScript frees a lease still held by this token; the counter stays
// so the next grant's is higher.
// KEYS: job. ARGV: owner, counter, epoch. Reply: 1 if released.
var releaseScript = script(`
local h = redis.call('HMGET', KEYS[1], 'owner', 'ctr', 'ep')
if ARGV[1] == '' or h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[3] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'owner', '', 'exp', '0')
return 1
`)

// scheduleScript sets a job's due time if it has none (or always, with
// replace) and returns the authoritative one.
// KEYS: job. ARGV: due µs, replace ("1"). Reply: due µs (string).
var scheduleScript = script(`
local d = redis.call('HGET', KEYS[1], 'due')
if not d or ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'due', ARGV[1])
  d = ARGV[1]
end
return d
`)

// jobDueScript reads the authoritative due times of jobs for the repair
// sweep (one tenant per call keeps it in one slot).
// KEYS: jobs. Reply: due µs per job, "" when none.
var jobDueScript = script(`
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGET', KEYS[i], 'due') or '' end
return out
`)

// setCheckpointScript is the operator's set/reset: bump the generation, drop
// the walk and the last completion, set (or clear) the cursor.
// KEYS: checkpoint. ARGV: cursor µs ("" = reset). Reply: new generation.
var setCheckpointScript = script(`
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HDEL', KEYS[1], 'after', 'cap', 'pos', 'total', 'n', 'src', 'cursor', 'done', 'done_n')
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'cursor', ARGV[1]) end
return gen
`)

// commitPageScript is the page step: check the fence, advance each member
// walk whose generation still matches (a completed walk moves the cursor to
// its cap, unless the cap is empty: a full scan, and records when it
// completed and how many records it read), enqueue the page's entries except those of skipped members
// (assigning seqs), and store the scan page's id blob.
// KEYS: op, job, seq, checkpoint × nw, stream × nq, [scan].
// ARGV: opTTL, owner, counter, epoch, nw, nq, hasScan, group; per walk
// (pipeline, generation, after, cap, pos, total, records, source progress,
// complete); per queue a
// count, then per entry (pipeline, key, op, version, confgen, seq, hash,
// payload, trace); [scan page, blob].
// Reply: {-1} when fenced, else {1, now, applied × nw, enqueued × nq}.
var commitPageScript = script(`
local seen = op_seen()
if seen then return seen end
local h = redis.call('HMGET', KEYS[2], 'owner', 'ctr', 'ep')
if (h[1] or '') == '' or h[1] ~= ARGV[2] or h[2] ~= ARGV[3] or h[3] ~= ARGV[4] then
  return {-1}
end
local now = server_now()
local nw, nq = tonumber(ARGV[5]), tonumber(ARGV[6])
local res = {1, now}
local skipped = {}
local a = 9
for i = 1, nw do
  local key = KEYS[3 + i]
  local gen = tonumber(redis.call('HGET', key, 'gen') or '0')
  if gen ~= tonumber(ARGV[a + 1]) then
    skipped[ARGV[a]] = true
    res[#res + 1] = 0
  else
    if ARGV[a + 8] == '1' then
      if ARGV[a + 3] ~= '0' then redis.call('HSET', key, 'cursor', ARGV[a + 3]) end
      redis.call('HSET', key, 'done', n2s(now), 'done_n', ARGV[a + 6])
      redis.call('HDEL', key, 'after', 'cap', 'pos', 'total', 'n', 'src')
    else
      redis.call('HSET', key, 'after', ARGV[a + 2], 'cap', ARGV[a + 3], 'pos', ARGV[a + 4], 'total', ARGV[a + 5], 'n', ARGV[a + 6])
      -- An update without the source's progress must not leave an older
      -- walk's behind.
      if ARGV[a + 7] == '' then redis.call('HDEL', key, 'src') else redis.call('HSET', key, 'src', ARGV[a + 7]) end
    end
    res[#res + 1] = 1
  end
  a = a + 9
end
local seq = tonumber(redis.call('GET', KEYS[3]) or '0')
for i = 1, nq do
  local key = KEYS[3 + nw + i]
  local cnt = tonumber(ARGV[a])
  a = a + 1
  local enq = 0
  for _ = 1, cnt do
    if not skipped[ARGV[a]] then
      if enq == 0 then ensure_group(key, ARGV[8]) end
      local s = ARGV[a + 5]
      if s == '0' then
        seq = seq + 1
        s = n2s(seq)
      end
      redis.call('XADD', key, '*', 'p', ARGV[a], 'k', ARGV[a + 1], 'o', ARGV[a + 2], 'v', ARGV[a + 3],
        'g', ARGV[a + 4], 's', s, 'h', ARGV[a + 6], 'd', ARGV[a + 7], 't', ARGV[a + 8], 'a', '0')
      enq = enq + 1
    end
    a = a + 9
  end
  res[#res + 1] = enq
end
redis.call('SET', KEYS[3], n2s(seq))
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[#KEYS], ARGV[a], ARGV[a + 1])
end
return op_done(res)
`)

// claimFn is the body of claimScript and ackClaimScript: claim moves due
// retries back into the stream, then reads the consumer's own pending
// entries and, if fewer than n, new ones. Entries deleted while pending are
// acked away; an own entry delivered more than limit times goes to the DLQ.
// It returns the entries and how many went to the DLQ.
const claimFn = `
local function claim(stream, retry, retryData, dlq, group, consumer, n, limit, destination)
  local now = server_now()
  local due = redis.call('ZRANGEBYSCORE', retry, '-inf', n2s(now), 'LIMIT', 0, n)
  for _, id in ipairs(due) do
    local data = redis.call('HGET', retryData, id)
    if data then
      ensure_group(stream, group)
      redis.call('XADD', stream, '*', unpack(cmsgpack.unpack(data)))
    end
    redis.call('ZREM', retry, id)
    redis.call('HDEL', retryData, id)
  end
  if redis.call('EXISTS', stream) == 0 then return {}, 0 end
  local out, dead = {}, 0
  local own = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', stream, '0')
  for _, e in ipairs(own[1][2]) do
    if not e[2] then
      redis.call('XACK', stream, group, e[1])
    elseif redis.call('XPENDING', stream, group, e[1], e[1], 1)[1][4] > limit then
      redis.call('XADD', dlq, '*', 'q', destination, 'r', 'reclaimed too often', 'at', n2s(now), unpack(e[2]))
      redis.call('XACK', stream, group, e[1])
      redis.call('XDEL', stream, e[1])
      dead = dead + 1
    else
      out[#out + 1] = e
    end
  end
  if #out < n then
    local new = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n - #out, 'STREAMS', stream, '>')
    if new then
      for _, e in ipairs(new[1][2]) do out[#out + 1] = e end
    end
  end
  return out, dead
end
`

// ackFn is the body of ackScript and ackClaimScript: ack_held acks and
// deletes (never trims) the entries among ARGV[first…] that consumer holds,
// and returns how many. Ownership comes from one XPENDING scan of the
// consumer's entries within the ids' range lo..hi (paged), not one call per
// id, so a batch of 500 costs a handful of commands.
const ackFn = `
local function ack_held(stream, group, consumer, lo, hi, first)
  if redis.call('EXISTS', stream) == 0 or #ARGV < first then return 0 end
  local held, start = {}, lo
  while true do
    local page = redis.call('XPENDING', stream, group, start, hi, 1000, consumer)
    for _, p in ipairs(page) do held[p[1]] = true end
    if #page < 1000 then break end
    start = '(' .. page[#page][1]
  end
  local ids = {}
  for i = first, #ARGV do
    if held[ARGV[i]] then
      held[ARGV[i]] = nil
      ids[#ids + 1] = ARGV[i]
    end
  end
  -- unpack in chunks: Lua's C stack takes a few thousand values at most.
  for i = 1, #ids, 1000 do
    local chunk = {unpack(ids, i, math.min(i + 999, #ids))}
    redis.call('XACK', stream, group, unpack(chunk))
    redis.call('XDEL', stream, unpack(chunk))
  end
  return #ids
end
`

// claimScript claims (claimFn); an own entry delivered more than
// maxAttempts + 3 times (a worker that crashes on it and restarts under the
// same name) goes to the DLQ as "reclaimed too often".
// KEYS: stream, retry, retryData, dlq. ARGV: group, consumer, n, maxAttempts, destination.
// Reply: {{{id, {field, value, …}}, …}, dead, stream length, earliest retry or -1}.
var claimScript = script(claimFn + `
local out, dead = claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]) + 3, ARGV[5])
local len, at = queue_state(KEYS[1], KEYS[2])
return {out, dead, len, at}
`)

// ackScript acks and deletes the entries this consumer holds (ackFn).
// KEYS: stream, retry. ARGV: group, consumer, lowest id, highest id, ids…
// Reply: {acked, stream length, earliest retry or -1}.
var ackScript = script(ackFn + `
local acked = ack_held(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 5)
local len, at = queue_state(KEYS[1], KEYS[2])
return {acked, len, at}
`)

// ackClaimScript is ackScript then claimScript in one step, so a worker
// settling a batch with only acks takes its next batch in the same round
// trip. Safe to run twice as both parts are: the ack by ownership, the
// claim re-delivering the first run's entries to the same consumer.
// KEYS: stream, retry, retryData, dlq. ARGV: group, consumer, n,
// maxAttempts, destination, lowest id, highest id, ids…
// Reply: {acked, {{id, {field, value, …}}, …}, dead, stream length, earliest retry or -1}.
var ackClaimScript = script(ackFn + claimFn + `
local acked = ack_held(KEYS[1], ARGV[1], ARGV[2], ARGV[6], ARGV[7], 8)
local out, dead = claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]) + 3, ARGV[5])
local len, at = queue_state(KEYS[1], KEYS[2])
return {acked, out, dead, len, at}
`)

// failScript records a failed write on each entry this consumer holds:
// attempts + 1 and the error, then the retry set (due after the delay) or,
// at maxAttempts, the DLQ.
// KEYS: stream, retry, retryData, dlq. ARGV: group, consumer, maxAttempts,
// destination, then (id, error, delay µs) triples.
// Reply: {retried, dead, stream length, earliest retry or -1}.
var failScript = script(`
local now = server_now()
local retried, dead = 0, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 5, #ARGV, 3 do
    local id = ARGV[i]
    if owns(KEYS[1], ARGV[1], id, ARGV[2]) then
      local e = redis.call('XRANGE', KEYS[1], id, id)
      if e[1] then
        local f, out, attempts = e[1][2], {}, 0
        for j = 1, #f, 2 do
          if f[j] == 'a' then
            attempts = tonumber(f[j + 1])
          elseif f[j] ~= 'e' then
            out[#out + 1] = f[j]
            out[#out + 1] = f[j + 1]
          end
        end
        attempts = attempts + 1
        out[#out + 1] = 'a'
        out[#out + 1] = n2s(attempts)
        out[#out + 1] = 'e'
        out[#out + 1] = ARGV[i + 1]
        if attempts >= tonumber(ARGV[3]) then
          redis.call('XADD', KEYS[4], '*', 'q', ARGV[4], 'r', 'failed', 'at', n2s(now), unpack(out))
          dead = dead + 1
        else
          redis.call('HSET', KEYS[3], id, cmsgpack.pack(out))
          redis.call('ZADD', KEYS[2], n2s(now + tonumber(ARGV[i + 2])), id)
          retried = retried + 1
        end
      end
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
    end
  end
end
local len, at = queue_state(KEYS[1], KEYS[2])
return {retried, dead, len, at}
`)

// nackScript hands entries this consumer holds back to the group: each is
// re-added at the stream's end as a new, undelivered entry with its fields
// (attempts and last error) unchanged, and the held copy acked and deleted,
// because a stream entry cannot be un-delivered in place.
// KEYS: stream. ARGV: group, consumer, ids… Reply: {handed back, now}.
var nackScript = script(`
local n = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 3, #ARGV do
    local id = ARGV[i]
    if owns(KEYS[1], ARGV[1], id, ARGV[2]) then
      local e = redis.call('XRANGE', KEYS[1], id, id)
      if e[1] then
        redis.call('XADD', KEYS[1], '*', unpack(e[1][2]))
        n = n + 1
      end
      redis.call('XACK', KEYS[1], ARGV[1], id)
      redis.call('XDEL', KEYS[1], id)
    end
  end
end
return {n, server_now()}
`)

// reclaimScript takes over entries idle longer than minIdle (XAUTOCLAIM);
// one delivered more than maxAttempts + 3 times goes to the DLQ as
// "reclaimed too often" (it crashes or hangs workers, never failing).
// KEYS: stream, retry, dlq. ARGV: group, consumer, minIdle ms, n, maxAttempts, destination.
// Reply: {{{id, fields}, …}, dead, stream length, earliest retry or -1}.
var reclaimScript = script(`
local now = server_now()
if redis.call('EXISTS', KEYS[1]) == 0 then return {{}, 0, 0, -1} end
local n, limit = tonumber(ARGV[4]), tonumber(ARGV[5]) + 3
local out, dead, cursor = {}, 0, '0-0'
for _ = 1, 10 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', n - #out)
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    if p[1] and tonumber(p[1][4]) > limit then
      redis.call('XADD', KEYS[3], '*', 'q', ARGV[6], 'r', 'reclaimed too often', 'at', n2s(now), unpack(e[2]))
      redis.call('XACK', KEYS[1], ARGV[1], e[1])
      redis.call('XDEL', KEYS[1], e[1])
      dead = dead + 1
    else
      out[#out + 1] = e
    end
  end
  if cursor == '0-0' or #out >= n then break end
end
local len, at = queue_state(KEYS[1], KEYS[2])
return {out, dead, len, at}
`)

// extendScript resets the idle time of entries this consumer holds
// (XCLAIM … JUSTID does not count a delivery).
// KEYS: stream. ARGV: group, consumer, ids… Reply: count held.
var extendScript = script(`
local n = 0
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV do
  if owns(KEYS[1], ARGV[1], ARGV[i], ARGV[2]) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
`)

// removeConsumerScript deletes a consumer only when it holds nothing
// (XGROUP DELCONSUMER would drop its pending entries).
// KEYS: stream. ARGV: group, consumer. Reply: 1 if gone.
var removeConsumerScript = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// depthScript reads a queue's sizes in one call.
// KEYS: stream, retry, dlq. ARGV: group. Reply: {stream, pending, retry, dead}.
var depthScript = script(`
local pending = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
end
return {redis.call('XLEN', KEYS[1]), pending, redis.call('ZCARD', KEYS[2]), redis.call('XLEN', KEYS[3])}
`)

// markReadyScript lists a queue in its ready-index shard as ready now,
// unless it is listed earlier (LT). It runs on the shard's node, so the
// time is that server's, as Ready compares it with.
// KEYS: ready shard. ARGV: member. Reply: added.
var markReadyScript = script(`
return redis.call('ZADD', KEYS[1], 'LT', n2s(server_now()), ARGV[1])
`)

// queueStateScript is the lost-wake-up re-check after the ready index
// dropped or delayed a queue.
// KEYS: stream, retry. Reply: {stream length, earliest retry or -1, now}.
var queueStateScript = script(`
local len, at = queue_state(KEYS[1], KEYS[2])
return {len, at, server_now()}
`)

// parkStateScript reads what Park needs: entries not yet delivered (every
// entry in the stream is either pending or undelivered, because acked ones
// are deleted), the earliest retry and the time.
// KEYS: stream, retry. ARGV: group. Reply: {undelivered, stream length, earliest retry or -1, now}.
var parkStateScript = script(`
local len, at = queue_state(KEYS[1], KEYS[2])
local pending = 0
if len > 0 then pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1] end
return {len - pending, len, at, server_now()}
`)

// holdScript raises a queue's ready score to now + d, or to its earliest
// retry when sooner, and tells whether it was listed (scored at or before
// now, or not indexed).
// KEYS: ready shard. ARGV: member, d µs, earliest retry or -1. Reply: 1 listed, 0 not.
var holdScript = script(`
local now = server_now()
local till = now + tonumber(ARGV[2])
local at = tonumber(ARGV[3])
if at >= 0 and at < till then till = at end
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local listed = 1
if s then
  s = tonumber(s)
  if s > now then listed = 0 end
  if s >= till then return listed end
end
redis.call('ZADD', KEYS[1], n2s(till), ARGV[1])
return listed
`)

// replayScript moves dead letters back onto their queues with attempts
// reset, keeping version, config generation and seq; a letter already gone
// is skipped.
// KEYS: dlq, streams… ARGV: group, then (id, index into KEYS of its stream) pairs.
// Reply: count replayed.
var replayScript = script(`
local n = 0
for i = 2, #ARGV, 2 do
  local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if e[1] then
    local key, f, out = KEYS[tonumber(ARGV[i + 1])], e[1][2], {}
    for j = 1, #f, 2 do
      local k = f[j]
      if k ~= 'a' and k ~= 'e' and k ~= 'q' and k ~= 'r' and k ~= 'at' then
        out[#out + 1] = k
        out[#out + 1] = f[j + 1]
      end
    end
    out[#out + 1] = 'a'
    out[#out + 1] = '0'
    ensure_group(key, ARGV[1])
    redis.call('XADD', key, '*', unpack(out))
    redis.call('XDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`)

// purgeAllScript empties a tenant's DLQ. KEYS: dlq. Reply: count removed.
var purgeAllScript = script(`
local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
`)

// activateConfigScript activates config versions in increasing order; a
// superseded hash never comes back without force. Version "0" numbers the
// config here: the active one's number for the active hash, else one more
// than the highest version ever activated ('last', kept apart from the
// active version because a forced rollback may activate a lower one).
// The summary is stored with the version, and added to an active version
// that has none.
// KEYS: config, superseded. ARGV: version, hash, at µs, force ("1"), summary.
// Reply: {ok, version, hash, at, summary} (the active one afterwards).
var activateConfigScript = script(`
local cur = redis.call('HMGET', KEYS[1], 'version', 'hash', 'at', 'last', 'summary')
local v = ARGV[1]
if cur[1] then
  if cur[2] == ARGV[2] and (v == '0' or cur[1] == v) then
    local sum = cur[5] or ''
    if sum == '' and ARGV[5] ~= '' then
      sum = ARGV[5]
      redis.call('HSET', KEYS[1], 'summary', sum)
    end
    return {1, cur[1], cur[2], cur[3], sum}
  end
  if ARGV[4] ~= '1' and ((v ~= '0' and tonumber(v) <= tonumber(cur[1])) or redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1) then
    return {0, cur[1], cur[2], cur[3], cur[5] or ''}
  end
  if cur[2] ~= ARGV[2] then redis.call('SADD', KEYS[2], cur[2]) end
end
local last = math.max(tonumber(cur[4]) or 0, tonumber(cur[1]) or 0)
if v == '0' then v = string.format('%d', last + 1) end
last = math.max(last, tonumber(v))
redis.call('HSET', KEYS[1], 'version', v, 'hash', ARGV[2], 'at', ARGV[3], 'last', string.format('%d', last), 'summary', ARGV[5])
return {1, v, ARGV[2], ARGV[3], ARGV[5]}
`)

// appendAuditScript appends one audit entry to one log.
// KEYS: op, log. ARGV: opTTL, then field/value pairs. Reply: {id}.
var appendAuditScript = script(`
local seen = op_seen()
if seen then return seen end
return op_done({redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))})
`)

// initMetaScript records format and epoch on first open.
// KEYS: meta. ARGV: format, epoch. Reply: {format, epoch}.
var initMetaScript = script(`
if redis.call('HEXISTS', KEYS[1], 'format') == 0 then
  redis.call('HSET', KEYS[1], 'format', ARGV[1], 'epoch', ARGV[2])
end
return redis.call('HMGET', KEYS[1], 'format', 'epoch')
`)

// budgetPrelude reads and writes budgets. A budget is 16 bytes, two
// little-endian doubles: its theoretical arrival time (µs of the server's
// clock, with its fraction: see state.GCRAState) and when its key expires
// (µs). Binary values spare the scripts the number formatting and parsing
// that were most of their cost (a take runs on every source request), and
// knowing the expiry lets a write keep the key's TTL (SET KEEPTTL) until
// the TAT passes it, instead of setting a new one on every take: the key
// still expires once it holds nothing back, at most the margin later
// (more only after a give-back, which moves the TAT back and keeps the
// expiry). A value in the decimal form earlier versions wrote is read as
// its TAT; earlier versions read this form as an empty budget, so the
// workers of a hub are upgraded together, not one by one.
// The margin (µs) is state.BudgetMargin, built into the text.
var budgetPrelude = clockPrelude + budgetFuncs

var budgetFuncs = fmt.Sprintf(`
local margin = %d
local capslack = %d
local function get_budget(s)
  if not s then return 0, 0, 0 end
  if #s == 16 then
    local tat, exp = struct.unpack('<dd', s)
    return tat, exp, 0
  end
  if #s == 24 then
    local tat, exp, lent = struct.unpack('<ddd', s)
    return tat, exp, lent
  end
  return tonumber(s) or 0, 0, 0
end
local function put_budget(key, tat, exp, now, lent)
  local v
  if lent then v = struct.pack('<ddd', tat, exp, lent) else v = struct.pack('<dd', tat, exp) end
  if exp >= tat and exp > now then
    redis.call('SET', key, v, 'KEEPTTL')
  else
    exp = math.ceil(tat + margin)
    if lent then v = struct.pack('<ddd', tat, exp, lent) else v = struct.pack('<dd', tat, exp) end
    redis.call('SET', key, v, 'PX', string.format('%%d', math.ceil((exp - now) / 1000)))
  end
end
`, state.BudgetMargin.Microseconds(), state.CapSlack.Microseconds())

// takeScript takes, for each request in ARGV in turn, n tokens of every
// budget of the request, all or none: GCRA as state.TakeAll computes it,
// in the server's clock. W is the longest wait of the budgets that are
// not caps, and at least after; a cap that would hold the request past W
// (by more than state.CapSlack) refuses it with its own wait, else may
// move W up to its own. When W is at most reserve, every budget is
// advanced as if the request arrived at now+W and the request is granted
// with W as the wait (0: send now); above, nothing changes and W is the
// wait. A drain key (its value the end of a drain, µs) may sit beside a
// budget. A re-run after a network error takes the tokens once more: the
// caller waits longer, the budget is never exceeded.
//
// Several requests share one run on one server (takeBatcher): each is
// taken as if it had come alone, after the ones before it, and the run's
// fixed cost (the call, the clock) is paid once. On a cluster every run
// is one request, its keys in one slot.
// KEYS: per request, its budgets, then the drain keys of the first of
// them, in the same order. ARGV: per request, little-endian doubles (see
// takeArgs): its number of keys, n, the number of drain keys, reserve
// µs, after µs, then per budget its interval (µs, already divided by the
// throttle factor, may be fractional), burst tolerance (µs) and 1 for a
// cap (state.Limit.Cap), else 0.
// Reply: per request, granted (1 or 0) and wait µs.
var takeScript = goredis.NewScript(budgetPrelude + `
local now = server_now()
local function take(k0, a)
  local nk, n, nd, reserve, after = a[1], a[2], a[3], a[4], a[5]
  local nb = nk - nd
  local v = redis.call('MGET', unpack(KEYS, k0 + 1, k0 + nk))
  local tats, exps, wait, capwait = {}, {}, after > 0 and after or 0, 0
  for i = 1, nb do
    local t, tau = a[3 + 3 * i], a[4 + 3 * i]
    local tat, exp = get_budget(v[i])
    if i <= nd and v[nb + i] then
      local hold = tonumber(v[nb + i])
      if hold and hold + tau > tat then tat = hold + tau end
    end
    if tat < now then tat = now end
    local allow = tau + t
    if n * t > allow then allow = n * t end
    local w = tat + n * t - allow - now
    if a[5 + 3 * i] == 1 then
      if w > capwait then capwait = math.ceil(w) end
    elseif w > wait then
      wait = math.ceil(w)
    end
    tats[i], exps[i] = tat, exp
  end
  if capwait > wait + capslack then return 0, capwait end
  if capwait > wait then wait = capwait end
  if wait > reserve then return 0, wait end
  local at = now + wait
  for i = 1, nb do
    local tat = tats[i]
    if at > tat then tat = at end
    put_budget(KEYS[k0 + i], tat + n * a[3 + 3 * i], exps[i], now)
  end
  return 1, wait
end
local out, k0 = {}, 0
for r = 1, #ARGV do
  local s = ARGV[r]
  local a = {struct.unpack('<' .. string.rep('d', #s / 8), s)}
  out[2 * r - 1], out[2 * r] = take(k0, a)
  k0 = k0 + a[1]
end
return out
`)

// lendFuncs define lend, for the scripts that lend only: the take
// script, run on every request, does not define it.
const lendFuncs = `
-- lend lends n tokens of another lane's budget as state.GCRAState.Lend
-- does (t its interval, tau its burst tolerance): idle, or used only by
-- borrowers since its own lane's last take (TAT still the loan's) and its
-- next slot at most an interval away, within reserve. Returns the wait,
-- or nil.
local function lend(key, t, tau, n, now, reserve)
  local tat, exp, lent = get_budget(redis.call('GET', key))
  local base = tat
  if base < now then base = now end
  local allow = tau + t
  if n * t > allow then allow = n * t end
  local w = base + n * t - allow - now
  if w <= 0 then
    w = 0
  else
    if lent == 0 or tat ~= lent or w > t then return nil end
    w = math.ceil(w)
    if w > reserve then return nil end
  end
  local at = now + w
  if at < tat then at = tat end
  put_budget(key, at + n * t, exp, now, at + n * t)
  return w
end
`

// takeLendScript is takeScript with loans from other lanes' budgets
// (state.TakeLend), on one server: when the tenant's budgets grant at once
// and the whole would make the request wait, the first of the lending
// budgets that lends is taken with the tenant's instead of the hub's, the
// tenant's charged at its slot; otherwise it is takeScript. Like
// takeScript it takes a list of requests in turn (takeBatcher).
// KEYS: per request, the tenant's budgets, the hub's, the lending ones,
// then the tenant's drain keys. ARGV: per request, little-endian doubles:
// n, the number of the tenant's budgets (each with a drain key), reserve
// µs, the number of hub budgets, the number of lending ones, then per
// tenant and hub budget its interval, burst tolerance and cap flag (as
// takeScript), then per lending budget its interval and burst tolerance.
// Reply: per request, granted (1 or 0) and wait µs.
var takeLendScript = goredis.NewScript(budgetPrelude + lendFuncs + `
local now = server_now()
local function take(k0, a)
  local n, nt, reserve, nh, nl = a[1], a[2], a[3], a[4], a[5]
  local nb = nt + nh
  local v = redis.call('MGET', unpack(KEYS, k0 + 1, k0 + nb))
  local tats, exps, wait, capwait, twait = {}, {}, 0, 0, 0
  for i = 1, nb do
    local t, tau = a[3 + 3 * i], a[4 + 3 * i]
    local tat, exp = get_budget(v[i])
    if i <= nt then
      local hold = tonumber(redis.call('GET', KEYS[k0 + nb + nl + i]))
      if hold and hold + tau > tat then tat = hold + tau end
    end
    if tat < now then tat = now end
    local allow = tau + t
    if n * t > allow then allow = n * t end
    local w = tat + n * t - allow - now
    if w > 0 then
      w = math.ceil(w)
      if i <= nt and w > twait then twait = w end
      if a[5 + 3 * i] == 1 then
        if w > capwait then capwait = w end
      elseif w > wait then
        wait = w
      end
    end
    tats[i], exps[i] = tat, exp
  end
  local function charge(upto, at)
    for i = 1, upto do
      local tat = tats[i]
      if at > tat then tat = at end
      put_budget(KEYS[k0 + i], tat + n * a[3 + 3 * i], exps[i], now)
    end
  end
  if twait == 0 and (wait > 0 or capwait > 0) then
    local base = 5 + 3 * nb
    for j = 1, nl do
      local w = lend(KEYS[k0 + nb + j], a[base + 2 * j - 1], a[base + 2 * j], n, now, reserve)
      if w then
        charge(nt, now + w)
        return 1, w
      end
    end
  end
  if capwait > wait + capslack then return 0, capwait end
  if capwait > wait then wait = capwait end
  if wait > reserve then return 0, wait end
  charge(nb, now + wait)
  return 1, wait
end
local out, k0 = {}, 0
for r = 1, #ARGV do
  local s = ARGV[r]
  local a = {struct.unpack('<' .. string.rep('d', #s / 8), s)}
  out[2 * r - 1], out[2 * r] = take(k0, a)
  k0 = k0 + 2 * a[2] + a[4] + a[5]
end
return out
`)

// lendScript lends n tokens of one budget (see lend), a step of a take
// on a cluster. KEYS: the budget. ARGV[1]: little-endian doubles: n,
// reserve µs, interval, burst tolerance. Reply: {granted, wait µs}.
var lendScript = goredis.NewScript(budgetPrelude + lendFuncs + `
local now = server_now()
local n, reserve, t, tau = struct.unpack('<dddd', ARGV[1])
local w = lend(KEYS[1], t, tau, n, now, reserve)
if w then return {1, w} end
return {0, 0}
`)

// drainedScript returns how long the longest of the drains in KEYS still
// holds (µs; 0 when none). KEYS: drain keys of one tenant. Reply: µs.
var drainedScript = goredis.NewScript(clockPrelude + `
local now = server_now()
local wait = 0
for _, v in ipairs(redis.call('MGET', unpack(KEYS))) do
  local hold = tonumber(v)
  if hold and hold - now > wait then wait = hold - now end
end
return n2s(wait)
`)

// pushScript moves the tenant's budgets' TATs to at least now + ARGV[2]
// + n intervals (never earlier): after the hub, taken in its own slot,
// reserved a later slot than the tenant's, the tenant's budgets are
// charged at the slot the request really goes. Harmless to re-run.
// KEYS: budgets. ARGV: n, delay µs, factor, then per budget its interval
// (µs). Reply: 1.
var pushScript = goredis.NewScript(budgetPrelude + `
local now = server_now()
local n, delay, factor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #KEYS do
  local want = now + delay + n * tonumber(ARGV[3 + i]) / factor
  local tat, exp = get_budget(redis.call('GET', KEYS[i]))
  if want > tat then put_budget(KEYS[i], want, exp, now) end
end
return 1
`)

// giveBackScript returns n tokens to every budget in KEYS (the tenant's,
// after the hub refused): each TAT moves back by n intervals. The op key
// makes a re-run return the first reply instead of giving back twice.
// KEYS: op, budgets. ARGV: opTTL, n, factor, then per budget its interval
// (µs). Reply: 1.
var giveBackScript = script(budgetFuncs + `
local seen = op_seen()
if seen then return seen end
local now = server_now()
local n, factor = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 2, #KEYS do
  local s = redis.call('GET', KEYS[i])
  if s then
    local tat, exp = get_budget(s)
    tat = tat - n * tonumber(ARGV[2 + i]) / factor
    if tat + margin > now then
      put_budget(KEYS[i], tat, exp, now)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
return op_done(1)
`)

// drainScript refuses a budget's tokens until d from now, never moving an
// existing later drain earlier. Harmless to re-run.
// KEYS: the budget's drain key. ARGV: d µs, margin ms. Reply: the drain's
// end (µs).
var drainScript = goredis.NewScript(clockPrelude + `
local now = server_now()
local stop = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or false) or 0)
redis.call('SET', KEYS[1], n2s(stop), 'PX', math.ceil((stop - now) / 1000) + tonumber(ARGV[2]))
return n2s(stop)
`)

// swapCredentialScript writes a credential only if it still holds the
// blob the caller read (ARGV[1] empty: only if there is none), so a
// re-seal racing a credentials set or delete neither brings back the
// replaced token nor a deleted one. Presence makes a re-run safe: a run
// that finds the new blob already stored (the first run's write) replies
// 1 without writing.
// KEYS: credential. ARGV: old (empty: absent), new. Reply: 1 stored, 0 not.
var swapCredentialScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[2] then return 1 end
if ARGV[1] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// allScripts are loaded into every master at Open.
var allScripts = []*goredis.Script{
	acquireScript, renewScript, releaseScript, scheduleScript, jobDueScript,
	setCheckpointScript, commitPageScript, claimScript, ackScript, failScript,
	nackScript, reclaimScript, extendScript, removeConsumerScript, depthScript,
	markReadyScript, queueStateScript, parkStateScript, holdScript, replayScript, purgeAllScript, activateConfigScript,
	appendAuditScript, initMetaScript, takeScript, takeLendScript, lendScript, pushScript, drainedScript, giveBackScript, drainScript,
	swapCredentialScript,
}
