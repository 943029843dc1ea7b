package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/memory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
)

// WhatIf is a rights change to try without making it.
type WhatIf struct {
	// Change is make-private, make-public, share, unshare, move-node,
	// assign-role or unassign-role.
	Change string `json:"change"`
	Item   string `json:"item,omitempty"`
	User   string `json:"user,omitempty"`
	Role   string `json:"role,omitempty"`
	Node   string `json:"node,omitempty"`
	Parent string `json:"parent,omitempty"`
	// Rights are a share's (change share).
	Rights *struct {
		Item   string `json:"item"`
		Member string `json:"member"`
	} `json:"rights,omitempty"`
}

// Access is one subuser's rights on one object, before and after a change.
type Access struct {
	User   domain.UserID `json:"user"`
	Object string        `json:"object"`
	Kind   string        `json:"kind"` // item or member
	Before rights.Rights `json:"before"`
	After  rights.Rights `json:"after"`
}

// WhatIfAnswer says who would gain and who would lose access, and on
// what, had the change been made; nothing was appended.
type WhatIfAnswer struct {
	Gains  []Access `json:"gains"`
	Losses []Access `json:"losses"`
	// Objects counts the items and members the answer looked at.
	Objects int `json:"objects"`
}

// maxWhatIf bounds the evaluations one answer makes (subusers times the
// objects the change touches).
const maxWhatIf = 200000

// whatIf applies the change, as the event it would record, to an
// in-memory layer over one snapshot of the rights model, and compares every
// subuser's rights on what it touches (the item and its members; for the
// hierarchy, its nodes and what is placed on them; for a role, the public
// items of the kinds it names and their members, for its holder) before
// and after. Administrators ask.
func (a *API) whatIf(w http.ResponseWriter, r *http.Request) {
	var c WhatIf
	if err := httpapi.Decode(w, r, &c); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	a.serve([]string{rightsmodel.Name}, func(ctx context.Context, _ *http.Request, tx projections.Reader, caller directory.User) (any, error) {
		if caller.Role != account.Administrator.String() {
			return nil, domain.ErrNotAdministrator.Withf("only administrators of %s try rights changes", caller.Account)
		}
		q := rightsmodel.Query{R: tx}
		event, objects, users, err := hypothesis(ctx, q, caller, c)
		if err != nil {
			return nil, err
		}
		if len(users)*len(objects) > maxWhatIf {
			return nil, &httpapi.BadRequest{Code: "what-if-too-large", Err: fmt.Errorf("the change touches %d objects for %d subusers; at most %d evaluations answer at once", len(objects), len(users), maxWhatIf)}
		}
		before := q.Account(ctx, caller.Account)
		then := memory.New(readerBase{r: tx})
		err = then.Update(ctx, "what-if", func(t projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			return cp, rightsmodel.Projection{}.Apply(ctx, t, projections.Envelope{Event: event})
		})
		if err != nil {
			return nil, err
		}
		out := WhatIfAnswer{Gains: []Access{}, Losses: []Access{}, Objects: len(objects)}
		err = then.View(ctx, func(after projections.Reader) error {
			v := rightsmodel.Query{R: after}.Account(ctx, caller.Account)
			for _, u := range users {
				for _, o := range objects {
					was, err := o.on(before, u)
					if err != nil {
						return err
					}
					is, err := o.on(v, u)
					if err != nil {
						return err
					}
					// A change may raise one level and lower the other: the
					// row is then both a gain and a loss.
					row := Access{User: u, Object: o.id, Kind: o.kind, Before: was, After: is}
					if is.Max(was) != was {
						out.Gains = append(out.Gains, row)
					}
					if was.Max(is) != is {
						out.Losses = append(out.Losses, row)
					}
				}
			}
			return errors.Join(v.Err(), before.Err())
		})
		return out, err
	})(w, r)
}

// object is an item or a member a change touches.
type object struct {
	id, kind string
}

func (o object) on(v *rightsmodel.View, u domain.UserID) (rights.Rights, error) {
	var g rights.Grant
	var err error
	if o.kind == "item" {
		g, err = rights.OnItem(v, u, rights.ItemID(o.id))
	} else {
		g, err = rights.OnMember(v, u, rights.MemberID(o.id))
	}
	var de *domain.Error
	if errors.As(err, &de) && de.Kind == domain.NotFound {
		return rights.Rights{}, nil // an item the change deletes, a user gone
	}
	return g.Rights, err
}

