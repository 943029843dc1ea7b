package rights

import "github.com/shareledger/shareledger/domain"

// RoleDeleted: a role no one held any more is gone.
type RoleDeleted struct {
	Account domain.AccountID `json:"account"`
	Role    string           `json:"role"`
	By      domain.UserID    `json:"by"`
}

// NodeDeleted: an empty hierarchy node (no child nodes, nothing placed on
// it) is gone, with the fleet and team it implied.
type NodeDeleted struct {
	Account domain.AccountID `json:"account"`
	Node    ItemID           `json:"node"`
	Parent  ItemID           `json:"parent"`
	By      domain.UserID    `json:"by"`
}

func (RoleDeleted) EventType() string { return "RoleDeleted" }
func (RoleDeleted) EventVersion() int { return 1 }
func (NodeDeleted) EventType() string { return "NodeDeleted" }
func (NodeDeleted) EventVersion() int { return 1 }

// CollectionRenamed: a collection has a new name.
type CollectionRenamed struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	Name    string           `json:"name"`
	By      domain.UserID    `json:"by"`
}

// CollectionDeleted: a collection is gone, with its members (who stay the
// account's) and its private shares.
type CollectionDeleted struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	Kind    Kind             `json:"kind"`
	By      domain.UserID    `json:"by"`
}

func (CollectionRenamed) EventType() string { return "CollectionRenamed" }
func (CollectionRenamed) EventVersion() int { return 1 }
func (CollectionDeleted) EventType() string { return "CollectionDeleted" }
func (CollectionDeleted) EventVersion() int { return 1 }

// CollectionCreated: a fleet, team, marker category or saved report exists,
// public or private.
type CollectionCreated struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	Kind    Kind             `json:"kind"`
	Name    string           `json:"name"`
	Public  bool             `json:"public"`
	Creator domain.UserID    `json:"creator"`
}

// Privacy is the payload of the made-private and made-public events.
type Privacy struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	By      domain.UserID    `json:"by"`
}

// FleetMadePrivate and its siblings: public sharing of the item ended; the
// creator's private shares remain. The MadePublic events restore public
// sharing only.
type (
	FleetMadePrivate    Privacy
	TeamMadePrivate     Privacy
	CategoryMadePrivate Privacy
	ReportMadePrivate   Privacy
	FleetMadePublic     Privacy
	TeamMadePublic      Privacy
	CategoryMadePublic  Privacy
	ReportMadePublic    Privacy
)

// SharedPrivately: one user's rights on one item, set by its creator.
type SharedPrivately struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	User    domain.UserID    `json:"user"`
	Rights  Rights           `json:"rights"`
	By      domain.UserID    `json:"by"`
}

// PrivateShareRevoked: the user no longer has private rights on the item.
type PrivateShareRevoked struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	User    domain.UserID    `json:"user"`
	By      domain.UserID    `json:"by"`
}

// MemberAdded: a vehicle or driver joined a fleet or team, or a marker a
// category.
type MemberAdded struct {
	Account domain.AccountID `json:"account"`
	Item    ItemID           `json:"item"`
	Member  MemberID         `json:"member"`
	Kind    MemberKind       `json:"kind"`
}

// MemberRemoved: the member left the collection.
type MemberRemoved MemberAdded

// NodeAdded: the hierarchy has a new node under parent ("" for the root).
type NodeAdded struct {
	Account domain.AccountID `json:"account"`
	Node    ItemID           `json:"node"`
	Parent  ItemID           `json:"parent"`
	Name    string           `json:"name"`
}

// NodeMoved: a node and its subtree hang under another parent now; what it
// grants moves with it.
type NodeMoved struct {
	Account domain.AccountID `json:"account"`
	Node    ItemID           `json:"node"`
	From    ItemID           `json:"from"`
	To      ItemID           `json:"to"`
}

// MemberPlaced: a user, vehicle or driver is placed on a node ("": on none).
type MemberPlaced struct {
	Account domain.AccountID `json:"account"`
	Member  MemberID         `json:"member"`
	Kind    MemberKind       `json:"kind"`
	Node    ItemID           `json:"node"`
}

// RoleDefined: a named set of rights on public items, by kind.
type RoleDefined struct {
	Account domain.AccountID `json:"account"`
	Role    string           `json:"role"`
	Rights  map[Kind]Rights  `json:"rights"`
}

// RoleAssigned and RoleUnassigned: a subuser gained or lost a role.
type RoleAssigned struct {
	Account domain.AccountID `json:"account"`
	User    domain.UserID    `json:"user"`
	Role    string           `json:"role"`
}

