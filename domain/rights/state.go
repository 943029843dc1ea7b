package rights

import (
	"maps"

	"github.com/shareledger/shareledger/domain"
)

// EmptyAccess is the state of an account's access stream before its
// first event.
func EmptyAccess(acc domain.AccountID) *Access { return AccessFromHistory(acc, nil) }

// EmptyHierarchy is the state of an account's hierarchy stream before its
// first event.
func EmptyHierarchy(acc domain.AccountID) *Hierarchy { return HierarchyFromHistory(acc, nil) }

// EmptyCollection is the state of a collection stream before its first
// event.
func EmptyCollection() *Collection { return &Collection{} }

// Replay brings loaded rules up to date with stored events.
func (a *Access) Replay(events ...domain.Event) { domain.Replay(a.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (a *Access) Clone() *Access {
	c := *a
	c.roles, c.changes = maps.Clone(a.roles), nil
	c.held = make(map[domain.UserID]map[string]bool, len(a.held))
	for u, roles := range a.held {
		c.held[u] = maps.Clone(roles)
	}
	c.granted = make(map[string]map[Kind]Rights, len(a.granted))
	for role, r := range a.granted {
		c.granted[role] = maps.Clone(r)
	}
	c.direct = make(map[domain.UserID]map[Kind]Rights, len(a.direct))
	for u, r := range a.direct {
		c.direct[u] = maps.Clone(r)
	}
	return &c
}

// Footprint estimates the rules' memory in bytes.
func (a *Access) Footprint() int64 {
	n := 128 + 64*int64(len(a.roles))
	for _, roles := range a.held {
		n += 96 + 48*int64(len(roles))
	}
	for _, r := range a.granted {
		n += 96 + 48*int64(len(r))
	}
	for _, r := range a.direct {
		n += 96 + 48*int64(len(r))
	}
	return n
}

// Replay brings a loaded hierarchy up to date with stored events.
func (h *Hierarchy) Replay(events ...domain.Event) { domain.Replay(h.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (h *Hierarchy) Clone() *Hierarchy {
	c := *h
	c.parent, c.placed, c.changes = maps.Clone(h.parent), maps.Clone(h.placed), nil
	return &c
}

// Footprint estimates the hierarchy's memory in bytes.
func (h *Hierarchy) Footprint() int64 { return 128 + 96*int64(len(h.parent)+len(h.placed)) }

// Replay brings a loaded collection up to date with stored events.
func (c *Collection) Replay(events ...domain.Event) { domain.Replay(c.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (c *Collection) Clone() *Collection {
	d := *c
	d.shares, d.members, d.changes = maps.Clone(c.shares), maps.Clone(c.members), nil
	return &d
}

// Footprint estimates the collection's memory in bytes.
func (c *Collection) Footprint() int64 { return 192 + 80*int64(len(c.shares)+len(c.members)) }
