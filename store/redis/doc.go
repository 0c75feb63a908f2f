// Package redis is a [store.Store] kept in Redis (7 or later) or Valkey,
// standalone or cluster, through valkey-go. It lets several Cellar proxies
// share one cache.
//
// # Key layout
//
// Every key of one primary key carries the hash tag {h}, h being 16 hex
// digits of the key's SHA-256, so that Redis Cluster keeps them in one slot
// and one Lua script can change them atomically. With the default prefix
// "cellar:":
//
//	cellar:{h}:m          hash: variant → metadata of the current version
//	cellar:{h}:u          sorted set: variant → order of last use, for MaxVariants
//	cellar:{h}:b:<id>:<n> string: chunk n of the body of version id
//	cellar:tag:<tag>      set: primary keys that stored an entry with tag
//
// A metadata value is a short text header the scripts can parse (version ID,
// chunk size and count, body size, deadline, tags) followed by
// store.MarshalEntry bytes. The byte budget adds four keys per "budget base"
// (see below): cellar:lru, cellar:sz, cellar:idx and cellar:stat in
// standalone mode; cellar:{s<n>}:lru and so on for every cluster slot, where
// s<n> is a hash tag chosen to fall in that slot.
//
// # Reading and writing
//
// Lookup is one command: a script that reads the meta hash, drops versions
// past their deadline and records the access in the LRU set.
// Open reads the meta hash once, in a script that also records the use of
// the variant; the body's chunks are fetched as they are read (GET per
// chunk for Read, GETRANGE for ReadAt), so memory never depends on body
// size. A full sequential Read checks the CRC-32C at the end
// and fails with store.ErrCorrupt (dropping the entry) on mismatch; a chunk
// that vanished fails with store.ErrNotFound.
//
// A Writer stores each chunk as soon as it fills (holding at most one chunk)
// under a short PendingTTL that it renews while it streams, so the chunks of
// a crashed writer vanish on their own. Abort, a failed write or a
// cancelled context delete them. Commit runs one script that checks every
// chunk is still there, gives the chunks and the meta hash the entry's TTL,
// swaps the variant's metadata in (other variants untouched, so concurrent
// commits of two variants never lose one), removes the key's least
// recently used variants past MaxVariants (use is recorded by Commit, Open
// and Update in {h}:u) and lets the chunks of the versions it replaced or
// removed expire after Grace, so that readers who opened them can finish.
// Delete, purges and evictions do the same.
//
// # Lifetime and byte budget
//
// Every key has a TTL: an entry's Expires, or DefaultTTL when it has none,
// so Redis never fills without bound whatever else happens. Versions of one
// key with different deadlines share the meta hash, whose TTL is the
// longest; a version past its own deadline is not served and is dropped by
// the next lookup.
//
// The byte budget (MaxBytes) is kept by four keys per budget base, updated
// by the same scripts that change entries:
//
//	lru   sorted set  h → last lookup or commit (unix ms)
//	sz    hash        h → "<bytes> <entries> <primary key>"
//	idx   sorted set  primary keys with score 0 (lexicographic range = prefix)
//	stat  hash        bytes, entries: the totals of sz; seq orders replies
//
// Meta hashes that Redis expired are reconciled lazily: by the lookup that
// misses them, by the commit that finds them at the LRU's old end, or by
// eviction, which takes them first since nobody touches them. These keys
// have no TTL, so the server's maxmemory-policy must be a volatile-* one
// (volatile-lru) or noeviction, never allkeys-*, which could evict the
// budget itself.
//
// Standalone: there is one base, the budget is global and exact. A commit
// that takes the total above MaxBytes evicts whole primary keys from the
// least recently used end, in the same script, until it fits.
//
// Cluster: one global set or counter would be a hot key pinning one slot,
// and no script may touch keys of two slots. So every slot has its own
// base, under a hash tag that falls in that slot: an entry's script reaches
// its slot's budget keys atomically, and the load spreads like the entries.
// A census (16384 HMGETs, pipelined per node; about 20ms) sums the slots'
// counters every 5 seconds, and at once when this instance's estimate goes
// over MaxBytes after a commit. When the census is over, an evictor merges
// the oldest members of every slot's LRU set and evicts the globally least
// recently used keys (skipping any used since it looked) until the total
// fits. The budget can thus be exceeded for a moment, by what instances
// write between two censuses, never for long; TTLs bound everything in any
// case, and the server's maxmemory with volatile-lru is the last resort.
//
// Every script that changes a base replies with the base's totals and a
// sequence number; the store keeps the latest state of each base (replies
// may arrive out of order) and re-reads them all every 5 seconds, so
// Stats().Entries and Bytes are the shared totals as this instance last saw
// them, in both modes.
//
// # Purges
//
// PurgeTag pops members from the tag's set (SPOP) and runs, per primary
// key, a script that removes the variants whose header lists the tag.
// Commit adds members after its entry is in, so a concurrent commit is
// either purged or stays findable. Tag sets live as long as the longest
// entry added to them and may keep members whose entries are gone (one
// cheap script each at the next purge).
//
// PurgePrefix reads the lexicographic range of the prefix in idx (one set
// in standalone mode, one per slot in cluster mode, pipelined), so it costs
// what it removes, plus 16384 cheap commands in cluster mode. Iterate SCANs
// the meta hashes of every master: its cost is the number of keys stored.
//
// # Failures
//
// Every command is bounded by CommandTimeout (default 500ms) and dialing by
// DialTimeout (default 300ms). When the server cannot be reached every
// operation fails within those bounds with an error wrapping
// store.ErrUnavailable, so the engine serves without the cache; Create,
// which sends nothing while the store is healthy, PINGs first after a
// failure. valkey-go reconnects by itself when the server is back.
package redis
