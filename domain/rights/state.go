package rights

import (
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
	// The maps held in held, granted and direct are replaced, never
	// changed in place (apply): the copies share them.
	c.roles, c.holders, c.granted, c.changes = a.roles.Clone(), a.holders.Clone(), a.granted.Clone(), nil
	c.held, c.direct = a.held.Clone(), a.direct.Clone()
	return &c
}

// Footprint estimates the rules' memory in bytes.
func (a *Access) Footprint() int64 {
	// Each subuser's roles or direct rights: a small map (about 144
	// bytes); each role's grants the same.
	return 128 + 64*int64(a.roles.Len()+a.holders.Len()) + 144*int64(a.held.Len()+a.direct.Len()+a.granted.Len())
}

// Replay brings a loaded hierarchy up to date with stored events.
func (h *Hierarchy) Replay(events ...domain.Event) { domain.Replay(h.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (h *Hierarchy) Clone() *Hierarchy {
	c := *h
	c.parent, c.placed, c.children, c.occupants, c.changes = h.parent.Clone(), h.placed.Clone(), h.children.Clone(), h.occupants.Clone(), nil
	return &c
}

// Footprint estimates the hierarchy's memory in bytes.
func (h *Hierarchy) Footprint() int64 {
	return 128 + 96*int64(h.parent.Len()+h.placed.Len()) + 48*int64(h.children.Len()+h.occupants.Len())
}

// Replay brings a loaded collection up to date with stored events.
func (c *Collection) Replay(events ...domain.Event) { domain.Replay(c.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (c *Collection) Clone() *Collection {
	d := *c
	d.shares, d.members, d.changes = c.shares.Clone(), c.members.Clone(), nil
	return &d
}

// Footprint estimates the collection's memory in bytes.
func (c *Collection) Footprint() int64 { return 192 + 80*int64(c.shares.Len()+c.members.Len()) }
