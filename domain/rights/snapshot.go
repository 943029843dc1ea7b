package rights

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
)

type accessSnapshot struct {
	Account domain.AccountID                  `json:"account"`
	Roles   map[string]bool                   `json:"roles"`
	Held    map[domain.UserID]map[string]bool `json:"held"`
	Granted map[string]map[Kind]Rights        `json:"granted"`
	Direct  map[domain.UserID]map[Kind]Rights `json:"direct"`
}

// SnapshotVersion names the fold that snapshots of rules hold: version 2
// keeps what roles grant and the direct rights.
func (a *Access) SnapshotVersion() string { return "access/2" }

// Snapshot encodes the rules' state.
func (a *Access) Snapshot() ([]byte, error) {
	return json.Marshal(accessSnapshot{Account: a.account, Roles: a.roles, Held: a.held, Granted: a.granted, Direct: a.direct})
}

// Restore sets the state from a snapshot.
func (a *Access) Restore(data []byte) error {
	var s accessSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	a.account, a.roles, a.held, a.granted, a.direct = s.Account, s.Roles, s.Held, s.Granted, s.Direct
	if a.granted == nil {
		a.granted = map[string]map[Kind]Rights{}
	}
	if a.direct == nil {
		a.direct = map[domain.UserID]map[Kind]Rights{}
	}
	return nil
}

type hierarchySnapshot struct {
	Account domain.AccountID    `json:"account"`
	Parent  map[ItemID]ItemID   `json:"parent"`
	Root    ItemID              `json:"root"`
	Placed  map[MemberID]ItemID `json:"placed"`
}

// SnapshotVersion names the fold that snapshots of hierarchies hold.
func (h *Hierarchy) SnapshotVersion() string { return "hierarchy/1" }

// Snapshot encodes the hierarchy's state.
func (h *Hierarchy) Snapshot() ([]byte, error) {
	return json.Marshal(hierarchySnapshot{Account: h.account, Parent: h.parent, Root: h.root, Placed: h.placed})
}

// Restore sets the state from a snapshot.
func (h *Hierarchy) Restore(data []byte) error {
	var s hierarchySnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	h.account, h.parent, h.root, h.placed = s.Account, s.Parent, s.Root, s.Placed
	return nil
}

type collectionSnapshot struct {
	ID      ItemID                   `json:"id"`
	Account domain.AccountID         `json:"account"`
	Kind    Kind                     `json:"kind"`
	Public  bool                     `json:"public"`
	Creator domain.UserID            `json:"creator"`
	Shares  map[domain.UserID]Rights `json:"shares"`
	Members map[MemberID]MemberKind  `json:"members"`
	Name    string                   `json:"name"`
	Deleted bool                     `json:"deleted"`
}

// SnapshotVersion names the fold that snapshots of collections hold.
func (c *Collection) SnapshotVersion() string { return "collection/2" }

// Snapshot encodes the collection's state.
func (c *Collection) Snapshot() ([]byte, error) {
	return json.Marshal(collectionSnapshot{ID: c.id, Account: c.account, Kind: c.kind, Public: c.public, Creator: c.creator, Shares: c.shares, Members: c.members, Name: c.name, Deleted: c.deleted})
}

// Restore sets the state from a snapshot.
func (c *Collection) Restore(data []byte) error {
	var s collectionSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	c.id, c.account, c.kind, c.public, c.creator, c.shares, c.members = s.ID, s.Account, s.Kind, s.Public, s.Creator, s.Shares, s.Members
	c.name, c.deleted = s.Name, s.Deleted
	return nil
}
