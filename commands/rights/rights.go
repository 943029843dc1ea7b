// Package rights holds the use cases of sharing with subusers: roles and
// direct rights, fleets, teams, categories and reports with their privacy,
// private shares and members, and the hierarchy.
package rights

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

// The use cases, each one command.

// DefineRole defines a role's rights on public items by kind, or redefines
// them (administrators).
type DefineRole struct {
	Meta   commands.Meta
	Name   string
	Rights map[rights.Kind]rights.Rights
}

// GrantRole gives a subuser a role; RevokeRole takes it back.
type GrantRole struct {
	Meta    commands.Meta
	Subuser domain.UserID
	Role    string
}

// RevokeRole takes a role from a subuser.
type RevokeRole GrantRole

// SetDirectRights sets a subuser's own rights on every public item of a
// kind.
type SetDirectRights struct {
	Meta    commands.Meta
	Subuser domain.UserID
	Kind    rights.Kind
	Rights  rights.Rights
}

// CreateCollection makes a fleet, team, category or report.
type CreateCollection struct {
	Meta   commands.Meta
	Kind   string
	Name   string
	Public bool
}

// MakeCollectionPrivate withdraws public sharing of an item at once; it
// needs Confirm.
type MakeCollectionPrivate struct {
	Meta    commands.Meta
	Item    rights.ItemID
	Confirm bool
}

// MakeCollectionPublic restores public sharing of an item.
type MakeCollectionPublic struct {
	Meta commands.Meta
	Item rights.ItemID
}

// ShareCollection shares an item privately with a subuser, with item and
// member rights.
type ShareCollection struct {
	Meta    commands.Meta
	Item    rights.ItemID
	Subuser domain.UserID
	Rights  rights.Rights
}

// UnshareCollection revokes a subuser's private share of an item.
type UnshareCollection struct {
	Meta    commands.Meta
	Item    rights.ItemID
	Subuser domain.UserID
}

// AddCollectionMember puts a vehicle, driver or marker into an item.
type AddCollectionMember struct {
	Meta   commands.Meta
	Item   rights.ItemID
	Member rights.MemberID
	Kind   rights.MemberKind
}

// RenameCollection gives a collection a new name.
type RenameCollection struct {
	Meta commands.Meta
	Item rights.ItemID
	Name string
}

// DeleteCollection removes a collection, its memberships and its shares.
type DeleteCollection struct {
	Meta commands.Meta
	Item rights.ItemID
}

// DeleteRole removes a role no one holds.
type DeleteRole struct {
	Meta commands.Meta
	Name string
}

// DeleteHierarchyNode removes an empty node.
type DeleteHierarchyNode struct {
	Meta commands.Meta
	Node rights.ItemID
}

// ShareMember shares one vehicle, driver or marker with a subuser at a
// member level, on its own; UnshareMember ends it.
type ShareMember struct {
	Meta    commands.Meta
	Member  rights.MemberID
	Kind    rights.MemberKind
	Subuser domain.UserID
	Level   rights.Level
}

// UnshareMember ends a private share of one member.
type UnshareMember struct {
	Meta    commands.Meta
	Member  rights.MemberID
	Subuser domain.UserID
}

// RemoveCollectionMember takes a member out of an item.
type RemoveCollectionMember struct {
	Meta   commands.Meta
	Item   rights.ItemID
	Member rights.MemberID
}

// AddHierarchyNode adds a node under a parent (none: the root).
type AddHierarchyNode struct {
	Meta   commands.Meta
	ID     rights.ItemID
	Parent rights.ItemID
	Name   string
}

// MoveHierarchyNode moves a node, and what it grants, under another.
type MoveHierarchyNode struct {
	Meta   commands.Meta
	Node   rights.ItemID
	Parent rights.ItemID
}

// PlaceOnHierarchy places a user, vehicle or driver on a node (none: off
// the hierarchy).
type PlaceOnHierarchy struct {
	Meta   commands.Meta
	Member rights.MemberID
	Kind   rights.MemberKind
	Node   rights.ItemID
}

