package redis

import (
	"context"
	"fmt"

	"github.com/cellar-http/cellar/store"
)

// Lookup returns every live variant stored under key. It is one command: a
// script that reads the meta hash, drops versions past their deadline and,
// in standalone mode, marks the key as recently used.
func (s *Store) Lookup(ctx context.Context, key string) ([]store.Entry, error) {
	if err := s.checkOpen("lookup"); err != nil {
		return nil, err
	}
	h := hashTag(key)
	nums, vals, err := s.exec(ctx, lookupScript, 7, key, h, s.opts.Now())
	if err != nil {
		return nil, s.wrap("lookup", err)
	}
	s.account(h, nums)
	entries := make([]store.Entry, 0, len(vals))
	for _, v := range vals {
		_, e, err := decodeValue(v)
		if err != nil || e.Key != key {
			// Unreadable metadata is a miss; another key sharing the hash
			// tag is none of ours.
			continue
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		s.misses.Add(1)
		return nil, nil
	}
	s.hits.Add(1)
	return entries, nil
}

// Open returns a reader over the body of version id of key. It is one
// command, a script that reads the meta hash and marks the variant as used
// (for the variant bound); the body's chunks are fetched as they are read.
func (s *Store) Open(ctx context.Context, key, id string) (store.Body, error) {
	if err := s.checkOpen("open"); err != nil {
		return nil, err
	}
	h := hashTag(key)
	_, vals, err := s.exec(ctx, openScript, 0, key, h, s.opts.Now(), id)
	if err != nil {
		return nil, s.wrap("open", err)
	}
	for _, v := range vals {
		hd, rest, err := decodeHeader(v)
		if err != nil || hd.id != id {
			continue
		}
		e, err := store.UnmarshalEntry([]byte(rest))
		if err != nil {
			return nil, fmt.Errorf("redis: open %q: %w", key, err)
		}
		if e.Key != key {
			break
		}
		if !s.acquire() {
			return nil, fmt.Errorf("redis: open: %w", store.ErrClosed)
		}
		return &body{
			s:        s,
			ctx:      context.WithoutCancel(ctx),
			key:      key,
			h:        h,
			hd:       hd,
			checksum: e.Checksum,
		}, nil
	}
	return nil, fmt.Errorf("redis: open %q version %q: %w", key, id, store.ErrNotFound)
}
