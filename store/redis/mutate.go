package redis

import (
	"context"
	"strconv"

	"github.com/cellar-http/cellar/store"
)

// Update replaces the Pair and Expires of the entries of key still stored
// with the given IDs (after a 304, RFC 9111 §4.3.4), bodies untouched, and
// moves their TTL to the new deadline. It reads the meta hash, then swaps
// each version in only if its ID is unchanged, in one script.
func (s *Store) Update(ctx context.Context, key string, entries []store.Entry) error {
	if err := s.checkOpen("update"); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	byID := make(map[string]store.Entry, len(entries))
	for _, e := range entries {
		byID[e.ID] = e
	}
	h := hashTag(key)
	vals, err := s.do(ctx, s.client.B().Hvals().Key(s.metaKey(h)).Build()).AsStrSlice()
	if err != nil {
		return s.wrap("update", err)
	}
	now := s.opts.Now()
	args := []string{"0"}
	for _, v := range vals {
		hd, cur, err := decodeValue(v)
		if err != nil || cur.Key != key {
			continue
		}
		u, ok := byID[hd.id]
		if !ok {
			continue
		}
		cur.Pair = u.Pair
		cur.Pair.ID = cur.ID
		cur.Expires = u.Expires
		visible, ttlAt := s.deadline(cur, now)
		hd.deadline = visible
		args = append(args, cur.Variant, cur.ID, encodeValue(hd, cur), strconv.FormatInt(ttlAt, 10))
	}
	if len(args) == 1 {
		return nil
	}
	args[0] = strconv.Itoa((len(args) - 1) / 4)
	_, _, err = s.exec(ctx, updateScript, 1, key, h, now, args...)
	return s.wrap("update", err)
}

// Delete removes every variant stored under key (RFC 9111 §4.4). Readers
// that opened a body before can finish it within the grace period.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkOpen("delete"); err != nil {
		return err
	}
	_, err := s.remove(ctx, key, "all", "")
	return err
}

// remove runs the remove script on key and returns how many live entries
// it removed.
func (s *Store) remove(ctx context.Context, key, mode, operand string) (int, error) {
	h := hashTag(key)
	nums, _, err := s.exec(ctx, removeScript, 7, key, h, s.opts.Now(), mode, operand)
	if err != nil {
		return 0, s.wrap("remove", err)
	}
	s.account(h, nums)
	return int(nums[0]), nil
}