// Handlers are the rights use cases, each logged and measured by its name.
type Handlers struct {
	DefineRole             commands.Handler[DefineRole]
	GrantRole              commands.Handler[GrantRole]
	RevokeRole             commands.Handler[RevokeRole]
	SetDirectRights        commands.Handler[SetDirectRights]
	CreateCollection       commands.Handler[CreateCollection]
	RenameCollection       commands.Handler[RenameCollection]
	DeleteCollection       commands.Handler[DeleteCollection]
	MakeCollectionPrivate  commands.Handler[MakeCollectionPrivate]
	MakeCollectionPublic   commands.Handler[MakeCollectionPublic]
	ShareCollection        commands.Handler[ShareCollection]
	UnshareCollection      commands.Handler[UnshareCollection]
	AddCollectionMember    commands.Handler[AddCollectionMember]
	RemoveCollectionMember commands.Handler[RemoveCollectionMember]
	ShareMember            commands.Handler[ShareMember]
	DeleteRole             commands.Handler[DeleteRole]
	DeleteHierarchyNode    commands.Handler[DeleteHierarchyNode]
	UnshareMember          commands.Handler[UnshareMember]
	AddHierarchyNode       commands.Handler[AddHierarchyNode]
	MoveHierarchyNode      commands.Handler[MoveHierarchyNode]
	PlaceOnHierarchy       commands.Handler[PlaceOnHierarchy]
	Bulk                   BulkHandlers
}

// New builds the handlers on repo, decorated.
func New(repo commands.Repo, log *slog.Logger) Handlers {
	u := useCases{repo}
	m := repo.Metrics
	return Handlers{
		DefineRole:             commands.Decorate(u.defineRole, log, "DefineRole", m),
		GrantRole:              commands.Decorate(u.grantRole, log, "GrantRole", m),
		RevokeRole:             commands.Decorate(u.revokeRole, log, "RevokeRole", m),
		SetDirectRights:        commands.Decorate(u.setDirectRights, log, "SetDirectRights", m),
		CreateCollection:       commands.Decorate(u.createCollection, log, "CreateCollection", m),
		RenameCollection:       commands.Decorate(u.renameCollection, log, "RenameCollection", m),
		DeleteCollection:       commands.Decorate(u.deleteCollection, log, "DeleteCollection", m),
		MakeCollectionPrivate:  commands.Decorate(u.makeCollectionPrivate, log, "MakeCollectionPrivate", m),
		MakeCollectionPublic:   commands.Decorate(u.makeCollectionPublic, log, "MakeCollectionPublic", m),
		ShareCollection:        commands.Decorate(u.shareCollection, log, "ShareCollection", m),
		UnshareCollection:      commands.Decorate(u.unshareCollection, log, "UnshareCollection", m),
		AddCollectionMember:    commands.Decorate(u.addCollectionMember, log, "AddCollectionMember", m),
		RemoveCollectionMember: commands.Decorate(u.removeCollectionMember, log, "RemoveCollectionMember", m),
		ShareMember:            commands.Decorate(u.shareMember, log, "ShareMember", m),
		DeleteRole:             commands.Decorate(u.deleteRole, log, "DeleteRole", m),
		DeleteHierarchyNode:    commands.Decorate(u.deleteHierarchyNode, log, "DeleteHierarchyNode", m),
		UnshareMember:          commands.Decorate(u.unshareMember, log, "UnshareMember", m),
		AddHierarchyNode:       commands.Decorate(u.addHierarchyNode, log, "AddHierarchyNode", m),
		MoveHierarchyNode:      commands.Decorate(u.moveHierarchyNode, log, "MoveHierarchyNode", m),
		PlaceOnHierarchy:       commands.Decorate(u.placeOnHierarchy, log, "PlaceOnHierarchy", m),
		Bulk: BulkHandlers{
			ChangeCollectionMembers: commands.Decorate(u.changeCollectionMembers, log, "ChangeCollectionMembers", m),
			ChangeCollectionShares:  commands.Decorate(u.changeCollectionShares, log, "ChangeCollectionShares", m),
			PlaceManyOnHierarchy:    commands.Decorate(u.placeManyOnHierarchy, log, "PlaceManyOnHierarchy", m),
		},
	}
}

