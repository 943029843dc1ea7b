package readapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
)

// What the rights screens draw: the Edit User dialog (one subuser), a
// collection's Details tab and its members, and the Hierarchy screen (the
// tree and what is placed on it, with its search). Every answer holds only
// what the caller's rights reach, as the rights evaluation says.
func (a *API) screenRoutes(r chi.Router) {
	needs := []string{rightsmodel.Name}
	r.Get("/v1/roles", a.serve(needs, a.roles))
	r.Get("/v1/roles/{role}", a.serve(needs, a.oneRole))
	r.Get("/v1/subusers/{user}", a.serve(needs, a.oneSubuser))
	r.Get("/v1/collections/{item}", a.serve(needs, a.oneCollection))
	r.Get("/v1/collections/{item}/members", a.serve(needs, a.collectionMembers))
	r.Get("/v1/hierarchy/nodes", a.serve(needs, a.hierarchyNodes))
	r.Get("/v1/hierarchy/placements", a.serve(needs, a.hierarchyPlacements))
}

// Subuser is one subuser as the Edit User dialog shows them.
type Subuser struct {
	User domain.UserID `json:"user"`
	Name string        `json:"name"`
	// AccountRole is administrator or user.
	AccountRole string                        `json:"accountRole"`
	Roles       []string                      `json:"roles"`
	Direct      map[rights.Kind]rights.Rights `json:"direct"`
	Node        rights.ItemID                 `json:"node,omitempty"`
}

// Collection is a fleet, team, category, report or hierarchy node as its
// Details tab shows it, with the caller's rights on it.
type Collection struct {
	ID      rights.ItemID `json:"id"`
	Kind    rights.Kind   `json:"kind"`
	Name    string        `json:"name"`
	Public  bool          `json:"public"`
	Creator domain.UserID `json:"creator,omitempty"`
	// Node is the hierarchy node a node's implied fleet or team stands for.
	Node   rights.ItemID `json:"node,omitempty"`
	Rights rights.Rights `json:"rights"`
}

// Node is a hierarchy node with its parent ("" at the root).
type Node struct {
	ID     rights.ItemID `json:"id"`
	Name   string        `json:"name"`
	Parent rights.ItemID `json:"parent,omitempty"`
	Rights rights.Rights `json:"rights"`
}

// Placement is a vehicle, driver or user placed on a node.
type Placement struct {
	Member rights.MemberID   `json:"member"`
	Kind   rights.MemberKind `json:"kind"`
	Node   rights.ItemID     `json:"node"`
}

// roles lists the account's roles with their rights: the administrators'
// Roles screen.
func (a *API) roles(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	if caller.Role != account.Administrator.String() {
		return nil, domain.ErrNotAdministrator.Withf("only administrators of %s read its roles", caller.Account)
	}
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	items, next, err := rightsmodel.Query{R: tx}.Roles(ctx, caller.Account, page)
	for i := range items {
		if items[i].Rights == nil {
			items[i].Rights = map[rights.Kind]rights.Rights{}
		}
	}
	return Page[rightsmodel.Role]{Items: items, Next: next}, err
}

func (a *API) oneRole(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	if caller.Role != account.Administrator.String() {
		return nil, domain.ErrNotAdministrator.Withf("only administrators of %s read its roles", caller.Account)
	}
	name := chi.URLParam(r, "role")
	role, found, err := rightsmodel.Query{R: tx}.Role(ctx, caller.Account, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound.Withf("account %s has no role %s", caller.Account, domain.Quote(name))
	}
	if role.Rights == nil {
		role.Rights = map[rights.Kind]rights.Rights{}
	}
	return role, nil
}

// oneSubuser answers the subusers that the list of subusers shows the
// caller: themself, anyone to an administrator, and the subusers the
// caller's hierarchy rights reach.
func (a *API) oneSubuser(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	id, err := domain.ParseUser(chi.URLParam(r, "user"))
	if err != nil {
		return nil, err
	}
	q := rightsmodel.Query{R: tx}
	u, found, err := q.User(ctx, caller.Account, id)
	if err != nil {
		return nil, err
	}
	if found && id != caller.User && caller.Role != account.Administrator.String() {
		v := q.Account(ctx, caller.Account)
		v.AheadChecks([]rightsmodel.Check{{User: caller.User, Member: rights.MemberID(id)}})
		g, err := rights.OnMember(v, caller.User, rights.MemberID(id))
		if err != nil {
			return nil, err
		}
		found = g.Rights.Member != rights.None
	}
	if !found {
		return nil, errNotFound.Withf("no subuser %s of account %s is visible to %s", id, caller.Account, caller.User)
	}
	out := Subuser{User: u.ID, Name: u.Name, AccountRole: account.User.String(), Roles: u.Roles, Direct: u.Direct, Node: u.Node}
	if u.Admin {
		out.AccountRole = account.Administrator.String()
	}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if out.Direct == nil {
		out.Direct = map[rights.Kind]rights.Rights{}
	}
	return out, nil
}

// visibleItem is an item the caller's item rights reach, with them.
func visibleItem(ctx context.Context, q rightsmodel.Query, v *rightsmodel.View, caller directory.User, id rights.ItemID) (rightsmodel.Item, rights.Grant, error) {
	it, found, err := q.Item(ctx, caller.Account, id)
	if err != nil {
		return it, rights.Grant{}, err
	}
	var g rights.Grant
	if found {
		v.AheadChecks([]rightsmodel.Check{{User: caller.User, Item: id}})
		if g, err = rights.OnItem(v, caller.User, id); err != nil {
			return it, g, err
		}
	}
	if !found || g.Rights.Item == rights.None {
		return it, g, errNotFound.Withf("no item %s is visible to %s", id, caller.User)
	}
	return it, g, v.Err()
}

