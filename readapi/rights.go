package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/problem"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
)

// accountView is rights.Account over one read-model snapshot of one
// account. The interface has no errors; the first one is kept and
// reported after the evaluation.
type accountView struct {
	ctx context.Context
	tx  projections.Reader
	acc string
	err error
}

func (v *accountView) get(table, key string, out any) bool {
	found, err := v.tx.Get(v.ctx, table, key, out)
	if err != nil && v.err == nil {
		v.err = err
	}
	return found
}

func (v *accountView) Subuser(id domain.UserID) (rights.Subuser, bool) {
	var u rightsmodel.User
	ok := v.get(rightsmodel.Users, rightsmodel.Key(v.acc, string(id)), &u)
	return u.Subuser, ok
}

func (v *accountView) RoleRights(role string, k rights.Kind) rights.Rights {
	var r map[rights.Kind]rights.Rights
	v.get(rightsmodel.Roles, rightsmodel.Key(v.acc, role), &r)
	return r[k]
}

func (v *accountView) Item(id rights.ItemID) (rights.Item, bool) {
	var it rightsmodel.Item
	ok := v.get(rightsmodel.Items, rightsmodel.Key(v.acc, string(id)), &it)
	return it.Item, ok
}

func (v *accountView) Share(item rights.ItemID, u domain.UserID) (rights.Rights, bool) {
	var r rights.Rights
	ok := v.get(rightsmodel.Shares, rightsmodel.Key(v.acc, string(item), string(u)), &r)
	return r, ok
}

func (v *accountView) CollectionsOf(m rights.MemberID) []rights.ItemID {
	prefix := rightsmodel.Key(v.acc, string(m)) + "/"
	var out []rights.ItemID
	err := v.tx.Scan(v.ctx, rightsmodel.In, projections.Page{Prefix: prefix}, func(k string, doc []byte) error {
		id, err := projections.SetMember(k, prefix, doc)
		out = append(out, rights.ItemID(id))
		return err
	})
	if err != nil && v.err == nil {
		v.err = err
	}
	return out
}

func (v *accountView) Placement(m rights.MemberID) rights.ItemID {
	var n rights.ItemID
	v.get(rightsmodel.Placed, rightsmodel.Key(v.acc, string(m)), &n)
	return n
}

func (v *accountView) Parent(n rights.ItemID) rights.ItemID {
	var p rights.ItemID
	v.get(rightsmodel.Parents, rightsmodel.Key(v.acc, string(n)), &p)
	return p
}

// Check is the answer to "may user U act at level L on object O?".
type Check struct {
	User    domain.UserID   `json:"user"`
	Object  string          `json:"object"`
	Kind    string          `json:"kind"` // item or member
	Level   string          `json:"level,omitempty"`
	Allowed bool            `json:"allowed"`
	Rights  rights.Rights   `json:"rights"`
	Sources []rights.Source `json:"sources"`
}

// GridRow is one subuser on an item's User Permissions tab.
type GridRow struct {
	User    domain.UserID   `json:"user"`
	Name    string          `json:"name"`
	Rights  rights.Rights   `json:"rights"`
	Sources []rights.Source `json:"sources"`
}

// VisibleItem is an item a user can see, with their rights.
type VisibleItem struct {
	ID     rights.ItemID `json:"id"`
	Kind   rights.Kind   `json:"kind"`
	Name   string        `json:"name"`
	Public bool          `json:"public"`
	Rights rights.Rights `json:"rights"`
}

var errNotYours = &domain.Error{Kind: domain.Forbidden, Code: "not-administrator", Message: "only administrators may ask about other subusers"}

// subject is the user a rights query is about: the caller, or another
// subuser when the caller administers the account.
func subject(r *http.Request, caller directory.User) (domain.UserID, error) {
	raw := r.URL.Query().Get("user")
	if raw == "" {
		return caller.User, nil
	}
	u, err := domain.ParseUser(raw)
	if err != nil {
		return "", err
	}
	if u != caller.User && caller.Role != "administrator" {
		return "", errNotYours
	}
	return u, nil
}

// RightsRoutes mounts the rights queries.
func (a *API) RightsRoutes(r chi.Router) {
	needs := []string{rightsmodel.Name}
	r.Get("/v1/rights/check", a.serve(needs, a.check))
	r.Get("/v1/rights/items", a.serve(needs, a.listItems))
	r.Get("/v1/rights/items/{item}/grid", a.serve(needs, a.grid))
	r.Get("/v1/subusers", a.serve(needs, a.subusers))
	r.Get("/v1/rights/members", a.serve(needs, a.visibleMembers))
}