type useCases struct{ repo commands.Repo }

// change is the pipeline every rights use case goes through: check that
// the caller (and the subuser the command names, if any) belongs to the
// account, then the repository's pipeline (commands.Change), refusing an
// aggregate the caller may not change (check) before deciding. id names what the command creates, if
// anything.
func change[A commands.Decided[A]](ctx context.Context, u useCases, m commands.Meta, subuser domain.UserID, id, stream string, empty func() A, check func(by domain.Member, exists bool, a A) error, decide func(by domain.Member, a A) error) (commands.Result, error) {
	acc, by, err := u.repo.Member(ctx, m)
	if err != nil {
		return commands.Result{}, err
	}
	if subuser != "" {
		if _, err := acc.Member(subuser); err != nil {
			return commands.Result{}, err
		}
	}
	return commands.Change(ctx, u.repo, stream, m, empty, id, func(l *commands.Loaded, agg A) (any, error) {
		if check != nil {
			if err := check(by, l.Exists(), agg); err != nil {
				return nil, err
			}
		}
		return nil, decide(by, agg)
	})
}

// access runs a decision on the account's roles and direct rights.
func (u useCases) access(ctx context.Context, m commands.Meta, subuser domain.UserID, decide func(by domain.Member, a *rights.Access) error) (commands.Result, error) {
	acc := m.Caller.Account
	return change(ctx, u, m, subuser, "", rights.AccessStream(acc), func() *rights.Access { return rights.EmptyAccess(acc) }, nil, decide)
}

// hierarchy runs a decision on the account's hierarchy.
func (u useCases) hierarchy(ctx context.Context, m commands.Meta, subuser domain.UserID, id string, decide func(by domain.Member, h *rights.Hierarchy) error) (commands.Result, error) {
	acc := m.Caller.Account
	return change(ctx, u, m, subuser, id, rights.HierarchyStream(acc), func() *rights.Hierarchy { return rights.EmptyHierarchy(acc) }, nil, decide)
}

// collection runs a decision on one of the account's collections, by a
// holder: the caller, with what their roles and direct rights give them on
// public items of the collection's kind, read from the account's access
// rules and their own direct rights (other streams, read, not changed:
// a role granted a moment ago may not count yet, as on the read side).
func (u useCases) collection(ctx context.Context, m commands.Meta, item rights.ItemID, subuser domain.UserID, decide func(by rights.Holder, c *rights.Collection) error) (commands.Result, error) {
	var holder rights.Holder
	return change(ctx, u, m, subuser, string(item), rights.CollectionStream(item), rights.EmptyCollection, func(by domain.Member, exists bool, col *rights.Collection) error {
		if !exists || col.Account() != by.Account {
			return domain.NewError(domain.NotFound, "unknown-item", "no such fleet, team, category or report in this account")
		}
		holder = rights.Holder{Member: by}
		if by.Admin {
			return nil
		}
		acc := by.Account
		_, roles, err := commands.LoadState(ctx, u.repo, rights.AccessStream(acc), commands.Meta{}, func() *rights.Access { return rights.EmptyAccess(acc) })
		if err != nil {
			return err
		}
		_, direct, err := commands.LoadState(ctx, u.repo, rights.DirectRightsStream(acc, by.User), commands.Meta{}, func() *rights.Access { return rights.EmptyAccess(acc) })
		if err != nil {
			return err
		}
		holder.Public = roles.PublicRights(by.User, col.Kind()).Max(direct.PublicRights(by.User, col.Kind()))
		return nil
	}, func(_ domain.Member, col *rights.Collection) error { return decide(holder, col) })
}

func (u useCases) defineRole(ctx context.Context, c DefineRole) (commands.Result, error) {
	return u.access(ctx, c.Meta, "", func(by domain.Member, a *rights.Access) error { return a.DefineRole(by, c.Name, c.Rights) })
}

