package readapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
)

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
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	if narrow, err := narrowMembers(ctx, q, v, caller.Account, user, kind, page); narrow != nil || err != nil {
		return narrow, err
	}
	levels := map[rights.MemberID]rights.Level{}
	var evalErr error
	members, next, err := q.Members(ctx, caller.Account, page, func(m *rightsmodel.Member) bool {
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
	if err = errors.Join(err, evalErr, v.Err()); err != nil {
		return nil, err
	}
	out := Page[VisibleMember]{Items: []VisibleMember{}, Next: next}
	for _, m := range members {
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
	v := rightsmodel.Query{R: tx}.Account(ctx, caller.Account)
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
		return nil, &httpapi.BadRequest{Code: "invalid-check", Err: errors.New("name exactly one of item= or member=")}
	}
	if err != nil {
		return nil, err
	}
	if v.Err() != nil {
		return nil, v.Err()
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
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	mine, err := rights.OnItem(v, caller.User, item)
	if err != nil {
		return nil, err
	}
	if mine.Rights.Item == rights.None {
		return nil, errNotFound.Withf("no item %s is visible to %s", item, caller.User)
	}
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	users, next, err := q.Users(ctx, caller.Account, page, nil)
	if err != nil {
		return nil, err
	}
	out := Page[GridRow]{Items: []GridRow{}, Next: next}
	for _, u := range users {
		g, err := rights.OnItem(v, u.ID, item)
		if err != nil {
			return nil, err
		}
		if g.Sources == nil {
			g.Sources = []rights.Source{}
		}
		out.Items = append(out.Items, GridRow{User: u.ID, Name: u.Name, Rights: g.Rights, Sources: g.Sources})
	}
	return out, v.Err()
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
		page, err := pageOf(r, "")
		if err != nil {
			return nil, err
		}
		q := rightsmodel.Query{R: tx}
		v := q.Account(ctx, caller.Account)
		var evalErr error
		items, next, err := q.Items(ctx, caller.Account, page, func(it *rightsmodel.Item) bool {
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
		if err = errors.Join(err, evalErr, v.Err()); err != nil {
			return nil, err
		}
		out := Page[VisibleItem]{Items: []VisibleItem{}, Next: next}
		for _, it := range items {
			g, err := rights.OnItem(v, user, it.ID)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, VisibleItem{ID: it.ID, Kind: it.Kind, Name: it.Name, Public: it.Public, Rights: g.Rights})
		}
		return out, v.Err()
	}
}

// subusers lists the subusers the caller may see: all of them for an
// administrator, otherwise those placed on the caller's node or below it,
// or on no node; search filters by name or e-mail.
func (a *API) subusers(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	search := strings.ToLower(r.URL.Query().Get("search"))
	q := rightsmodel.Query{R: tx}
	v := q.Account(ctx, caller.Account)
	users, next, err := q.Users(ctx, caller.Account, page, func(u *rightsmodel.User) bool {
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
	out := Page[row]{Items: []row{}, Next: next}
	for _, u := range users {
		out.Items = append(out.Items, row{User: u.ID, Name: u.Name, Node: u.Node})
	}
	return out, v.Err()
}

// narrowMembers answers the members list for a user whose member rights
// come only from particular collections (rights.MembersOnlyThroughCollections):
// the candidates are the members of those collections (the private shares
// and the collections the user created), not every member of the account;
// each is then evaluated as any other. It returns nil for the other users.
func narrowMembers(ctx context.Context, q rightsmodel.Query, v *rightsmodel.View, acc domain.AccountID, user domain.UserID, kind rights.MemberKind, page projections.Page) (*Page[VisibleMember], error) {
	if !rights.MembersOnlyThroughCollections(v, user) {
		return nil, v.Err()
	}
	candidates := map[rights.MemberID]bool{}
	var scanErr error
	_, _, err := q.Items(ctx, acc, projections.Page{}, func(it *rightsmodel.Item) bool {
		if scanErr != nil {
			return false
		}
		if it.Creator != user {
			if r, ok := v.Share(it.ID, user); !ok || r.Member == rights.None {
				return false
			}
		}
		members, err := q.MembersOf(ctx, acc, it.ID)
		for _, m := range members {
			candidates[m] = true
		}
		scanErr = err
		return false
	})
	if err = errors.Join(err, scanErr); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(candidates))
	for id := range candidates {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	out := &Page[VisibleMember]{Items: []VisibleMember{}}
	for _, id := range ids {
		if page.After != "" && id <= page.After {
			continue
		}
		m, found, err := q.Member(ctx, acc, rights.MemberID(id))
		if err != nil {
			return nil, err
		}
		if !found || (kind != "" && m.Kind != kind) {
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
	return out, v.Err()
}
