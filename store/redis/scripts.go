package redis

import "github.com/valkey-io/valkey-go"

// Every script works on the keys of one primary key (one hash tag, so one
// cluster slot) and on the four budget keys of its base (global in
// standalone mode, its slot's in cluster mode; see budgetKeys).
//
//	KEYS[1]     the meta hash  <prefix>{h}:m
//	KEYS[2..5]  lru, sz, idx, stat
//	(USE)       <prefix>{h}:u, derived in the script like the chunk keys
//	ARGV[1..5]  prefix, h, primary key, now (unix ms), grace (ms)
//	ARGV[6..]   the script's own arguments
//
// A meta value is a header Lua can read, then the store.MarshalEntry bytes:
//
//	"C1 <id> <chunkSize> <chunks> <size> <deadline ms> <ntags> " {<len>:<tag>} "\n"
//
// Scripts that change what is stored end with settle(), which moves the
// budget counters and the LRU/prefix indexes and returns the change in bytes
// and entries. Their reply starts with {<result>, <delta bytes>, <delta
// entries>, <evicted>, <total bytes>, <total entries>, <sequence>}, the
// totals being the base's (in cluster mode, one slot's).
const prelude = `
local P, H, PK = ARGV[1], ARGV[2], ARGV[3]
local NOW, GRACE = tonumber(ARGV[4]), tonumber(ARGV[5])
local META = KEYS[1]
local LRU, SZ, IDX, STAT = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- USE orders the variants of META by last use (commit, open, update): a
-- sorted set, variant → a counter that only grows, with META's lifetime.
local USE = P .. '{' .. H .. '}:u'

local function parse(v)
  local id, cs, n, size, dl, nt, pos = string.match(v, '^C1 (%S+) (%d+) (%d+) (%d+) (%d+) (%d+) ()')
  if not id then return nil end
  return {id = id, n = tonumber(n), size = tonumber(size), dl = tonumber(dl), nt = tonumber(nt), pos = pos}
end

local function hastag(v, x, tag)
  local pos = x.pos
  for _ = 1, x.nt do
    local l, p = string.match(v, '^(%d+):()', pos)
    if not l then return false end
    l = tonumber(l)
    if string.sub(v, p, p + l - 1) == tag then return true end
    pos = p + l
  end
  return false
end

-- dropchunks lets a removed body's chunks expire after the grace period, so
-- readers that opened it can finish.
local function dropchunks(h, x)
  local base = P .. '{' .. h .. '}:b:' .. x.id .. ':'
  for i = 0, x.n - 1 do
    if GRACE > 0 then
      redis.call('PEXPIRE', base .. i, GRACE, 'LT')
    else
      redis.call('UNLINK', base .. i)
    end
  end
end

local function tally(meta)
  local b, n = 0, 0
  for _, v in ipairs(redis.call('HVALS', meta)) do
    local x = parse(v)
    if x then b = b + x.size; n = n + 1 end
  end
  return b, n
end

-- recorded is what the budget counts for hash tag h.
local function recorded(h)
  local r = redis.call('HGET', SZ, h)
  if not r then return 0, 0, nil end
  local b, n, pk = string.match(r, '^(%d+) (%d+) (.*)$')
  return tonumber(b), tonumber(n), pk
end

local function num(x) return string.format('%d', x) end

-- settle brings the budget in line with META after a change and returns
-- the change in bytes and entries.
local function settle()
  local b0, n0 = recorded(H)
  local b1, n1 = tally(META)
  if b1 ~= b0 then redis.call('HINCRBY', STAT, 'bytes', num(b1 - b0)) end
  if n1 ~= n0 then redis.call('HINCRBY', STAT, 'entries', num(n1 - n0)) end
  if n1 == 0 then
    redis.call('HDEL', SZ, H)
    redis.call('ZREM', LRU, H)
    redis.call('ZREM', IDX, PK)
  elseif b1 ~= b0 or n1 ~= n0 then
    redis.call('HSET', SZ, H, num(b1) .. ' ' .. num(n1) .. ' ' .. PK)
  end
  return b1 - b0, n1 - n0
end

-- drop removes every version stored under hash tag h and its budget record,
-- returning how many entries that was.
local function drop(h)
  local vb, vn, vpk = recorded(h)
  local vmeta = P .. '{' .. h .. '}:m'
  for _, v in ipairs(redis.call('HVALS', vmeta)) do
    local x = parse(v)
    if x then dropchunks(h, x) end
  end
  redis.call('UNLINK', vmeta)
  redis.call('UNLINK', P .. '{' .. h .. '}:u')
  redis.call('HDEL', SZ, h)
  redis.call('ZREM', LRU, h)
  if vpk then redis.call('ZREM', IDX, vpk) end
  if vb ~= 0 then redis.call('HINCRBY', STAT, 'bytes', num(-vb)) end
  if vn ~= 0 then redis.call('HINCRBY', STAT, 'entries', num(-vn)) end
  return vn
end

-- use marks variant f of META as its most recently used.
local function use(f)
  local top = redis.call('ZRANGE', USE, -1, -1, 'WITHSCORES')
  redis.call('ZADD', USE, (tonumber(top[2]) or 0) + 1, f)
end

-- usettl gives USE the lifetime of META (gone with it).
local function usettl()
  local ttl = redis.call('PTTL', META)
  if ttl > 0 then redis.call('PEXPIRE', USE, ttl)
  elseif ttl == -2 then redis.call('UNLINK', USE) end
end

-- trim removes variants of META past maxv, if positive, and returns how
-- many: first, when some have no use record (written before the bound
-- existed), those and the ones past their deadline, then the least
-- recently used. (Lookups drop the versions past their deadline anyway.)
local function trim(maxv)
  local n = redis.call('HLEN', META)
  if maxv <= 0 or n <= maxv then return 0 end
  local removed = 0
  local function rm(f, v)
    local x = v and parse(v)
    if x then dropchunks(H, x) end
    redis.call('HDEL', META, f)
    redis.call('ZREM', USE, f)
    n, removed = n - 1, removed + 1
  end
  if redis.call('ZCARD', USE) < n then
    local fv = redis.call('HGETALL', META)
    for i = 1, #fv, 2 do
      if n <= maxv then break end
      local x = parse(fv[i + 1])
      if not x or x.dl <= NOW or not redis.call('ZSCORE', USE, fv[i]) then rm(fv[i], fv[i + 1]) end
    end
  end
  while n > maxv do
    local lo = redis.call('ZRANGE', USE, 0, 0)
    if #lo == 0 then break end
    local v = redis.call('HGET', META, lo[1])
    if v then rm(lo[1], v) else redis.call('ZREM', USE, lo[1]) end
  end
  return removed
end

-- totals returns the budget's totals and a sequence number that orders
-- them, so that a client receiving replies out of order keeps the latest.
local function totals()
  local seq = redis.call('HINCRBY', STAT, 'seq', 1)
  local t = redis.call('HMGET', STAT, 'bytes', 'entries')
  return tonumber(t[1] or '0'), tonumber(t[2] or '0'), seq
end
`