// hypothesis turns a change into the event it would record, the objects
// it touches and the subusers to compare.
func hypothesis(ctx context.Context, q rightsmodel.Query, caller directory.User, c WhatIf) (domain.Event, []object, []domain.UserID, error) {
	acc := caller.Account
	var all []domain.UserID
	_, _, err := q.Users(ctx, acc, projections.Page{}, func(u *rightsmodel.User) bool {
		all = append(all, u.ID)
		return false
	})
	if err != nil {
		return nil, nil, nil, err
	}
	item := func() (rightsmodel.Item, []object, error) {
		it, found, err := q.Item(ctx, acc, rights.ItemID(c.Item))
		if err != nil || !found {
			return it, nil, errors.Join(err, errNotFound.Withf("account %s has no item %s", acc, domain.Quote(c.Item)))
		}
		objs := []object{{string(it.ID), "item"}}
		members, err := q.MembersOf(ctx, acc, it.ID)
		for _, m := range members {
			objs = append(objs, object{string(m), "member"})
		}
		return it, objs, err
	}
	user := func() (domain.UserID, error) {
		u, err := domain.ParseUser(c.User)
		if err != nil {
			return "", err
		}
		if _, found, err := q.User(ctx, acc, u); err != nil || !found {
			return "", errors.Join(err, errNotFound.Withf("account %s has no subuser %s", acc, u))
		}
		return u, nil
	}
	switch c.Change {
	case "make-private", "make-public":
		it, objs, err := item()
		if err != nil {
			return nil, nil, nil, err
		}
		p := rights.Privacy{Account: acc, Item: it.ID, By: caller.User}
		events := map[rights.Kind][2]domain.Event{
			rights.Fleet: {rights.FleetMadePrivate(p), rights.FleetMadePublic(p)}, rights.Team: {rights.TeamMadePrivate(p), rights.TeamMadePublic(p)},
			rights.Category: {rights.CategoryMadePrivate(p), rights.CategoryMadePublic(p)}, rights.Report: {rights.ReportMadePrivate(p), rights.ReportMadePublic(p)},
		}
		e, ok := events[it.Kind]
		if !ok || it.Node != "" {
			return nil, nil, nil, domain.Invalidf("not-a-collection", "only fleets, teams, categories and reports are made private or public; %s is a %s", it.ID, it.Kind)
		}
		if c.Change == "make-private" {
			return e[0], objs, all, nil
		}
		return e[1], objs, all, nil
	case "share", "unshare":
		it, objs, err := item()
		if err != nil {
			return nil, nil, nil, err
		}
		u, err := user()
		if err != nil {
			return nil, nil, nil, err
		}
		if c.Change == "unshare" {
			return rights.PrivateShareRevoked{Account: acc, Item: it.ID, User: u, By: caller.User}, objs, []domain.UserID{u}, nil
		}
		if c.Rights == nil {
			return nil, nil, nil, domain.Invalidf("no-rights", "a share needs rights: item and member levels")
		}
		il, err := rights.ParseLevel(c.Rights.Item)
		if err != nil {
			return nil, nil, nil, err
		}
		ml, err := rights.ParseLevel(c.Rights.Member)
		if err != nil {
			return nil, nil, nil, err
		}
		return rights.SharedPrivately{Account: acc, Item: it.ID, User: u, Rights: rights.Rights{Item: il, Member: ml}, By: caller.User}, objs, []domain.UserID{u}, nil
	case "assign-role", "unassign-role":
		u, err := user()
		if err != nil {
			return nil, nil, nil, err
		}
		role, found, err := q.Role(ctx, acc, c.Role)
		if err != nil || !found {
			return nil, nil, nil, errors.Join(err, errNotFound.Withf("account %s has no role %s", acc, domain.Quote(c.Role)))
		}
		var objs []object
		_, _, err = q.Items(ctx, acc, projections.Page{}, func(it *rightsmodel.Item) bool {
			if _, named := role.Rights[it.Kind]; named && it.Public && it.Node == "" {
				objs = append(objs, object{string(it.ID), "item"})
				members, err2 := q.MembersOf(ctx, acc, it.ID)
				for _, m := range members {
					objs = append(objs, object{string(m), "member"})
				}
				err = errors.Join(err, err2)
			}
			return false
		})
		if err != nil {
			return nil, nil, nil, err
		}
		e := rights.RoleAssigned{Account: acc, User: u, Role: role.Name}
		if c.Change == "unassign-role" {
			return rights.RoleUnassigned(e), dedupe(objs), []domain.UserID{u}, nil
		}
		return e, dedupe(objs), []domain.UserID{u}, nil
	case "move-node":
		v := q.Account(ctx, acc)
		node, parent := rights.ItemID(c.Node), rights.ItemID(c.Parent)
		for _, n := range []rights.ItemID{node, parent} {
			if it, found, err := q.Item(ctx, acc, n); err != nil || !found || it.Kind != rights.Node {
				return nil, nil, nil, errors.Join(err, errNotFound.Withf("account %s has no hierarchy node %s", acc, domain.Quote(string(n))))
			}
		}
		var objs []object
		_, _, err := q.Items(ctx, acc, projections.Page{}, func(it *rightsmodel.Item) bool {
			if it.Node != "" || it.Kind == rights.Node {
				objs = append(objs, object{string(it.ID), "item"})
			}
			return false
		})
		if err != nil {
			return nil, nil, nil, err
		}
		_, _, err = q.Members(ctx, acc, projections.Page{}, func(m *rightsmodel.Member) bool {
			if v.Placement(m.ID) != "" {
				objs = append(objs, object{string(m.ID), "member"})
			}
			return false
		})
		if err = errors.Join(err, v.Err()); err != nil {
			return nil, nil, nil, err
		}
		return rights.NodeMoved{Account: acc, Node: node, From: v.Parent(node), To: parent}, objs, all, nil
	}
	return nil, nil, nil, &httpapi.BadRequest{Code: "invalid-what-if", Err: errors.New("change must be make-private, make-public, share, unshare, move-node, assign-role or unassign-role")}
}

func dedupe(objs []object) []object {
	slices.SortFunc(objs, func(a, b object) int {
		if a.kind != b.kind {
			if a.kind < b.kind {
				return -1
			}
			return 1
		}
		if a.id < b.id {
			return -1
		}
		if a.id > b.id {
			return 1
		}
		return 0
	})
	return slices.Compact(objs)
}

// readerBase is one snapshot of the read models as a memory.Base: a what-if
// answer lays its hypothetical change over it.
type readerBase struct{ r projections.Reader }

func (b readerBase) Doc(ctx context.Context, table, key string) ([]byte, bool, error) {
	var d json.RawMessage
	found, err := b.r.Get(ctx, table, key, &d)
	return d, found, err
}

func (b readerBase) Each(ctx context.Context, table, prefix, after string, fn func(key string, doc []byte) error) error {
	return b.r.Scan(ctx, table, projections.Page{Prefix: prefix, After: after}, fn)
}

func (readerBase) Checkpoint(string) eventstore.Position { return eventstore.Position{} }
