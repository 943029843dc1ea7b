package rights

import (
	"slices"
	"sync"

	"github.com/shareledger/shareledger/domain/rights"
)

// decodedCache remembers documents as the View's accessors decoded them,
// by their bytes, across views: every request that evaluates rights
// decodes the same fleets, roles and subusers again, and decoding was a
// third of a batch of checks' CPU. A document's bytes decide its value, so
// a value found here is the one decoding would give, whatever the
// snapshot or the version that holds those bytes; nothing is ever stale.
// A value is shared by every view that finds it, and read only (the View
// already shares one decoded document among the rows of a request; the
// evaluation only reads).
//
// Its memory is bounded: it keeps two generations of at most
// decodedBytes/2 bytes of documents each (plus the decoded values); when
// the current one is full, it becomes the previous one and the previous
// one goes. A document found in the previous generation moves into the
// current one, so what requests keep reading stays.
type decodedCache struct {
	mu       sync.Mutex
	now, old map[string]any
	bytes    int // of the keys in now
}

const (
	// decodedBytes bounds the bytes of documents the cache keeps.
	decodedBytes = 8 << 20
	// decodedMaxDoc is the largest document kept: a larger one costs
	// more to keep than a look-up saves.
	decodedMaxDoc = 2 << 10
)

// shared is the cache every view of the process looks documents up in.
var shared = &decodedCache{}

// get is the value decoded from doc, if the cache holds it.
func (c *decodedCache) get(doc []byte) (any, bool) {
	if len(doc) > decodedMaxDoc {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.now[string(doc)]; ok {
		return v, true
	}
	v, ok := c.old[string(doc)]
	if ok {
		c.keep(string(doc), v)
	}
	return v, ok
}

// put keeps the value decoded from doc.
func (c *decodedCache) put(doc []byte, v any) {
	if len(doc) > decodedMaxDoc {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep(string(doc), v)
}

func (c *decodedCache) keep(doc string, v any) {
	if c.bytes+len(doc) > decodedBytes/2 {
		c.old, c.now, c.bytes = c.now, nil, 0
	}
	if c.now == nil {
		c.now = map[string]any{}
	}
	if _, ok := c.now[doc]; !ok {
		c.bytes += len(doc)
	}
	c.now[doc] = v
}

// clipped is v with the spare capacity of its slices cut, so that an
// append by a reader copies instead of writing into what other readers
// share.
func clipped(v any) any {
	switch x := v.(type) {
	case User:
		x.Roles = slices.Clip(x.Roles)
		return x
	case []rights.ItemID:
		return slices.Clip(x)
	}
	return v
}