func (a *API) oneCollection(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	it, g, err := visibleItem(ctx, q, v, caller, rights.ItemID(chi.URLParam(r, "item")))
	if err != nil {
		return nil, err
	}
	return Collection{ID: it.ID, Kind: it.Kind, Name: it.Name, Public: it.Public && it.Node == "", Creator: it.Creator, Node: it.Node, Rights: g.Rights}, nil
}

// collectionMembers lists a collection's members that the caller's member
// rights reach, with them, in key order.
func (a *API) collectionMembers(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	item := rights.ItemID(chi.URLParam(r, "item"))
	if _, _, err := visibleItem(ctx, q, v, caller, item); err != nil {
		return nil, err
	}
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	rows := map[rights.MemberID]VisibleMember{}
	var evalErr error
	ids, next, err := q.MembersPage(ctx, caller.Account, item, page, func(ids []rights.MemberID) { v.Ahead(caller.User, ids) }, func(id *rights.MemberID) bool {
		m, _, err := q.Member(ctx, caller.Account, *id)
		if err != nil {
			evalErr = err
			return false
		}
		g, err := rights.OnMember(v, caller.User, *id)
		if err != nil {
			evalErr = err
			return false
		}
		rows[*id] = VisibleMember{ID: *id, Kind: m.Kind, Member: g.Rights.Member}
		return g.Rights.Member != rights.None
	})
	if err = errors.Join(err, evalErr, v.Err()); err != nil {
		return nil, err
	}
	out := Page[VisibleMember]{Items: []VisibleMember{}, Next: next}
	for _, id := range ids {
		out.Items = append(out.Items, rows[id])
	}
	return out, nil
}

// maxSearch bounds a search: no id or name is longer.
const maxSearch = 256

// search is the Hierarchy screen's search: a case-insensitive part of an
// id or a name ("" matches everything).
func search(r *http.Request) (func(parts ...string) bool, error) {
	s := strings.ToLower(r.URL.Query().Get("search"))
	if len(s) > maxSearch {
		return nil, &httpapi.BadRequest{Code: "invalid-search", Err: fmt.Errorf("search must be at most %d bytes", maxSearch)}
	}
	return func(parts ...string) bool {
		for _, p := range parts {
			if strings.Contains(strings.ToLower(p), s) {
				return true
			}
		}
		return s == ""
	}, nil
}

// hierarchyNodes lists the nodes the caller sees (administrators: all;
// a user placed on a node: it and the nodes below it), with their
// parents, so that a client draws the tree.
func (a *API) hierarchyNodes(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	match, err := search(r)
	if err != nil {
		return nil, err
	}
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	grants := map[rights.ItemID]rights.Grant{}
	var evalErr error
	items, next, err := q.Items(ctx, caller.Account, page, func(it *rightsmodel.Item) bool {
		if it.Kind != rights.Node || !match(string(it.ID), it.Name) {
			return false
		}
		g, err := rights.OnItem(v, caller.User, it.ID)
		if err != nil {
			evalErr = err
			return false
		}
		grants[it.ID] = g
		return g.Rights.Item != rights.None
	})
	if err = errors.Join(err, evalErr); err != nil {
		return nil, err
	}
	out := Page[Node]{Items: []Node{}, Next: next}
	for _, it := range items {
		out.Items = append(out.Items, Node{ID: it.ID, Name: it.Name, Parent: v.Parent(it.ID), Rights: grants[it.ID].Rights})
	}
	return out, v.Err()
}

// hierarchyPlacements lists the vehicles, drivers and users placed on
// nodes that the caller sees, optionally of one kind and matching search.
func (a *API) hierarchyPlacements(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	match, err := search(r)
	if err != nil {
		return nil, err
	}
	kind, err := memberKind(r)
	if err != nil {
		return nil, err
	}
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	nodes := map[rights.MemberID]rights.ItemID{}
	var evalErr error
	ahead := func(rows []rightsmodel.Member) { v.AheadMembers(caller.User, rows) }
	members, next, err := q.MembersAhead(ctx, caller.Account, kind, page, ahead, func(m *rightsmodel.Member) bool {
		name := ""
		if m.Kind == rights.User {
			u, _, err := q.User(ctx, caller.Account, domain.UserID(m.ID))
			if err != nil {
				evalErr = err
				return false
			}
			name = u.Name // a user is found by name as well as by e-mail
		}
		if !match(string(m.ID), name) {
			return false
		}
		node := v.Placement(m.ID)
		if node == "" {
			return false
		}
		g, err := rights.OnMember(v, caller.User, m.ID)
		if err != nil {
			evalErr = err
			return false
		}
		nodes[m.ID] = node
		return g.Rights.Member != rights.None || m.ID == rights.MemberID(caller.User)
	})
	if err = errors.Join(err, evalErr); err != nil {
		return nil, err
	}
	out := Page[Placement]{Items: []Placement{}, Next: next}
	for _, m := range members {
		out.Items = append(out.Items, Placement{Member: m.ID, Kind: m.Kind, Node: nodes[m.ID]})
	}
	return out, v.Err()
}
