// Package store defines where Cellar keeps cache entries: the [Store]
// contract every backend implements, the [Entry] metadata it keeps, and the
// typed errors the engine acts on.
//
// A backend never interprets HTTP caching rules; package spec decides what is
// stored, and the engine asks a Store to keep it. The contract every backend
// must pass is in package storetest.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/cellar-http/cellar/spec"
)

// Entry is one stored response variant: the metadata a lookup returns. The
// body is read separately with [Store.Open] so that lookups stay cheap.
type Entry struct {
	// Key is the primary cache key (spec.Key): all variants of one target URI
	// share it.
	Key string
	// Variant is the secondary key (RFC 9111 §4.1) that spec computed from
	// Vary. Committing an entry replaces the entry with the same Key and
	// Variant, and only that one.
	Variant string
	// ID identifies this committed version of the variant. The store assigns
	// it in Create; Pair.ID carries the same value on lookup.
	ID string
	// Pair is the stored request (only the fields Vary selects) and response.
	Pair spec.Pair
	// Size is the body length in bytes; Checksum its CRC-32C (Castagnoli).
	// Both are set by the store on Commit.
	Size     int64
	Checksum uint32
	// Tags are surrogate keys (Surrogate-Key, Cache-Tag) for purging by tag.
	Tags []string
	// Expires is the stale horizon: past it the entry is of no use, even for
	// validation, and the store may drop it (Redis uses it as the key TTL).
	// The zero time means no horizon: only the byte budget evicts it.
	Expires time.Time
}

// DefaultMaxVariants is how many variants of one primary key a store keeps
// unless configured otherwise (each backend's Options.MaxVariants).
//
// RFC 9111 §4.1 lets a cache keep any number of variants, but Vary on a
// field each client sets freely (Cookie, User-Agent) lets anyone create as
// many as they like, and every lookup of the URL reads them all. 32 covers
// real content negotiation (Accept-Encoding × Accept-Language gives a dozen
// or two, stored 206 ranges a few more), is three times the number of
// variants at which Varnish logs that there may be too many (vary_notice,
// 10), and keeps a lookup of a flooded URL to a few dozen metadata records.
const DefaultMaxVariants = 32

// Store keeps cache entries. Implementations are safe for concurrent use.
//
// A store keeps a bounded number of variants per Key (its MaxVariants
// option; DefaultMaxVariants unless configured). A commit that would exceed
// the bound removes, in the same atomic step, the least recently used
// variants of that Key, so a flood of variants of one URL costs that URL its
// unused variants and nothing else. A variant is used when it is committed,
// when its body is opened (Open) and when its metadata is updated (Update);
// Lookup returns every variant, so it marks none of them as used. (The
// engine opens a body to serve it: a hit served without one, a HEAD or a
// 304 to a conditional request, does not count as use.)
//
// "Not found" is never an error: Lookup returns no entries. Errors that mean
// the backend cannot be reached wrap [ErrUnavailable], so the engine can
// degrade to pass-through instead of failing the request.
type Store interface {
	// Lookup returns every committed variant stored under key, in one call,
	// metadata only.
	Lookup(ctx context.Context, key string) ([]Entry, error)

	// Open returns a reader over the body of the entry with the given key and
	// ID. It returns an error wrapping ErrNotFound when that version is gone
	// (evicted, replaced or purged since the lookup), and ErrCorrupt when
	// the stored bytes fail their checksum.
	Open(ctx context.Context, key, id string) (Body, error)

	// Create starts writing a new entry. Key, Variant, Pair, Tags and Expires
	// are taken from e; ID, Size and Checksum are set by the store. Nothing is
	// visible until Writer.Commit succeeds; Abort, a write error, the context
	// being cancelled or a crash leave nothing behind.
	Create(ctx context.Context, e Entry) (Writer, error)

	// Update replaces the metadata (Pair and Expires) of the given entries of
	// key, matched by ID, without rewriting their bodies (after a 304, RFC
	// 9111 §4.3.4). Entries whose ID is no longer stored are skipped.
	Update(ctx context.Context, key string, entries []Entry) error

	// Delete removes every variant stored under key (RFC 9111 §4.4).
	Delete(ctx context.Context, key string) error

	// PurgeTag removes every entry carrying tag and returns how many it removed.
	PurgeTag(ctx context.Context, tag string) (int, error)

	// PurgePrefix removes every entry whose key starts with prefix and returns
	// how many it removed.
	PurgePrefix(ctx context.Context, prefix string) (int, error)

	// Iterate calls fn for each stored entry until fn returns false. The order
	// is unspecified; entries committed or removed during the walk may or may
	// not be seen.
	Iterate(ctx context.Context, fn func(Entry) bool) error

	// Stats returns the store's counters.
	Stats() Stats

	// Close releases the store. Open bodies remain readable until closed.
	Close() error
}

// Writer streams an entry's body into the store.
type Writer interface {
	io.Writer
	// Commit makes the entry visible, replacing the previous entry with the
	// same Key and Variant, and returns it with ID, Size and Checksum set.
	Commit() (Entry, error)
	// Abort discards everything written. It is safe after Commit (a no-op)
	// and may be called more than once.
	Abort() error
}

// Body reads a stored body, sequentially or at any offset (for Range
// requests), without loading it into memory.
type Body interface {
	io.Reader
	io.ReaderAt
	io.Closer
	// Size is the body length in bytes.
	Size() int64
}

// Stats are a store's counters since it was opened.
type Stats struct {
	Entries   int64 // entries currently stored
	Bytes     int64 // bytes currently counted against the budget
	Hits      int64 // lookups that found at least one entry
	Misses    int64 // lookups that found none
	Evictions int64 // entries removed to keep the budget or past their horizon
}

var (
	// ErrUnavailable means the backend cannot be reached or used right now.
	// The engine serves without the cache when it sees it.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrNotFound means the entry asked for is not (or no longer) stored.
	ErrNotFound = errors.New("store: not found")
	// ErrCorrupt means stored bytes failed their checksum; the entry has
	// been dropped.
	ErrCorrupt = errors.New("store: corrupt entry")
	// ErrTooLarge means a body exceeds what the store accepts (larger than
	// its whole budget); the write was aborted.
	ErrTooLarge = errors.New("store: entry too large")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrRole means the store keeps the entries of caches of the other
	// role (RoleKeeper).
	ErrRole = errors.New("store: it keeps the entries of caches of the other role (shared or private)")
)

// RoleKeeper is implemented by stores that outlive the processes using
// them (a Redis prefix, a disk directory), so that a shared cache never
// reads what a private one stored there.
//
// A private cache stores responses that a shared cache must not reuse:
// responses to requests with Authorization (RFC 9111 §3.5), marked private
// (§5.2.2.7), with Set-Cookie. A stored pair keeps of its request only the
// fields its Vary names, so nothing in the entries tells them apart: the
// store itself must remember which role wrote them.
type RoleKeeper interface {
	// ClaimRole records the role (shared or not) of the caches using the
	// store when it has none yet, and returns an error wrapping ErrRole
	// when it has the other one. The role stays recorded as long as the
	// store's entries do.
	ClaimRole(ctx context.Context, shared bool) error
}

// RoleName is the name a RoleKeeper records for a role.
func RoleName(shared bool) string {
	if shared {
		return "shared"
	}
	return "private"
}
