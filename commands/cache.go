package commands

import (
	"slices"
	"sync"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

// HistoryCache keeps the decoded events of recently used streams. It is
// only a shortcut: every load still reads the stream's tail from the store,
// and every append still checks the revision the handler read, so a stale
// or evicted entry costs time, never correctness.
type HistoryCache struct {
	mu      sync.Mutex
	max     int
	streams map[string]history
}

// NewHistoryCache keeps at most max streams.
func NewHistoryCache(max int) *HistoryCache {
	return &HistoryCache{max: max, streams: map[string]history{}}
}

// history is an immutable value: with returns a new one whose slices never
// share a writable tail with the old, so loads may run concurrently.
type history struct {
	events    []domain.Event
	commands  []string // the command ID of each event
	hashes    []string // the fingerprint of the request of each event
	positions []eventstore.Position
	last      uint64
	exists    bool
}

// extend returns h with the records of a stream's tail and their decoded
// events appended, copying h's slices once.
func (h history) extend(events []domain.Event, recs []eventstore.Record) history {
	if len(recs) == 0 {
		return h
	}
	out := history{
		events:    append(slices.Clip(h.events), events...),
		commands:  slices.Clip(h.commands),
		hashes:    slices.Clip(h.hashes),
		positions: slices.Clip(h.positions),
		last:      recs[len(recs)-1].Revision,
		exists:    true,
	}
	for _, r := range recs {
		out.commands = append(out.commands, r.Meta.CommandID)
		out.hashes = append(out.hashes, r.Meta.RequestHash)
		out.positions = append(out.positions, r.Position)
	}
	return out
}

func (c *HistoryCache) get(stream string) history {
	if c == nil {
		return history{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[stream]
}

func (c *HistoryCache) put(stream string, h history) {
	if c == nil || !h.exists {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.streams[stream]; ok && old.last >= h.last {
		return
	}
	if _, ok := c.streams[stream]; !ok && len(c.streams) >= c.max {
		for k := range c.streams { // evict an arbitrary entry
			delete(c.streams, k)
			break
		}
	}
	c.streams[stream] = h
}
