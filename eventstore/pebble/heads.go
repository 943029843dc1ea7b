package pebble

import "sync"

// heads remembers the last revision of the streams written or read most
// recently, so that a command's load, which mostly finds nothing new after
// the revision it has cached, need not ask Pebble (a point read through
// every level, about a tenth of a command's time under load).
//
// The store is the only writer of its database, and a commit puts every
// head it wrote here before its appends return, so what this holds is the
// head. A head read from Pebble is put only if no commit came in between
// (commits counts them): otherwise it could be older than the one that
// commit put. It is bounded: two generations of at most max/2 streams; a
// stream found in the old one moves to the new one, and the old one is
// dropped when the new one fills.
type heads struct {
	mu       sync.Mutex
	max      int
	commits  uint64
	cur, old map[string]uint64
}

func newHeads(max int) *heads {
	return &heads{max: max, cur: map[string]uint64{}}
}

// get is a stream's head if it is here, and otherwise the count of commits
// to pass to read.
func (h *heads) get(stream string) (last uint64, ok bool, commits uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if last, ok := h.cur[stream]; ok {
		return last, true, h.commits
	}
	last, ok = h.old[stream]
	if ok {
		h.put(stream, last)
	}
	return last, ok, h.commits
}

// read puts a head read from the database, unless a commit came since get.
func (h *heads) read(stream string, last, commits uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.commits == commits {
		h.put(stream, last)
	}
}

// committed puts the heads a commit wrote.
func (h *heads) committed(written map[string]uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for stream, last := range written {
		h.put(stream, last)
	}
	h.commits++
}

func (h *heads) put(stream string, last uint64) {
	if _, ok := h.cur[stream]; !ok && len(h.cur) >= h.max/2 {
		h.old, h.cur = h.cur, make(map[string]uint64, h.max/2)
	}
	h.cur[stream] = last
}
