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
	return json.Marshal(accessSnapshot{Account: a.account, Roles: a.roles.Map(), Held: a.held.Map(), Granted: a.granted.Map(), Direct: a.direct.Map()})
}

// Restore sets the state from a snapshot.
func (a *Access) Restore(data []byte) error {
	var s accessSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	a.account, a.roles, a.granted = s.Account, domain.TableOf(s.Roles), domain.TableOf(s.Granted)
	a.held, a.direct, a.holders = domain.TableOf(s.Held), domain.TableOf(s.Direct), domain.Table[string, int]{}
	for _, roles := range s.Held {
		for role, held := range roles {
			if held {
				domain.Count(&a.holders, role, 1)
			}
		}
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
	return json.Marshal(hierarchySnapshot{Account: h.account, Parent: h.parent.Map(), Root: h.root, Placed: h.placed.Map()})
}

// Restore sets the state from a snapshot.
func (h *Hierarchy) Restore(data []byte) error {
	var s hierarchySnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	h.account, h.root = s.Account, s.Root
	h.parent, h.placed, h.children, h.occupants = domain.Table[ItemID, ItemID]{}, domain.Table[MemberID, ItemID]{}, domain.Table[ItemID, int]{}, domain.Table[ItemID, int]{}
	for n, p := range s.Parent {
		h.hang(n, p)
	}
	for m, n := range s.Placed {
		h.place(m, n)
	}
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
	return json.Marshal(collectionSnapshot{ID: c.id, Account: c.account, Kind: c.kind, Public: c.public, Creator: c.creator, Shares: c.shares.Map(), Members: c.members.Map(), Name: c.name, Deleted: c.deleted})
}

// Restore sets the state from a snapshot.
func (c *Collection) Restore(data []byte) error {
	var s collectionSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	c.id, c.account, c.kind, c.public, c.creator = s.ID, s.Account, s.Kind, s.Public, s.Creator
	c.shares, c.members = domain.TableOf(s.Shares), domain.TableOf(s.Members)
	c.name, c.deleted = s.Name, s.Deleted
	return nil
}