func (u useCases) grantRole(ctx context.Context, c GrantRole) (commands.Result, error) {
	return u.access(ctx, c.Meta, c.Subuser, func(by domain.Member, a *rights.Access) error { return a.Assign(by, c.Subuser, c.Role) })
}

func (u useCases) revokeRole(ctx context.Context, c RevokeRole) (commands.Result, error) {
	return u.access(ctx, c.Meta, c.Subuser, func(by domain.Member, a *rights.Access) error { return a.Unassign(by, c.Subuser, c.Role) })
}

// setDirectRights decides on the user's own stream of direct rights: they
// share no rule with roles or with other users' rights.
func (u useCases) setDirectRights(ctx context.Context, c SetDirectRights) (commands.Result, error) {
	acc := c.Meta.Caller.Account
	return change(ctx, u, c.Meta, c.Subuser, "", rights.DirectRightsStream(acc, c.Subuser), func() *rights.Access { return rights.EmptyAccess(acc) }, nil,
		func(by domain.Member, a *rights.Access) error { return a.SetDirect(by, c.Subuser, c.Kind, c.Rights) })
}

func (u useCases) createCollection(ctx context.Context, c CreateCollection) (commands.Result, error) {
	kind, err := rights.ParseKind(c.Kind)
	if err != nil {
		return commands.Result{}, err
	}
	_, by, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	id := commands.NewID(c.Meta.CommandID, "collection")
	return commands.Create(ctx, u.repo, rights.CollectionStream(rights.ItemID(id)), c.Meta, id, commands.ErrStreamExists, func() ([]domain.Event, error) {
		col, err := rights.Create(by, kind, rights.ItemID(id), c.Name, c.Public)
		if err != nil {
			return nil, err
		}
		return col.Changes(), nil
	})
}

func (u useCases) renameCollection(ctx context.Context, c RenameCollection) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error { return col.Rename(by, c.Name) })
}

func (u useCases) deleteCollection(ctx context.Context, c DeleteCollection) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error { return col.Delete(by) })
}

func (u useCases) makeCollectionPrivate(ctx context.Context, c MakeCollectionPrivate) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error { return col.MakePrivate(by, c.Confirm) })
}

func (u useCases) makeCollectionPublic(ctx context.Context, c MakeCollectionPublic) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error { return col.MakePublic(by) })
}

func (u useCases) shareCollection(ctx context.Context, c ShareCollection) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, c.Subuser, func(by rights.Holder, col *rights.Collection) error { return col.Share(by, c.Subuser, c.Rights) })
}

func (u useCases) unshareCollection(ctx context.Context, c UnshareCollection) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, c.Subuser, func(by rights.Holder, col *rights.Collection) error { return col.Revoke(by, c.Subuser) })
}

func (u useCases) addCollectionMember(ctx context.Context, c AddCollectionMember) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error { return col.Add(by, c.Member, c.Kind) })
}

func (u useCases) removeCollectionMember(ctx context.Context, c RemoveCollectionMember) (commands.Result, error) {
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error { return col.Remove(by, c.Member) })
}

func (u useCases) deleteRole(ctx context.Context, c DeleteRole) (commands.Result, error) {
	return u.access(ctx, c.Meta, "", func(by domain.Member, a *rights.Access) error { return a.DeleteRole(by, c.Name) })
}

func (u useCases) deleteHierarchyNode(ctx context.Context, c DeleteHierarchyNode) (commands.Result, error) {
	return u.hierarchy(ctx, c.Meta, "", "", func(by domain.Member, h *rights.Hierarchy) error { return h.Delete(by, c.Node) })
}

// memberShares runs a decision on one member's private shares.
func (u useCases) memberShares(ctx context.Context, m commands.Meta, member rights.MemberID, subuser domain.UserID, decide func(by domain.Member, s *rights.MemberShares) error) (commands.Result, error) {
	acc := m.Caller.Account
	return change(ctx, u, m, subuser, "", rights.MemberSharesStream(acc, member), func() *rights.MemberShares { return rights.EmptyMemberShares(acc, member) }, nil, decide)
}

