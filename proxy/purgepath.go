package proxy

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/cellar-http/cellar/store"
)

// purgeKey is PurgeKey under the key host the cache was configured with
// (cellar.Config.KeyHost): the URL's host, or the upstream's for a bare
// path, is replaced with keyHost when it is set, as the cache replaced the
// client's Host when it stored the response.
func purgeKey(raw string, upstream *url.URL, keyHost string) (string, error) {
	if keyHost == "" {
		return PurgeKey(raw, upstream)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL: " + err.Error())
	}
	if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		return "", errors.New("want an absolute URL such as http://cache.example/path, or a path starting with /")
	}
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	u.Host = keyHost
	return PurgeKey(u.String(), upstream)
}

// purgePath purges the entries of one path (with its query, if any) under
// every host the cache keyed it on, or under keyHost when the cache keys
// every request on one, and under both schemes (keyPath ignores it). It
// returns the keys it tried. Without a key host, the keys are found by
// walking the store (Store.Iterate), so that a shared store, or one that
// outlived a restart, loses every host's copy.
func purgePath(ctx context.Context, st store.Store, upstream *url.URL, keyHost, path string) (keys []string, purged int, err error) {
	if !strings.HasPrefix(path, "/") {
		return nil, 0, badPurge{errors.New("path= wants a path starting with /, such as /img/logo.png")}
	}
	if keyHost != "" {
		key, err := purgeKey(path, upstream, keyHost)
		if err != nil {
			return nil, 0, badPurge{err}
		}
		keys = bothSchemes(key)
	} else {
		probe, err := PurgeKey(path, upstream)
		if err != nil {
			return nil, 0, badPurge{err}
		}
		want := keyPath(probe)
		seen := map[string]bool{}
		err = st.Iterate(ctx, func(e store.Entry) bool {
			if !seen[e.Key] && keyPath(e.Key) == want {
				seen[e.Key] = true
				keys = append(keys, e.Key)
			}
			return ctx.Err() == nil
		})
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return keys, 0, err
		}
		slices.Sort(keys) // the walk's order is the store's: answer in a stable one
	}
	purged, err = deleteKeys(ctx, st, keys)
	return keys, purged, err
}

// deleteKeys deletes the entries of keys and returns how many there were.
func deleteKeys(ctx context.Context, st store.Store, keys []string) (purged int, err error) {
	for _, key := range keys {
		entries, err := st.Lookup(ctx, key)
		if err != nil {
			return purged, err
		}
		if len(entries) == 0 {
			continue
		}
		if err := st.Delete(ctx, key); err != nil {
			return purged, err
		}
		purged += len(entries)
	}
	return purged, nil
}

// bothSchemes returns key, a GET key (or a prefix of one) of an http or
// https URL, and the same key under the other scheme: the cache keys a
// response on its client's scheme (scheme.go), and both copies are of one
// resource upstream.
func bothSchemes(key string) []string {
	if rest, ok := strings.CutPrefix(key, "http://"); ok {
		return []string{key, "https://" + rest}
	}
	if rest, ok := strings.CutPrefix(key, "https://"); ok {
		return []string{key, "http://" + rest}
	}
	return []string{key}
}

// badPurge is a purge request the admin cannot act on (400).
type badPurge struct{ error }

// keyPath returns the path and query of a GET key ("http://h/p?q" →
// "/p?q"), or "" for any other key (another method's, or one with a body
// hash).
func keyPath(key string) string {
	rest, ok := strings.CutPrefix(key, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(key, "https://"); !ok {
			return ""
		}
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 || strings.IndexByte(rest, ' ') >= 0 {
		return ""
	}
	return rest[i:]
}
