package rights

import (
	"github.com/shareledger/shareledger/domain"
)

var (
	ErrConfirmationRequired = domain.Invalidf("confirmation-required",
		"making a public item private takes it away from everyone it is shared with publicly; send the command again with confirm set to true")
	ErrAlreadyPrivate  = domain.NewError(domain.Conflict, "already-private", "the item is private already")
	ErrAlreadyPublic   = domain.NewError(domain.Conflict, "already-public", "the item is public already")
	ErrNotManager      = domain.NewError(domain.Forbidden, "not-item-manager", "this needs item rights on the collection: edit to rename it or change its members, full to share it, change its privacy or delete it")
	ErrNoMembers       = domain.NewError(domain.Invalid, "no-members", "saved reports have no members")
	ErrAlreadyMember   = domain.NewError(domain.Conflict, "already-in-collection", "the member is in the collection already")
	ErrNotInCollection = domain.NewError(domain.Conflict, "not-in-collection", "the member is not in the collection")
	ErrNotShared       = domain.NewError(domain.Conflict, "not-shared-privately", "the item is not shared privately with this user")
	ErrNoRights        = domain.Invalidf("no-rights", "a private share needs item or member rights; revoke the share instead")
)

// Collection is the aggregate of a fleet, team, marker category or saved
// report made on its own screen (the fleets and teams that hierarchy nodes
// imply belong to the hierarchy).
type Collection struct {
	id      ItemID
	account domain.AccountID
	kind    Kind
	public  bool
	deleted bool
	name    string
	creator domain.UserID
	shares  domain.Table[domain.UserID, Rights]
	members domain.Table[MemberID, MemberKind]
	changes []domain.Event
}

// Create makes a collection; fleets, teams, categories and reports are
// private unless made public.
func Create(by domain.Member, kind Kind, id ItemID, name string, public bool) (*Collection, error) {
	switch kind {
	case Fleet, Team, Category, Report:
	default:
		return nil, domain.Invalidf("invalid-kind", "a collection is a fleet, team, category or report, not %q", kind)
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return nil, err
	}
	c := &Collection{}
	c.record(CollectionCreated{Account: by.Account, Item: id, Kind: kind, Name: name, Public: public, Creator: by.User})
	return c, nil
}

// CollectionFromHistory rebuilds a collection; nil when there is none.
func CollectionFromHistory(history []domain.Event) *Collection {
	if len(history) == 0 {
		return nil
	}
	c := &Collection{}
	for _, e := range history {
		c.apply(e)
	}
	return c
}

// Changes lists the events recorded since the collection was loaded.
func (c *Collection) Changes() []domain.Event { return c.changes }

// Account is the account the collection belongs to.
func (c *Collection) Account() domain.AccountID { return c.account }

// Kind is the collection's kind.
func (c *Collection) Kind() Kind { return c.kind }

// Holder is who acts on a collection, with the rights on public items of
// its kind that their roles and direct rights give them (Access.PublicRights).
// The collection knows the rest: its creator, the administrators, its
// private shares.
type Holder struct {
	domain.Member
	Public Rights
}

// itemLevel is what a holder may do with the collection: full for an
// administrator or its creator, else the most generous of their private
// share and, while it is public, their public rights.
func (c *Collection) itemLevel(h Holder) Level {
	if h.Admin || (h.User == c.creator && c.creator != "") {
		return Full
	}
	share, _ := c.shares.Get(h.User)
	l := share.Item
	if c.public {
		l = maxLevel(l, h.Public.Item)
	}
	return l
}

// require checks that the holder's item rights reach least: edit renames
// and changes members, full shares, changes privacy and deletes.
func (c *Collection) require(h Holder, least Level) error {
	if h.Account != c.account || c.deleted {
		return domain.NewError(domain.NotFound, "unknown-item", "no such item in this account")
	}
	if l := c.itemLevel(h); !l.AtLeast(least) {
		return ErrNotManager.Withf("%s holds %s item rights on this %s; this needs %s", h.User, l, c.kind, least)
	}
	return nil
}

// MakePrivate withdraws public sharing; the caller must confirm, because
// it takes access away from everyone the item is shared with publicly.
func (c *Collection) MakePrivate(by Holder, confirmed bool) error {
	if err := c.require(by, Full); err != nil {
		return err
	}
	if !c.public {
		return ErrAlreadyPrivate
	}
	if !confirmed {
		return ErrConfirmationRequired
	}
	p := Privacy{Account: c.account, Item: c.id, By: by.User}
	switch c.kind {
	case Fleet:
		c.record(FleetMadePrivate(p))
	case Team:
		c.record(TeamMadePrivate(p))
	case Category:
		c.record(CategoryMadePrivate(p))
	case Report:
		c.record(ReportMadePrivate(p))
	}
	return nil
}