func (u useCases) shareMember(ctx context.Context, c ShareMember) (commands.Result, error) {
	return u.memberShares(ctx, c.Meta, c.Member, c.Subuser, func(by domain.Member, s *rights.MemberShares) error { return s.Share(by, c.Kind, c.Subuser, c.Level) })
}

func (u useCases) unshareMember(ctx context.Context, c UnshareMember) (commands.Result, error) {
	return u.memberShares(ctx, c.Meta, c.Member, c.Subuser, func(by domain.Member, s *rights.MemberShares) error { return s.Revoke(by, c.Subuser) })
}

func (u useCases) addHierarchyNode(ctx context.Context, c AddHierarchyNode) (commands.Result, error) {
	return u.hierarchy(ctx, c.Meta, "", string(c.ID), func(by domain.Member, h *rights.Hierarchy) error { return h.Add(by, c.ID, c.Parent, c.Name) })
}

func (u useCases) moveHierarchyNode(ctx context.Context, c MoveHierarchyNode) (commands.Result, error) {
	return u.hierarchy(ctx, c.Meta, "", "", func(by domain.Member, h *rights.Hierarchy) error { return h.Move(by, c.Node, c.Parent) })
}

func (u useCases) placeOnHierarchy(ctx context.Context, c PlaceOnHierarchy) (commands.Result, error) {
	var subuser domain.UserID
	if c.Kind == rights.User {
		subuser = domain.UserID(c.Member)
	}
	return u.hierarchy(ctx, c.Meta, subuser, "", func(by domain.Member, h *rights.Hierarchy) error { return h.Place(by, c.Member, c.Kind, c.Node) })
}

type rightsBody struct {
	Item   string `json:"item"`
	Member string `json:"member"`
}

func (b rightsBody) parse() (rights.Rights, error) {
	var r rights.Rights
	var err error
	if b.Item != "" {
		if r.Item, err = rights.ParseLevel(b.Item); err != nil {
			return r, err
		}
	}
	if b.Member != "" {
		r.Member, err = rights.ParseLevel(b.Member)
	}
	return r, err
}

// decodeRights reads a body of item and member rights.
func decodeRights(w http.ResponseWriter, r *http.Request) (rights.Rights, error) {
	var b rightsBody
	if err := httpapi.Decode(w, r, &b); err != nil {
		return rights.Rights{}, err
	}
	return b.parse()
}

// item is the collection a route names.
func item(r *http.Request) (rights.ItemID, error) {
	return rights.ParseItemID("item", chi.URLParam(r, "item"))
}

// subuser is the person a route names, in the normal form of an address,
// so every spelling of one address is one subuser.
func subuser(r *http.Request) (domain.UserID, error) {
	return domain.ParseUser(chi.URLParam(r, "user"))
}

