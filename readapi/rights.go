package readapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
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
func subject(raw string, caller directory.User) (domain.UserID, error) {
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
	a.screenRoutes(r)
	r.Get("/v1/rights/check", a.serve(needs, a.check))
	r.Post("/v1/rights/checks", a.batchCheck)
	r.Post("/v1/rights/what-if", a.whatIf)
	r.Get("/v1/rights/members/{member}/grid", a.serve(needs, a.memberGrid))
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

// memberKind is the kind= filter of a list of members ("" for all).
func memberKind(r *http.Request) (rights.MemberKind, error) {
	k := r.URL.Query().Get("kind")
	if k == "" {
		return "", nil
	}
	return rights.ParseMemberKind(k)
}

// visibleMembers lists the vehicles, drivers or markers a user can see,
// with their member rights, scanning the account's members in key order
// until the page is full.
func (a *API) visibleMembers(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	user, err := subject(r.URL.Query().Get("user"), caller)
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
	if narrow, err := narrowMembers(ctx, q, v, caller.Account, user, kind, page); narrow != nil || err != nil {
		return narrow, err
	}
	levels := map[rights.MemberID]rights.Level{}
	var evalErr error
	ahead := func(rows []rightsmodel.Member) {
		kept := make([]rightsmodel.Member, 0, len(rows))
		for _, m := range rows {
			if (kind == "" || m.Kind == kind) && m.Kind != rights.User {
				kept = append(kept, m)
			}
		}
		v.AheadMembers(user, kept)
	}
	members, next, err := q.MembersAhead(ctx, caller.Account, kind, page, ahead, func(m *rightsmodel.Member) bool {
		if m.Kind == rights.User {
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
	raw := r.URL.Query().Get("user")
	user, err := subject(raw, caller)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	v := rightsmodel.Query{R: tx}.Account(ctx, caller.Account)
	return checkAlone(v, CheckRequest{User: user, Item: q.Get("item"), Member: q.Get("member"), Level: q.Get("level")})
}

// checkAlone answers a question asked alone: what it reads, read at once
// first (on PostgreSQL about three round trips, not one a document; see
// rightsmodel.View.AheadChecks), then the question.
func checkAlone(v *rightsmodel.View, c CheckRequest) (Check, error) {
	v.AheadChecks([]rightsmodel.Check{{User: c.User, Item: rights.ItemID(c.Item), Member: rights.MemberID(c.Member)}})
	return checkOne(v, c)
}

// CheckRequest is one question of a batch check: may User act at Level
// (default view) on the item or the member (name exactly one)?
type CheckRequest struct {
	User   domain.UserID `json:"user"`
	Item   string        `json:"item,omitempty"`
	Member string        `json:"member,omitempty"`
	Level  string        `json:"level,omitempty"`
}

// checkOne answers one question from the account's rights tables.
func checkOne(v *rightsmodel.View, c CheckRequest) (Check, error) {
	out := Check{User: c.User, Level: c.Level}
	var g rights.Grant
	var err error
	switch {
	case c.Item != "" && c.Member == "":
		out.Object, out.Kind = c.Item, "item"
		g, err = rights.OnItem(v, c.User, rights.ItemID(out.Object))
	case c.Member != "" && c.Item == "":
		out.Object, out.Kind = c.Member, "member"
		g, err = rights.OnMember(v, c.User, rights.MemberID(out.Object))
	default:
		return out, &httpapi.BadRequest{Code: "invalid-check", Err: errors.New("name exactly one of item or member")}
	}
	if err != nil {
		return out, err
	}
	if v.Err() != nil {
		return out, v.Err()
	}
	out.Rights, out.Sources = g.Rights, g.Sources
	if out.Sources == nil {
		out.Sources = []rights.Source{}
	}
	level := rights.View
	if out.Level != "" {
		if level, err = rights.ParseLevel(out.Level); err != nil {
			return out, err
		}
	}
	granted := g.Rights.Item
	if out.Kind == "member" {
		granted = g.Rights.Member
	}
	out.Allowed = granted.AtLeast(level) && level != rights.None
	return out, nil
}

// MaxChecks bounds a batch check.
const MaxChecks = 500

// BatchCheck asks many questions at once, for a screen that marks each
// row: the answers come in the order of the questions.
type BatchCheck struct {
	Checks []CheckRequest `json:"checks"`
}

// BatchAnswer answers a batch check.
type BatchAnswer struct {
	Results []Check `json:"results"`
}

// batchCheck decodes the questions before it waits for the read models,
// then answers them all from one snapshot. Asking about other subusers
// needs an administrator, as for one check.
func (a *API) batchCheck(w http.ResponseWriter, r *http.Request) {
	var b BatchCheck
	if err := httpapi.Decode(w, r, &b); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	if len(b.Checks) == 0 || len(b.Checks) > MaxChecks {
		httpapi.WriteProblem(w, r, &httpapi.BadRequest{Code: "invalid-check", Err: fmt.Errorf("a batch holds 1 to %d checks", MaxChecks)})
		return
	}
	a.serve([]string{rightsmodel.Name}, func(ctx context.Context, _ *http.Request, tx projections.Reader, caller directory.User) (any, error) {
		v := rightsmodel.Query{R: tx}.Account(ctx, caller.Account)
		out := BatchAnswer{Results: make([]Check, 0, len(b.Checks))}
		ahead := make([]rightsmodel.Check, 0, len(b.Checks))
		for i := range b.Checks {
			user, err := subject(string(b.Checks[i].User), caller)
			if err != nil {
				return nil, fmt.Errorf("check %d: %w", i, err)
			}
			b.Checks[i].User = user
			ahead = append(ahead, rightsmodel.Check{User: user, Item: rights.ItemID(b.Checks[i].Item), Member: rights.MemberID(b.Checks[i].Member)})
		}
		v.AheadChecks(ahead) // every question's reads at once
		for i, c := range b.Checks {
			answer, err := checkOne(v, c)
			if err != nil {
				return nil, fmt.Errorf("check %d: %w", i, err)
			}
			out.Results = append(out.Results, answer)
		}
		return out, nil
	})(w, r)
}

func (a *API) grid(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	item := rights.ItemID(chi.URLParam(r, "item"))
	v := rightsmodel.Query{R: tx}.Account(ctx, caller.Account)
	v.AheadChecks([]rightsmodel.Check{{User: caller.User, Item: item}})
	mine, err := rights.OnItem(v, caller.User, item)
	if err != nil {
		return nil, err
	}
	if mine.Rights.Item == rights.None {
		return nil, errNotFound.Withf("no item %s is visible to %s", item, caller.User)
	}
	out, err := whoCan(ctx, r, tx, caller, func(least rights.Level) rights.Reach { return rights.ReachOnItem(v, item, least) },
		v.UsersOn([]rights.ItemID{item}, ""),
		func(us []rightsmodel.User) { v.AheadUsers(us, []rights.ItemID{item}, "") }, func(u domain.UserID) (rights.Grant, rights.Level, error) {
			g, err := rights.OnItem(v, u, item)
			return g, g.Rights.Item, err
		})
	return out, errors.Join(err, v.Err())
}

// memberGrid answers who can see (or, with level, edit) a vehicle, driver,
// marker or placed user, and why: every subuser with their member rights
// and sources. Only a caller who can see the member asks.
func (a *API) memberGrid(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	member := rights.MemberID(chi.URLParam(r, "member"))
	v := rightsmodel.Query{R: tx}.Account(ctx, caller.Account)
	v.AheadChecks([]rightsmodel.Check{{User: caller.User, Member: member, Reach: true}})
	mine, err := rights.OnMember(v, caller.User, member)
	if err != nil {
		return nil, err
	}
	if mine.Rights.Member == rights.None {
		return nil, errNotFound.Withf("no member %s is visible to %s", member, caller.User)
	}
	collections := v.CollectionsOf(member)
	out, err := whoCan(ctx, r, tx, caller, func(least rights.Level) rights.Reach { return rights.ReachOnMember(v, member, least) },
		v.UsersOn(collections, member),
		func(us []rightsmodel.User) { v.AheadUsers(us, collections, member) }, func(u domain.UserID) (rights.Grant, rights.Level, error) {
			g, err := rights.OnMember(v, u, member)
			return g, g.Rights.Member, err
		})
	return out, errors.Join(err, v.Err())
}

// whoCan is a page of the account's subusers with their rights on one
// object and the sources of them; with level=, only those holding at
// least that level, read from the indexes of who holds what (the reach
// of that level): the candidates, not every subuser. (A model not yet
// rebuilt since the indexes came reads every subuser; a page may then
// hold fewer rows than its limit, and next goes on.) The candidates are
// read with readUsers (rightsmodel.Query.ReadUsers), with what their
// rights read besides.
func whoCan(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User, reach func(rights.Level) rights.Reach, readUsers func([]string) ([]rightsmodel.User, error), ahead func([]rightsmodel.User), on func(domain.UserID) (rights.Grant, rights.Level, error)) (any, error) {
	var least rights.Level
	if raw := r.URL.Query().Get("level"); raw != "" {
		var err error
		if least, err = rights.ParseLevel(raw); err != nil {
			return nil, &httpapi.BadRequest{Code: "invalid-level", Err: errors.New(err.Error())} // a query parameter: 400, not the rule's 422
		}
	}
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	grants := map[domain.UserID]rights.Grant{}
	var evalErr error
	keep := func(u *rightsmodel.User) bool {
		g, level, err := on(u.ID)
		if err != nil {
			evalErr = err
			return false
		}
		grants[u.ID] = g
		return least == rights.None || level.AtLeast(least)
	}
	q := rightsmodel.Query{R: tx}
	var users []rightsmodel.User
	var next string
	indexed := false
	if least != rights.None {
		rq := q
		rq.ReadUsers = readUsers
		users, next, indexed, err = pageOfUsers(page, ahead, keep, func(each func([]rightsmodel.User) (bool, error)) (bool, error) {
			return rq.Reached(ctx, caller.Account, reach(least), page.After, each)
		})
	}
	if !indexed && err == nil {
		users, next, err = q.UsersAhead(ctx, caller.Account, page, ahead, keep)
	}
	if err = errors.Join(err, evalErr); err != nil {
		return nil, err
	}
	out := Page[GridRow]{Items: []GridRow{}, Next: next}
	for _, u := range users {
		g := grants[u.ID]
		if g.Sources == nil {
			g.Sources = []rights.Source{}
		}
		out.Items = append(out.Items, GridRow{User: u.ID, Name: u.Name, Rights: g.Rights, Sources: g.Sources})
	}
	return out, nil
}

// pageOfUsers is a page of the subusers that an index hands on (read:
// rightsmodel.Query.Reached, Search) and keep accepts, and the cursor of
// the next page (the key part of the page's last user, as a page of every
// user gives it); false if the model has no such index yet.
func pageOfUsers(page projections.Page, ahead func([]rightsmodel.User), keep func(*rightsmodel.User) bool, read func(each func([]rightsmodel.User) (bool, error)) (bool, error)) ([]rightsmodel.User, string, bool, error) {
	items := []rightsmodel.User{}
	var next string
	indexed, err := read(func(users []rightsmodel.User) (bool, error) {
		ahead(users)
		for i := range users {
			if !keep(&users[i]) {
				continue
			}
			if page.Limit > 0 && len(items) == page.Limit {
				next = projections.KeyPart(string(items[len(items)-1].ID))
				return true, nil
			}
			items = append(items, users[i])
		}
		return false, nil
	})
	return items, next, indexed, err
}

// listItems lists the items of a kind a user can see, with their rights;
// it scans the account's items in key order until the page is full.
func (a *API) listItems(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	{
		user, err := subject(r.URL.Query().Get("user"), caller)
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
		ahead := func(rows []rightsmodel.Item) {
			kept := rows[:0:0]
			for _, it := range rows {
				if kind == "" || it.Kind == kind {
					kept = append(kept, it)
				}
			}
			v.AheadItems(user, kept)
		}
		items, next, err := q.ItemsAhead(ctx, caller.Account, page, ahead, func(it *rightsmodel.Item) bool {
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
	matches := func(u *rightsmodel.User) bool {
		if search == "" {
			return true
		}
		for _, text := range rightsmodel.Searchable(u.Name, u.ID) {
			if strings.Contains(text, search) {
				return true
			}
		}
		return false
	}
	ahead := func(rows []rightsmodel.User) {
		if caller.Role == "administrator" {
			return
		}
		var ids []rights.MemberID
		for i := range rows {
			if matches(&rows[i]) {
				ids = append(ids, rights.MemberID(rows[i].ID))
			}
		}
		v.Knows(rows) // the rows are the members' documents as subusers
		v.Ahead(caller.User, ids)
	}
	keep := func(u *rightsmodel.User) bool {
		if !matches(u) {
			return false
		}
		if u.ID == caller.User || caller.Role == "administrator" {
			return true
		}
		g, err := rights.OnMember(v, caller.User, rights.MemberID(u.ID))
		return err == nil && g.Rights.Member != rights.None
	}
	var users []rightsmodel.User
	var next string
	indexed := false
	if rightsmodel.SearchIndexed(search) {
		// The holders of the search's rarest gram, not every subuser.
		// For a caller who is not an administrator, each chunk of them
		// is read with what their rights read first (View.UsersFor).
		sq := q
		if caller.Role != "administrator" {
			sq.ReadUsers = v.UsersFor(caller.User)
		}
		users, next, indexed, err = pageOfUsers(page, ahead, keep, func(each func([]rightsmodel.User) (bool, error)) (bool, error) {
			return sq.Search(ctx, caller.Account, search, page.After, each)
		})
	}
	if !indexed && err == nil {
		users, next, err = q.UsersSifted(ctx, caller.Account, page, sieve(search), ahead, keep)
	}
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

// sieve passes over a stored subuser whose text cannot hold the search: a
// document holds its name and address as typed, unless JSON escaped them
// (quotes, backslashes, <, >, &, control characters), so for a search
// with none of those, a document whose lowered text lacks it cannot match.
func sieve(search string) func([]byte) bool {
	if search == "" || strings.ContainsAny(search, "\"\\<>&") || strings.ContainsFunc(search, func(r rune) bool { return r < 0x20 || r == 0x2028 || r == 0x2029 }) {
		return nil
	}
	needle := []byte(search)
	return func(doc []byte) bool { return bytes.Contains(bytes.ToLower(doc), needle) }
}

// narrowMembers answers the members list for a user whose member rights
// come only from particular collections (rights.MembersOnlyThroughCollections):
// the candidates are the members of those collections (the private shares
// and the collections the user created) and the members shared with the
// user on their own, not every member of the account; each is then
// evaluated as any other. They are read merged, a chunk at a time
// (Query.MembersThrough), so that a page reads what it hands on, not every
// member of every collection the user holds. It returns nil for the other
// users.
func narrowMembers(ctx context.Context, q rightsmodel.Query, v *rightsmodel.View, acc domain.AccountID, user domain.UserID, kind rights.MemberKind, page projections.Page) (*Page[VisibleMember], error) {
	if !rights.MembersOnlyThroughCollections(v, user) {
		return nil, v.Err()
	}
	held, err := q.Held(ctx, acc, user) // indexed: not every item of the account
	if err != nil {
		return nil, err
	}
	// The user's shares of those they did not create, read at once: a
	// user may hold many.
	var shared []rights.ItemID
	for _, h := range held {
		if !h.Created {
			shared = append(shared, h.Item)
		}
	}
	v.AheadShares(user, shared)
	var items []rights.ItemID
	for _, h := range held {
		if !h.Created {
			if r, ok := v.Share(h.Item, user); !ok || r.Member == rights.None {
				continue
			}
		}
		items = append(items, h.Item)
	}
	out := &Page[VisibleMember]{Items: []VisibleMember{}}
	// The first chunk is the page and one more (if each is kept, the
	// page fills and tells there is a next); the others grow.
	first := 0
	if page.Limit > 0 {
		first = page.Limit + 1
	}
	err = q.MembersThrough(ctx, acc, items, user, page.After, first, func(ids []rights.MemberID) (bool, error) {
		// The chunk's rights read ahead at once, then each evaluated.
		v.Ahead(user, ids)
		for _, id := range ids {
			m, found := v.Member(id)
			if !found || (kind != "" && m.Kind != kind) {
				continue
			}
			g, err := rights.OnMember(v, user, m.ID)
			if err != nil {
				return true, err
			}
			if g.Rights.Member == rights.None {
				continue
			}
			if page.Limit > 0 && len(out.Items) == page.Limit {
				// The cursor is the last member's key part, as a
				// page of members gives it.
				out.Next = projections.KeyPart(string(out.Items[len(out.Items)-1].ID))
				return true, nil
			}
			out.Items = append(out.Items, VisibleMember{ID: m.ID, Kind: m.Kind, Member: g.Rights.Member})
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, v.Err()
}