// lookupScript returns the live versions of META (dropping those past their
// deadline) and marks the key as recently used: a lookup is one command.
//
// Reply: {0, db, dn, pruned, totB, totN, seq, value...}.
var lookupScript = valkey.NewLuaScript(prelude + `
local fv = redis.call('HGETALL', META)
local out = {0, 0, 0, 0, -1, -1, -1}
local pruned = 0
for i = 1, #fv, 2 do
  local x = parse(fv[i + 1])
  if x and x.dl > NOW then
    out[#out + 1] = fv[i + 1]
  else
    if x then dropchunks(H, x); pruned = pruned + 1 end
    redis.call('HDEL', META, fv[i])
    redis.call('ZREM', USE, fv[i])
  end
end
-- A miss on a key the budget still counts: Redis expired its meta hash.
if pruned > 0 or (#fv == 0 and redis.call('HEXISTS', SZ, H) == 1) then
  local db, dn = settle()
  out[2], out[3], out[4] = db, dn, -dn
  out[5], out[6], out[7] = totals()
end
if #out > 7 then redis.call('ZADD', LRU, NOW, H) end
return out
`)

// commitScript makes a written body visible: it checks that every chunk is
// still there and gives it the entry's TTL, swaps the variant's metadata in,
// lets the replaced version's chunks expire, removes the key's least
// recently used variants past the bound (0 for none), and evicts least
// recently used keys of its base until the budget (0 for none) holds.
//
// ARGV[6..12]: variant, value, id, chunks, ttl deadline (unix ms), max
// bytes, max variants.
// Reply: {1, db, dn, evicted, totB, totN, seq}, or {-1} when a chunk is missing.
var commitScript = valkey.NewLuaScript(prelude + `
local variant, value, id = ARGV[6], ARGV[7], ARGV[8]
local n, at, maxb = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local maxv = tonumber(ARGV[12])
local base = P .. '{' .. H .. '}:b:' .. id .. ':'
for i = 0, n - 1 do
  if redis.call('PEXPIREAT', base .. i, num(at)) == 0 then
    for j = 0, n - 1 do redis.call('UNLINK', base .. j) end
    return {-1}
  end
end
local old = redis.call('HGET', META, variant)
if old then
  local x = parse(old)
  if x and x.id ~= id then dropchunks(H, x) end
end
redis.call('HSET', META, variant, value)
local ttl = redis.call('PTTL', META)
if ttl < 0 or NOW + ttl < at then redis.call('PEXPIREAT', META, num(at)) end
use(variant)
usettl()
local evicted = trim(maxv)
local db, dn = settle()
redis.call('ZADD', LRU, NOW, H)
redis.call('ZADD', IDX, 0, PK)
-- Reconcile up to two of the oldest keys whose metadata expired.
for _, h in ipairs(redis.call('ZRANGE', LRU, 0, 1)) do
  if h ~= H and redis.call('EXISTS', P .. '{' .. h .. '}:m') == 0 then
    evicted = evicted + drop(h)
  end
end
if maxb > 0 then
  local bytes = tonumber(redis.call('HGET', STAT, 'bytes') or '0')
  while bytes > maxb do
    local v = redis.call('ZRANGE', LRU, 0, 1)
    local victim = v[1]
    if victim == H then victim = v[2] end
    if not victim then break end
    evicted = evicted + drop(victim)
    bytes = tonumber(redis.call('HGET', STAT, 'bytes') or '0')
  end
end
local tb, tn, seq = totals()
return {1, db, dn, evicted, tb, tn, seq}
`)