// Routes mounts the rights commands: each route decodes its command (path
// and body, into their normal forms) and hands it to its use case.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	r.Post("/v1/roles", commands.Serve(h.DefineRole, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (DefineRole, error) {
		var b struct {
			Name   string                `json:"name"`
			Rights map[string]rightsBody `json:"rights"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return DefineRole{}, err
		}
		if b.Rights == nil {
			// Defining a role again replaces its rights: say them, even
			// when there are none ({}).
			return DefineRole{}, domain.Invalidf("no-rights", "name the role's rights by kind, e.g. {\"fleet\":{\"item\":\"view\",\"member\":\"view\"}}, or {} for none")
		}
		set := map[rights.Kind]rights.Rights{}
		for k, v := range b.Rights {
			kind, err := rights.ParseKind(k)
			if err != nil {
				return DefineRole{}, err
			}
			if set[kind], err = v.parse(); err != nil {
				return DefineRole{}, err
			}
		}
		return DefineRole{Meta: m, Name: b.Name, Rights: set}, nil
	}))
	r.Post("/v1/subusers/{user}/roles", commands.Serve(h.GrantRole, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (GrantRole, error) {
		var b struct {
			Role string `json:"role"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return GrantRole{}, err
		}
		u, err := subuser(r)
		return GrantRole{Meta: m, Subuser: u, Role: b.Role}, err
	}))
	r.Delete("/v1/subusers/{user}/roles/{role}", commands.Serve(h.RevokeRole, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (RevokeRole, error) {
		u, err := subuser(r)
		return RevokeRole{Meta: m, Subuser: u, Role: chi.URLParam(r, "role")}, err
	}))
	r.Put("/v1/subusers/{user}/rights/{kind}", commands.Serve(h.SetDirectRights, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (SetDirectRights, error) {
		set, err := decodeRights(w, r)
		if err != nil {
			return SetDirectRights{}, err
		}
		kind, errK := rights.ParseKind(chi.URLParam(r, "kind"))
		u, errU := subuser(r)
		return SetDirectRights{Meta: m, Subuser: u, Kind: kind, Rights: set}, errors.Join(errK, errU)
	}))
	r.Post("/v1/collections", commands.Serve(h.CreateCollection, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateCollection, error) {
		var b struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Public bool   `json:"public"`
		}
		err := httpapi.Decode(w, r, &b)
		return CreateCollection{Meta: m, Kind: b.Kind, Name: b.Name, Public: b.Public}, err
	}))
	r.Post("/v1/collections/{item}/private", commands.Serve(h.MakeCollectionPrivate, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (MakeCollectionPrivate, error) {
		var b struct {
			Confirm bool `json:"confirm"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return MakeCollectionPrivate{}, err
		}
		id, err := item(r)
		return MakeCollectionPrivate{Meta: m, Item: id, Confirm: b.Confirm}, err
	}))
	r.Post("/v1/collections/{item}/public", commands.Serve(h.MakeCollectionPublic, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (MakeCollectionPublic, error) {
		id, err := item(r)
		return MakeCollectionPublic{Meta: m, Item: id}, err
	}))
	r.Put("/v1/collections/{item}/shares/{user}", commands.Serve(h.ShareCollection, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ShareCollection, error) {
		set, err := decodeRights(w, r)
		if err != nil {
			return ShareCollection{}, err
		}
		id, errI := item(r)
		u, errU := subuser(r)
		return ShareCollection{Meta: m, Item: id, Subuser: u, Rights: set}, errors.Join(errI, errU)
	}))
	r.Delete("/v1/collections/{item}/shares/{user}", commands.Serve(h.UnshareCollection, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (UnshareCollection, error) {
		id, errI := item(r)
		u, errU := subuser(r)
		return UnshareCollection{Meta: m, Item: id, Subuser: u}, errors.Join(errI, errU)
	}))
	r.Patch("/v1/collections/{item}", commands.Serve(h.RenameCollection, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (RenameCollection, error) {
		var b struct {
			Name string `json:"name"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return RenameCollection{}, err
		}
		id, err := item(r)
		return RenameCollection{Meta: m, Item: id, Name: b.Name}, err
	}))
	r.Delete("/v1/collections/{item}", commands.Serve(h.DeleteCollection, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (DeleteCollection, error) {
		id, err := item(r)
		return DeleteCollection{Meta: m, Item: id}, err
	}))
	r.Post("/v1/collections/{item}/members", commands.Serve(h.AddCollectionMember, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (AddCollectionMember, error) {
		var b struct {
			Member string `json:"member"`
			Kind   string `json:"kind"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return AddCollectionMember{}, err
		}
		kind, err := rights.ParseMemberKind(b.Kind)
		if err != nil {
			return AddCollectionMember{}, err
		}
		member, errM := rights.ParseMember(kind, b.Member)
		id, errI := item(r)
		return AddCollectionMember{Meta: m, Item: id, Member: member, Kind: kind}, errors.Join(errM, errI)
	}))
	r.Delete("/v1/collections/{item}/members/{member}", commands.Serve(h.RemoveCollectionMember, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (RemoveCollectionMember, error) {
		member, errM := rights.ParseAnyMember(chi.URLParam(r, "member"))
		id, errI := item(r)
		return RemoveCollectionMember{Meta: m, Item: id, Member: member}, errors.Join(errM, errI)
	}))
	r.Delete("/v1/roles/{role}", commands.Serve(h.DeleteRole, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (DeleteRole, error) {
		return DeleteRole{Meta: m, Name: chi.URLParam(r, "role")}, nil
	}))
	r.Delete("/v1/hierarchy/nodes/{node}", commands.Serve(h.DeleteHierarchyNode, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (DeleteHierarchyNode, error) {
		node, err := rights.ParseItemID("node", chi.URLParam(r, "node"))
		return DeleteHierarchyNode{Meta: m, Node: node}, err
	}))
	r.Put("/v1/members/{member}/shares/{user}", commands.Serve(h.ShareMember, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ShareMember, error) {
		var b struct {
			Kind   string `json:"kind"`
			Member string `json:"member"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return ShareMember{}, err
		}
		kind, err := rights.ParseMemberKind(b.Kind)
		if err != nil {
			return ShareMember{}, err
		}
		level, errL := rights.ParseLevel(b.Member)
		member, errM := rights.ParseMember(kind, chi.URLParam(r, "member"))
		u, errU := subuser(r)
		return ShareMember{Meta: m, Member: member, Kind: kind, Subuser: u, Level: level}, errors.Join(errL, errM, errU)
	}))
	r.Delete("/v1/members/{member}/shares/{user}", commands.Serve(h.UnshareMember, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (UnshareMember, error) {
		member, errM := rights.ParseAnyMember(chi.URLParam(r, "member"))
		u, errU := subuser(r)
		return UnshareMember{Meta: m, Member: member, Subuser: u}, errors.Join(errM, errU)
	}))
	r.Post("/v1/hierarchy/nodes", commands.Serve(h.AddHierarchyNode, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (AddHierarchyNode, error) {
		var b struct {
			ID     string `json:"id"`
			Parent string `json:"parent"`
			Name   string `json:"name"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return AddHierarchyNode{}, err
		}
		if b.ID == "" {
			b.ID = commands.NewID(m.CommandID, "node")
		}
		id, errI := rights.ParseItemID("id", b.ID)
		parent, errP := optionalNode("parent", b.Parent)
		return AddHierarchyNode{Meta: m, ID: id, Parent: parent, Name: b.Name}, errors.Join(errI, errP)
	}))
	r.Post("/v1/hierarchy/nodes/{node}/move", commands.Serve(h.MoveHierarchyNode, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (MoveHierarchyNode, error) {
		var b struct {
			Parent string `json:"parent"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return MoveHierarchyNode{}, err
		}
		node, errN := rights.ParseItemID("node", chi.URLParam(r, "node"))
		parent, errP := rights.ParseItemID("parent", b.Parent)
		return MoveHierarchyNode{Meta: m, Node: node, Parent: parent}, errors.Join(errN, errP)
	}))
	r.Put("/v1/hierarchy/placements/{member}", commands.Serve(h.PlaceOnHierarchy, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (PlaceOnHierarchy, error) {
		var b struct {
			Node string `json:"node"`
			Kind string `json:"kind"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return PlaceOnHierarchy{}, err
		}
		kind, err := rights.ParseMemberKind(b.Kind)
		if err != nil {
			return PlaceOnHierarchy{}, err
		}
		member, errM := rights.ParseMember(kind, chi.URLParam(r, "member"))
		node, errN := optionalNode("node", b.Node)
		return PlaceOnHierarchy{Meta: m, Member: member, Kind: kind, Node: node}, errors.Join(errM, errN)
	}))
	h.Bulk.Routes(r, now)
}

// optionalNode reads a node id that may be left out (no parent: the root;
// no node: not placed).
func optionalNode(field, s string) (rights.ItemID, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return rights.ParseItemID(field, s)
}