// VisibleMember is a vehicle, driver or marker a user can see.
type VisibleMember struct {
	ID     rights.MemberID   `json:"id"`
	Kind   rights.MemberKind `json:"kind"`
	Member rights.Level      `json:"member"`
}

// visibleMembers lists the vehicles, drivers or markers a user can see,
// with their member rights, scanning the account's members in key order
// until the page is full.
func (a *API) visibleMembers(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	user, err := subject(r, caller)
	if err != nil {
		return nil, err
	}
	var kind rights.MemberKind
	if k := r.URL.Query().Get("kind"); k != "" {
		if kind, err = rights.ParseMemberKind(k); err != nil {
			return nil, err
		}
	}
	page, err := pageOf(r, string(caller.Account)+"/")
	if err != nil {
		return nil, err
	}
	v := &accountView{ctx: ctx, tx: tx, acc: string(caller.Account)}
	if narrow, err := a.narrowMembers(ctx, tx, v, user, kind, page); narrow != nil || err != nil {
		return narrow, err
	}
	levels := map[rights.MemberID]rights.Level{}
	var evalErr error
	members, err := list(ctx, tx, rightsmodel.Known, page, func(m *rightsmodel.Member) bool {
		if (kind != "" && m.Kind != kind) || m.Kind == rights.User {
			return false
		}
		g, err := rights.OnMember(v, user, m.ID)
		if err != nil {
			evalErr = err
			return false
		}
		levels[m.ID] = g.Rights.Member
		return g.Rights.Member != rights.None
	})
	if err = errors.Join(err, evalErr, v.err); err != nil {
		return nil, err
	}
	out := Page[VisibleMember]{Items: []VisibleMember{}, Next: members.Next}
	for _, m := range members.Items {
		out.Items = append(out.Items, VisibleMember{ID: m.ID, Kind: m.Kind, Member: levels[m.ID]})
	}
	return out, nil
}

func (a *API) check(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	user, err := subject(r, caller)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	v := &accountView{ctx: ctx, tx: tx, acc: string(caller.Account)}
	out := Check{User: user, Level: q.Get("level")}
	var g rights.Grant
	switch {
	case q.Get("item") != "" && q.Get("member") == "":
		out.Object, out.Kind = q.Get("item"), "item"
		g, err = rights.OnItem(v, user, rights.ItemID(out.Object))
	case q.Get("member") != "" && q.Get("item") == "":
		out.Object, out.Kind = q.Get("member"), "member"
		g, err = rights.OnMember(v, user, rights.MemberID(out.Object))
	default:
		return nil, &problem.BadRequest{Code: "invalid-check", Err: errors.New("name exactly one of item= or member=")}
	}
	if err != nil {
		return nil, err
	}
	if v.err != nil {
		return nil, v.err
	}
	out.Rights, out.Sources = g.Rights, g.Sources
	if out.Sources == nil {
		out.Sources = []rights.Source{}
	}
	level := rights.View
	if out.Level != "" {
		if level, err = rights.ParseLevel(out.Level); err != nil {
			return nil, err
		}
	}
	granted := g.Rights.Item
	if out.Kind == "member" {
		granted = g.Rights.Member
	}
	out.Allowed = granted.AtLeast(level) && level != rights.None
	return out, nil
}

func (a *API) grid(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	item := rights.ItemID(chi.URLParam(r, "item"))
	v := &accountView{ctx: ctx, tx: tx, acc: string(caller.Account)}
	mine, err := rights.OnItem(v, caller.User, item)
	if err != nil {
		return nil, err
	}
	if mine.Rights.Item == rights.None {
		return nil, errNotFound.Withf("no item %s is visible to %s", item, caller.User)
	}
	page, err := pageOf(r, string(caller.Account)+"/")
	if err != nil {
		return nil, err
	}
	users, err := list[rightsmodel.User](ctx, tx, rightsmodel.Users, page, nil)
	if err != nil {
		return nil, err
	}
	out := Page[GridRow]{Items: []GridRow{}, Next: users.Next}
	for _, u := range users.Items {
		g, err := rights.OnItem(v, u.ID, item)
		if err != nil {
			return nil, err
		}
		if g.Sources == nil {
			g.Sources = []rights.Source{}
		}
		out.Items = append(out.Items, GridRow{User: u.ID, Name: u.Name, Rights: g.Rights, Sources: g.Sources})
	}
	return out, v.err
}

