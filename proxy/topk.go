package proxy

import (
	"cmp"
	"container/heap"
	"slices"
)

// topK counts the heaviest keys of a stream in fixed memory: the
// Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005), weighted.
// It tracks at most capacity keys; a new key, when full, takes the place of
// the lightest one and inherits its count as its possible overestimate.
// Any key whose true weight exceeds total/capacity is among those tracked,
// so a flood of distinct URLs cannot grow it nor push out a truly heavy
// one. It is not safe for concurrent use.
type topK struct {
	capacity int
	maxKey   int // longer keys are cut
	index    map[string]*topItem
	heap     topHeap // lightest first
}

type topItem struct {
	key    string
	weight int64 // estimated: at most weight-err too much
	err    int64
	pos    int
}

// TopEntry is one key of a top-K list: its estimated weight, which may
// exceed the true one by at most Error.
type TopEntry struct {
	Key    string `json:"key"`
	Weight int64  `json:"weight"`
	Error  int64  `json:"error,omitempty"`
}

func newTopK(capacity, maxKey int) *topK {
	return &topK{capacity: capacity, maxKey: maxKey, index: make(map[string]*topItem, capacity)}
}

// add adds weight w to key. key may point into a buffer the caller reuses:
// it is copied when kept.
func (t *topK) add(key []byte, w int64) {
	if len(key) > t.maxKey {
		key = key[:t.maxKey]
	}
	if it, ok := t.index[string(key)]; ok { // no allocation: a lookup
		it.weight += w
		heap.Fix(&t.heap, it.pos)
		return
	}
	if len(t.heap) < t.capacity {
		it := &topItem{key: string(key), weight: w}
		t.index[it.key] = it
		heap.Push(&t.heap, it)
		return
	}
	// Replace the lightest: the newcomer may have been it, unseen.
	it := t.heap[0]
	delete(t.index, it.key)
	it.key, it.err = string(key), it.weight
	it.weight += w
	t.index[it.key] = it
	heap.Fix(&t.heap, 0)
}

// top returns the n heaviest keys, heaviest first.
func (t *topK) top(n int) []TopEntry {
	out := make([]TopEntry, 0, len(t.heap))
	for _, it := range t.heap {
		out = append(out, TopEntry{Key: it.key, Weight: it.weight, Error: it.err})
	}
	slices.SortFunc(out, func(a, b TopEntry) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Key, b.Key))
	})
	return out[:min(n, len(out))]
}

type topHeap []*topItem

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return h[i].weight < h[j].weight }
func (h topHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *topHeap) Push(x any) {
	it := x.(*topItem)
	it.pos = len(*h)
	*h = append(*h, it)
}
func (h *topHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
