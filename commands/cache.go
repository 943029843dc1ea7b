package commands

import (
	"container/list"
	"reflect"
	"sync"
)

// StateCache keeps the folded state of recently used aggregates, within a
// budget in bytes, evicting the least recently used first. A state is
// kept with the revision of the last event folded into it; a load folds
// only the events appended since. It is only a shortcut: every load still
// reads the stream's tail from the store, and every append still checks
// the revision the handler read, so a stale or evicted entry costs time,
// never correctness. A cached state is never handed out: handlers get a
// copy (Clone) to decide on.
type StateCache struct {
	mu      sync.Mutex
	budget  int64
	size    int64
	entries map[stateKey]*list.Element // of *cached
	recency *list.List                 // front: most recently used
}

// stateKey names a cached state: its stream, and its aggregate's type,
// since two aggregates may fold one stream.
type stateKey struct {
	stream    string
	aggregate reflect.Type
}

type cached struct {
	key    stateKey
	state  any
	last   uint64
	exists bool
	bytes  int64
	folded int // events folded since the last snapshot, or since the start
}

// NewStateCache keeps at most budget bytes of states (as the aggregates
// estimate their footprints). A state larger than the whole budget is not
// kept.
func NewStateCache(budget int64) *StateCache {
	return &StateCache{budget: budget, entries: map[stateKey]*list.Element{}, recency: list.New()}
}

// Size is the estimated number of bytes the cache holds.
func (c *StateCache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Len is the number of states the cache holds.
func (c *StateCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *StateCache) get(key stateKey) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return cached{}, false
	}
	c.recency.MoveToFront(e)
	return *e.Value.(*cached), true
}

func (c *StateCache) put(v cached) {
	if c == nil || !v.exists {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[v.key]; ok {
		if e.Value.(*cached).last >= v.last {
			return // a newer state got there first
		}
		c.remove(e)
	}
	if v.bytes > c.budget {
		return
	}
	for c.size+v.bytes > c.budget {
		c.remove(c.recency.Back())
	}
	c.entries[v.key] = c.recency.PushFront(&v)
	c.size += v.bytes
}

func (c *StateCache) remove(e *list.Element) {
	v := c.recency.Remove(e).(*cached)
	delete(c.entries, v.key)
	c.size -= v.bytes
}
