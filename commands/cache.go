package commands

import (
	"container/list"
	"slices"
	"sync"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

// HistoryCache keeps the decoded events of recently used streams, within a
// budget in bytes, evicting the least recently used stream first. It is
// only a shortcut: every load still reads the stream's tail from the store,
// and every append still checks the revision the handler read, so a stale
// or evicted entry costs time, never correctness.
type HistoryCache struct {
	mu      sync.Mutex
	budget  int64
	size    int64
	streams map[string]*list.Element // of *cached
	recency *list.List               // front: most recently used
}

type cached struct {
	stream string
	h      history
}

// NewHistoryCache keeps at most budget bytes of decoded histories (as
// estimated from the size of the stored events). A stream whose history
// alone exceeds the budget is not kept.
func NewHistoryCache(budget int64) *HistoryCache {
	return &HistoryCache{budget: budget, streams: map[string]*list.Element{}, recency: list.New()}
}

// Size is the estimated number of bytes the cache holds.
func (c *HistoryCache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Len is the number of streams the cache holds.
func (c *HistoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.streams)
}

// history is an immutable value: with returns a new one whose slices never
// share a writable tail with the old, so loads may run concurrently.
type history struct {
	events []domain.Event
	last   uint64
	exists bool
	bytes  int64 // estimated memory held
}

// perEvent is the estimated memory of one cached event beside its decoded
// data: the slice slot and the interface.
const perEvent = 64

// extend returns h with the records of a stream's tail and their decoded
// events appended, copying h's slices once.
func (h history) extend(events []domain.Event, recs []eventstore.Record) history {
	if len(recs) == 0 {
		return h
	}
	out := history{
		events: append(slices.Clip(h.events), events...),
		last:   recs[len(recs)-1].Revision,
		exists: true,
		bytes:  h.bytes,
	}
	for _, r := range recs {
		// Decoded Go values take about twice their JSON's bytes.
		out.bytes += perEvent + 2*int64(len(r.Data))
	}
	return out
}

func (c *HistoryCache) get(stream string) history {
	if c == nil {
		return history{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.streams[stream]
	if !ok {
		return history{}
	}
	c.recency.MoveToFront(e)
	return e.Value.(*cached).h
}

func (c *HistoryCache) put(stream string, h history) {
	if c == nil || !h.exists {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.streams[stream]; ok {
		old := e.Value.(*cached)
		if old.h.last >= h.last {
			return
		}
		c.remove(e)
	}
	if h.bytes > c.budget {
		return
	}
	for c.size+h.bytes > c.budget {
		c.remove(c.recency.Back())
	}
	c.streams[stream] = c.recency.PushFront(&cached{stream: stream, h: h})
	c.size += h.bytes
}

func (c *HistoryCache) remove(e *list.Element) {
	v := c.recency.Remove(e).(*cached)
	delete(c.streams, v.stream)
	c.size -= v.h.bytes
}