// MakePublic restores public sharing (and only that).
func (c *Collection) MakePublic(by Holder) error {
	if err := c.require(by, Full); err != nil {
		return err
	}
	if c.public {
		return ErrAlreadyPublic
	}
	p := Privacy{Account: c.account, Item: c.id, By: by.User}
	switch c.kind {
	case Fleet:
		c.record(FleetMadePublic(p))
	case Team:
		c.record(TeamMadePublic(p))
	case Category:
		c.record(CategoryMadePublic(p))
	case Report:
		c.record(ReportMadePublic(p))
	}
	return nil
}

// Share sets one subuser's item and member rights on the collection.
func (c *Collection) Share(by Holder, user domain.UserID, r Rights) error {
	if err := c.require(by, Full); err != nil {
		return err
	}
	if r.IsNone() {
		return ErrNoRights
	}
	if c.kind == Report && r.Member != None {
		return ErrNoMembers.Withf("saved reports have no members: share one with item rights only")
	}
	if share, _ := c.shares.Get(user); share == r {
		return nil
	}
	c.record(SharedPrivately{Account: c.account, Item: c.id, User: user, Rights: r, By: by.User})
	return nil
}

// Revoke removes a subuser's private share.
func (c *Collection) Revoke(by Holder, user domain.UserID) error {
	if err := c.require(by, Full); err != nil {
		return err
	}
	if !c.shares.Has(user) {
		return ErrNotShared
	}
	c.record(PrivateShareRevoked{Account: c.account, Item: c.id, User: user, By: by.User})
	return nil
}

// ErrWrongMember: fleets and teams hold vehicles and drivers, categories
// markers.
var ErrWrongMember = domain.Invalidf("wrong-member-kind", "fleets and teams hold vehicles and drivers; marker categories hold markers")

// Add puts a vehicle or driver into a fleet or team, or a marker into a
// category. A member may belong to several collections.
func (c *Collection) Add(by Holder, m MemberID, kind MemberKind) error {
	if err := c.require(by, Edit); err != nil {
		return err
	}
	if c.kind == Report {
		return ErrNoMembers
	}
	if ok := (c.kind == Category) == (kind == Marker); !ok || kind == User {
		return ErrWrongMember.Withf("a %s cannot hold a %s", c.kind, kind)
	}
	if c.members.Has(m) {
		return ErrAlreadyMember
	}
	c.record(MemberAdded{Account: c.account, Item: c.id, Member: m, Kind: kind})
	return nil
}

// Rename gives the collection a new name; edit rights do.
func (c *Collection) Rename(by Holder, name string) error {
	if err := c.require(by, Edit); err != nil {
		return err
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	if name == c.name {
		return nil
	}
	c.record(CollectionRenamed{Account: c.account, Item: c.id, Name: name, By: by.User})
	return nil
}

// Delete removes the collection, its memberships and its private shares
// (the vehicles, drivers and markers stay the account's); full rights do.
func (c *Collection) Delete(by Holder) error {
	if err := c.require(by, Full); err != nil {
		return err
	}
	c.record(CollectionDeleted{Account: c.account, Item: c.id, Kind: c.kind, By: by.User})
	return nil
}

// Remove takes a member out.
func (c *Collection) Remove(by Holder, m MemberID) error {
	if err := c.require(by, Edit); err != nil {
		return err
	}
	kind, ok := c.members.Get(m)
	if !ok {
		return ErrNotInCollection
	}
	c.record(MemberRemoved{Account: c.account, Item: c.id, Member: m, Kind: kind})
	return nil
}

func (c *Collection) record(e domain.Event) {
	c.apply(e)
	c.changes = append(c.changes, e)
}

func (c *Collection) apply(e domain.Event) {
	switch e := e.(type) {
	case CollectionCreated:
		c.id, c.account, c.kind, c.public, c.creator, c.name = e.Item, e.Account, e.Kind, e.Public, e.Creator, e.Name
		c.shares, c.members = domain.Table[domain.UserID, Rights]{}, domain.Table[MemberID, MemberKind]{}
	case CollectionRenamed:
		c.name = e.Name
	case CollectionDeleted:
		c.deleted = true
		c.shares, c.members = domain.Table[domain.UserID, Rights]{}, domain.Table[MemberID, MemberKind]{}
	case FleetMadePrivate, TeamMadePrivate, CategoryMadePrivate, ReportMadePrivate:
		c.public = false
	case FleetMadePublic, TeamMadePublic, CategoryMadePublic, ReportMadePublic:
		c.public = true
	case SharedPrivately:
		c.shares.Set(e.User, e.Rights)
	case PrivateShareRevoked:
		c.shares.Delete(e.User)
	case MemberAdded:
		c.members.Set(e.Member, e.Kind)
	case MemberRemoved:
		c.members.Delete(e.Member)
	}
}