// removeScript removes versions of META: all of them ("all"), those
// carrying a tag ("tag", operand) or the one with an ID ("id", operand).
//
// ARGV[6..7]: mode, operand. Reply: {removed, db, dn, 0, totB, totN, seq}.
var removeScript = valkey.NewLuaScript(prelude + `
local mode, op = ARGV[6], ARGV[7]
local fv = redis.call('HGETALL', META)
local removed = 0
for i = 1, #fv, 2 do
  local v = fv[i + 1]
  local x = parse(v)
  local hit = (x == nil) or mode == 'all' or
    (mode == 'tag' and hastag(v, x, op)) or (mode == 'id' and x.id == op)
  if hit then
    if x then
      dropchunks(H, x)
      if x.dl > NOW then removed = removed + 1 end
    end
    redis.call('HDEL', META, fv[i])
    redis.call('ZREM', USE, fv[i])
  end
end
local db, dn = settle()
local tb, tn, seq = totals()
return {removed, db, dn, 0, tb, tn, seq}
`)

// openScript returns the value of the live version id of META, marking its
// variant as used, or nothing.
//
// ARGV[6]: id. Reply: {} or {value}.
var openScript = valkey.NewLuaScript(prelude + `
local fv = redis.call('HGETALL', META)
for i = 1, #fv, 2 do
  local x = parse(fv[i + 1])
  if x and x.id == ARGV[6] then
    if x.dl <= NOW then return {} end
    use(fv[i])
    usettl()
    return {fv[i + 1]}
  end
end
return {}
`)

// updateScript replaces the metadata of versions still stored with the
// expected ID and moves their TTL to the new deadline, body untouched.
//
// ARGV[6]: count, then per version: variant, id, value, ttl deadline.
// Reply: {updated}.
var updateScript = valkey.NewLuaScript(prelude + `
local k = tonumber(ARGV[6])
local updated, maxat = 0, 0
for j = 0, k - 1 do
  local variant, id, value = ARGV[7 + 4 * j], ARGV[8 + 4 * j], ARGV[9 + 4 * j]
  local at = tonumber(ARGV[10 + 4 * j])
  local cur = redis.call('HGET', META, variant)
  local x = cur and parse(cur)
  if x and x.id == id then
    redis.call('HSET', META, variant, value)
    local base = P .. '{' .. H .. '}:b:' .. id .. ':'
    for i = 0, x.n - 1 do redis.call('PEXPIREAT', base .. i, num(at)) end
    updated = updated + 1
    if at > maxat then maxat = at end
    use(variant)
  end
end
if updated > 0 then
  local ttl = redis.call('PTTL', META)
  if ttl >= 0 and NOW + ttl < maxat then redis.call('PEXPIREAT', META, num(maxat)) end
  usettl()
end
return {updated}
`)

// evictScript evicts the key with hash tag H from its budget base, if it was
// not used since the evictor saw it (its LRU score is still ARGV[6]).
// KEYS: the victim's meta hash, then its budget keys; PK is unused.
//
// Reply: {bytes freed, -bytes, -entries, entries evicted, totB, totN, seq}.
var evictScript = valkey.NewLuaScript(prelude + `
local score = redis.call('ZSCORE', LRU, H)
if not score or tonumber(score) ~= tonumber(ARGV[6]) then return {0, 0, 0, 0, -1, -1, -1} end
local vb = recorded(H)
local n = drop(H)
local tb, tn, seq = totals()
return {vb, -vb, -n, n, tb, tn, seq}
`)