// listItems lists the items of a kind a user can see, with their rights;
// it scans the account's items in key order until the page is full.
func (a *API) listItems(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	{
		user, err := subject(r, caller)
		if err != nil {
			return nil, err
		}
		var kind rights.Kind
		if k := r.URL.Query().Get("kind"); k != "" {
			if kind, err = rights.ParseKind(k); err != nil {
				return nil, err
			}
		}
		page, err := pageOf(r, string(caller.Account)+"/")
		if err != nil {
			return nil, err
		}
		v := &accountView{ctx: ctx, tx: tx, acc: string(caller.Account)}
		var evalErr error
		items, err := list(ctx, tx, rightsmodel.Items, page, func(it *rightsmodel.Item) bool {
			if kind != "" && it.Kind != kind {
				return false
			}
			g, err := rights.OnItem(v, user, it.ID)
			if err != nil {
				evalErr = err
				return false
			}
			it.Public = it.Public && it.Node == "" // report the implied hierarchy items as not "public"
			return g.Rights.Item != rights.None || g.Rights.Member != rights.None
		})
		if err = errors.Join(err, evalErr, v.err); err != nil {
			return nil, err
		}
		out := Page[VisibleItem]{Items: []VisibleItem{}, Next: items.Next}
		for _, it := range items.Items {
			g, err := rights.OnItem(v, user, it.ID)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, VisibleItem{ID: it.ID, Kind: it.Kind, Name: it.Name, Public: it.Public, Rights: g.Rights})
		}
		return out, v.err
	}
}

// subusers lists the subusers the caller may see: all of them for an
// administrator, otherwise those placed on the caller's node or below it,
// or on no node; search filters by name or e-mail.
func (a *API) subusers(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, string(caller.Account)+"/")
	if err != nil {
		return nil, err
	}
	search := strings.ToLower(r.URL.Query().Get("search"))
	v := &accountView{ctx: ctx, tx: tx, acc: string(caller.Account)}
	users, err := list(ctx, tx, rightsmodel.Users, page, func(u *rightsmodel.User) bool {
		if search != "" && !strings.Contains(strings.ToLower(u.Name), search) && !strings.Contains(string(u.ID), search) {
			return false
		}
		if u.ID == caller.User || caller.Role == "administrator" {
			return true
		}
		g, err := rights.OnMember(v, caller.User, rights.MemberID(u.ID))
		return err == nil && g.Rights.Member != rights.None
	})
	if err != nil {
		return nil, err
	}
	type row struct {
		User domain.UserID `json:"user"`
		Name string        `json:"name"`
		Node rights.ItemID `json:"node,omitempty"`
	}
	out := Page[row]{Items: []row{}, Next: users.Next}
	for _, u := range users.Items {
		out.Items = append(out.Items, row{User: u.ID, Name: u.Name, Node: u.Node})
	}
	return out, v.err
}

// narrowMembers answers the members list for a user whose member rights
// come only from particular collections (rights.MembersOnlyThroughCollections):
// the candidates are the members of those collections, not every member
// of the account. It returns nil for the other users.
func (a *API) narrowMembers(ctx context.Context, tx projections.Reader, v *accountView, user domain.UserID, kind rights.MemberKind, page projections.Page) (*Page[VisibleMember], error) {
	if !rights.MembersOnlyThroughCollections(v, user) {
		return nil, v.err
	}
	// Private shares and the collections the user created.
	candidates := map[rights.MemberID]bool{}
	prefix := rightsmodel.Key(v.acc) + "/"
	err := tx.Scan(ctx, rightsmodel.Items, projections.Page{Prefix: prefix}, func(_ string, doc []byte) error {
		var it rightsmodel.Item
		if err := json.Unmarshal(doc, &it); err != nil {
			return err
		}
		if it.Creator != user {
			if r, ok := v.Share(it.ID, user); !ok || r.Member == rights.None {
				return nil
			}
		}
		mp := rightsmodel.Key(v.acc, string(it.ID)) + "/"
		return tx.Scan(ctx, rightsmodel.Members, projections.Page{Prefix: mp}, func(k string, doc []byte) error {
			id, err := projections.SetMember(k, mp, doc)
			candidates[rights.MemberID(id)] = true
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(candidates))
	for id := range candidates {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	after := strings.TrimPrefix(page.After, page.Prefix)
	out := &Page[VisibleMember]{Items: []VisibleMember{}}
	for _, id := range ids {
		if page.After != "" && id <= after {
			continue
		}
		var m rightsmodel.Member
		if !v.get(rightsmodel.Known, rightsmodel.Key(v.acc, id), &m) || (kind != "" && m.Kind != kind) {
			continue
		}
		g, err := rights.OnMember(v, user, m.ID)
		if err != nil {
			return nil, err
		}
		if g.Rights.Member == rights.None {
			continue
		}
		if page.Limit > 0 && len(out.Items) == page.Limit {
			out.Next = string(out.Items[len(out.Items)-1].ID)
			break
		}
		out.Items = append(out.Items, VisibleMember{ID: m.ID, Kind: m.Kind, Member: g.Rights.Member})
	}
	return out, v.err
}
