package pebble

import "sync"

// recentIDs remembers where the events of the last commits are stored, by
// id, so that the look-ups every append needs (is this event stored
// already? where?) are made by the writers in parallel before they queue,
// and the one goroutine that commits asks only what was committed since:
// in memory, unless so much was committed since that it has been
// forgotten.
//
// A writer takes the count of commits before it reads Pebble. A commit
// makes its writes readable before it counts itself here, so a read made
// after the count saw every commit counted, and what it missed is here:
// every id of the commits from floor on.
type recentIDs struct {
	mu       sync.Mutex
	max      int
	commits  uint64 // commits counted so far; the next is commits+1
	cur, old map[string]placed
	curFrom  uint64 // the first commit whose ids are in cur
	floor    uint64 // the first commit whose ids are all here
}

func newRecentIDs(max int) *recentIDs {
	return &recentIDs{max: max, cur: map[string]placed{}, curFrom: 1, floor: 1}
}

// count is the number of commits so far, to take before reading Pebble.
func (r *recentIDs) count() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commits
}

// since answers for an id found absent by a read made after count gave
// seen: where a later commit stored it (found), or that none did (known);
// known is false when the commits since are forgotten and Pebble must be
// asked again.
func (r *recentIDs) since(id string, seen uint64) (p placed, found, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.cur[id]; ok {
		return p, true, true
	}
	if p, ok := r.old[id]; ok {
		return p, true, true
	}
	return placed{}, false, seen+1 >= r.floor
}

// committed counts a commit and remembers the ids it wrote. The commit
// must be readable in Pebble before this is called.
func (r *recentIDs) committed(written map[string]placed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commits++
	if len(r.cur)+len(written) > r.max/2 && len(r.cur) > 0 {
		r.old, r.cur = r.cur, make(map[string]placed, r.max/2)
		r.floor, r.curFrom = r.curFrom, r.commits
	}
	for id, p := range written {
		r.cur[id] = p
	}
}