// RoleUnassigned: the subuser lost the role.
type RoleUnassigned RoleAssigned

// DirectRightsSet: rights on public items of a kind set on a subuser.
type DirectRightsSet struct {
	Account domain.AccountID `json:"account"`
	User    domain.UserID    `json:"user"`
	Kind    Kind             `json:"kind"`
	Rights  Rights           `json:"rights"`
}

func (CollectionCreated) EventType() string   { return "CollectionCreated" }
func (FleetMadePrivate) EventType() string    { return "FleetMadePrivate" }
func (TeamMadePrivate) EventType() string     { return "TeamMadePrivate" }
func (CategoryMadePrivate) EventType() string { return "CategoryMadePrivate" }
func (ReportMadePrivate) EventType() string   { return "ReportMadePrivate" }
func (FleetMadePublic) EventType() string     { return "FleetMadePublic" }
func (TeamMadePublic) EventType() string      { return "TeamMadePublic" }
func (CategoryMadePublic) EventType() string  { return "CategoryMadePublic" }
func (ReportMadePublic) EventType() string    { return "ReportMadePublic" }
func (SharedPrivately) EventType() string     { return "SharedPrivately" }
func (PrivateShareRevoked) EventType() string { return "PrivateShareRevoked" }
func (MemberAdded) EventType() string         { return "MemberAdded" }
func (MemberRemoved) EventType() string       { return "MemberRemoved" }
func (NodeAdded) EventType() string           { return "NodeAdded" }
func (NodeMoved) EventType() string           { return "NodeMoved" }
func (MemberPlaced) EventType() string        { return "MemberPlaced" }
func (RoleDefined) EventType() string         { return "RoleDefined" }
func (RoleAssigned) EventType() string        { return "RoleAssigned" }
func (RoleUnassigned) EventType() string      { return "RoleUnassigned" }
func (DirectRightsSet) EventType() string     { return "DirectRightsSet" }

func (CollectionCreated) EventVersion() int   { return 1 }
func (FleetMadePrivate) EventVersion() int    { return 1 }
func (TeamMadePrivate) EventVersion() int     { return 1 }
func (CategoryMadePrivate) EventVersion() int { return 1 }
func (ReportMadePrivate) EventVersion() int   { return 1 }
func (FleetMadePublic) EventVersion() int     { return 1 }
func (TeamMadePublic) EventVersion() int      { return 1 }
func (CategoryMadePublic) EventVersion() int  { return 1 }
func (ReportMadePublic) EventVersion() int    { return 1 }
func (SharedPrivately) EventVersion() int     { return 1 }
func (PrivateShareRevoked) EventVersion() int { return 1 }
func (MemberAdded) EventVersion() int         { return 1 }
func (MemberRemoved) EventVersion() int       { return 1 }
func (NodeAdded) EventVersion() int           { return 1 }
func (NodeMoved) EventVersion() int           { return 1 }
func (MemberPlaced) EventVersion() int        { return 1 }
func (RoleDefined) EventVersion() int         { return 1 }
func (RoleAssigned) EventVersion() int        { return 1 }
func (RoleUnassigned) EventVersion() int      { return 1 }
func (DirectRightsSet) EventVersion() int     { return 1 }

// RegisterEvents adds the rights events to a registry.
func RegisterEvents(r *domain.Registry) {
	domain.Register[CollectionCreated](r)
	domain.Register[CollectionRenamed](r)
	domain.Register[RoleDeleted](r)
	domain.Register[NodeDeleted](r)
	domain.Register[MemberSharedPrivately](r)
	domain.Register[MemberShareRevoked](r)
	domain.Register[CollectionDeleted](r)
	domain.Register[FleetMadePrivate](r)
	domain.Register[TeamMadePrivate](r)
	domain.Register[CategoryMadePrivate](r)
	domain.Register[ReportMadePrivate](r)
	domain.Register[FleetMadePublic](r)
	domain.Register[TeamMadePublic](r)
	domain.Register[CategoryMadePublic](r)
	domain.Register[ReportMadePublic](r)
	domain.Register[SharedPrivately](r)
	domain.Register[PrivateShareRevoked](r)
	domain.Register[MemberAdded](r)
	domain.Register[MemberRemoved](r)
	domain.Register[NodeAdded](r)
	domain.Register[NodeMoved](r)
	domain.Register[MemberPlaced](r)
	domain.Register[RoleDefined](r)
	domain.Register[RoleAssigned](r)
	domain.Register[RoleUnassigned](r)
	domain.Register[DirectRightsSet](r)
}
