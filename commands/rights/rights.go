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
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
)

// Change is one change to an account's rights. Target names the stream's
// subject: the collection for collection changes, else unused.
type Change struct {
	Meta   commands.Meta
	Target string
	// Subuser is checked to be a user of the account when set.
	Subuser domain.UserID
	Decide  func(by domain.Member, acc *account.Account) func(agg any) error
}

// Handlers are the rights use cases; each kind of aggregate has one.
type Handlers struct {
	Access     commands.Handler[Change]
	Hierarchy  commands.Handler[Change]
	Collection commands.Handler[Change]
	Create     commands.Handler[Create]
}

// Create makes a fleet, team, category or report.
type Create struct {
	Meta   commands.Meta
	Kind   string
	Name   string
	Public bool
}

// New builds the handlers on repo, decorated.
func New(repo commands.Repo, log *slog.Logger) Handlers {
	u := useCases{repo}
	return Handlers{
		Access:     commands.Decorate(u.access, log, "ChangeAccess", repo.Metrics),
		Hierarchy:  commands.Decorate(u.hierarchy, log, "ChangeHierarchy", repo.Metrics),
		Collection: commands.Decorate(u.collection, log, "ChangeCollection", repo.Metrics),
		Create:     commands.Decorate(u.create, log, "CreateCollection", repo.Metrics),
	}
}

type useCases struct{ repo commands.Repo }

// prepare checks the caller and, when named, the subuser the change is about.
func (u useCases) prepare(ctx context.Context, c Change) (*account.Account, domain.Member, error) {
	acc, by, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return nil, by, err
	}
	if c.Subuser != "" {
		if _, err := acc.Member(c.Subuser); err != nil {
			return nil, by, err
		}
	}
	return acc, by, nil
}

// aggregate is what a rights change decides on.
type aggregate[A any] interface {
	commands.Aggregate[A]
	Changes() []domain.Event
}

// change checks the caller, loads the stream's aggregate, answers a
// command sent again with its first outcome, decides and saves. check, if
// set, refuses an aggregate the caller may not change.
func change[A aggregate[A]](ctx context.Context, u useCases, c Change, stream string, empty func() A, check func(by domain.Member, exists bool, a A) error) (commands.Result, error) {
	acc, by, err := u.prepare(ctx, c)
	if err != nil {
		return commands.Result{}, err
	}
	l, agg, err := commands.LoadState(ctx, u.repo, stream, c.Meta, empty)
	if err != nil {
		return commands.Result{}, err
	}
	if res, ok := l.Replayed(c.Target); ok {
		return res, nil
	}
	if check != nil {
		if err := check(by, l.Exists(), agg); err != nil {
			return commands.Result{}, err
		}
	}
	if err := c.Decide(by, acc)(agg); err != nil {
		return commands.Result{}, err
	}
	return u.repo.Save(ctx, l, c.Meta, c.Target, agg.Changes())
}

func (u useCases) access(ctx context.Context, c Change) (commands.Result, error) {
	acc := c.Meta.Caller.Account
	return change(ctx, u, c, rights.AccessStream(acc), func() *rights.Access { return rights.EmptyAccess(acc) }, nil)
}

func (u useCases) hierarchy(ctx context.Context, c Change) (commands.Result, error) {
	acc := c.Meta.Caller.Account
	return change(ctx, u, c, rights.HierarchyStream(acc), func() *rights.Hierarchy { return rights.EmptyHierarchy(acc) }, nil)
}

func (u useCases) collection(ctx context.Context, c Change) (commands.Result, error) {
	return change(ctx, u, c, rights.CollectionStream(rights.ItemID(c.Target)), rights.EmptyCollection, func(by domain.Member, exists bool, col *rights.Collection) error {
		if !exists || col.Account() != by.Account {
			return domain.NewError(domain.NotFound, "unknown-item", "no such fleet, team, category or report in this account")
		}
		return nil
	})
}

func (u useCases) create(ctx context.Context, c Create) (commands.Result, error) {
	kind, err := rights.ParseKind(c.Kind)
	if err != nil {
		return commands.Result{}, err
	}
	_, by, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	id := commands.NewID(c.Meta.CommandID, "collection")
	l, err := u.repo.LoadFor(ctx, rights.CollectionStream(rights.ItemID(id)), c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	if res, ok := l.Replayed(id); ok {
		return res, nil
	}
	col, err := rights.Create(by, kind, rights.ItemID(id), c.Name, c.Public)
	if err != nil {
		return commands.Result{}, err
	}
	return u.repo.Save(ctx, l, c.Meta, id, col.Changes())
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
	if err := commands.Decode(w, r, &b); err != nil {
		return rights.Rights{}, err
	}
	return b.parse()
}

// as adapts a decision on one kind of aggregate to Change.Decide.
func as[A any](f func(a A) error) func(agg any) error {
	return func(agg any) error { return f(agg.(A)) }
}

// item reads the collection the path names.
func (c *Change) item(r *http.Request) error {
	id, err := rights.ParseItemID("item", chi.URLParam(r, "item"))
	c.Target = string(id)
	return err
}

// subuser reads the person the path names, in the normal form of an
// address, so every spelling of one address is one subuser.
func (c *Change) subuser(r *http.Request) error {
	u, err := domain.ParseUser(chi.URLParam(r, "user"))
	c.Subuser = u
	return err
}

// Routes mounts the rights commands.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	serve := func(hd commands.Handler[Change], created bool, build func(w http.ResponseWriter, r *http.Request, c *Change) error) http.HandlerFunc {
		return commands.Serve(hd, now, created, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Change, error) {
			c := Change{Meta: m}
			return c, build(w, r, &c)
		})
	}
	r.Post("/v1/roles", serve(h.Access, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Name   string                `json:"name"`
			Rights map[string]rightsBody `json:"rights"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		if b.Rights == nil {
			// Defining a role again replaces its rights: say them, even
			// when there are none ({}).
			return domain.Invalidf("no-rights", "name the role's rights by kind, e.g. {\"fleet\":{\"item\":\"view\",\"member\":\"view\"}}, or {} for none")
		}
		set := map[rights.Kind]rights.Rights{}
		for k, v := range b.Rights {
			kind, err := rights.ParseKind(k)
			if err != nil {
				return err
			}
			if set[kind], err = v.parse(); err != nil {
				return err
			}
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(a *rights.Access) error { return a.DefineRole(by, b.Name, set) })
		}
		return nil
	}))
	r.Post("/v1/subusers/{user}/roles", serve(h.Access, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Role string `json:"role"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		if err := c.subuser(r); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(a *rights.Access) error { return a.Assign(by, c.Subuser, b.Role) })
		}
		return nil
	}))
	r.Delete("/v1/subusers/{user}/roles/{role}", serve(h.Access, false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		if err := c.subuser(r); err != nil {
			return err
		}
		role := chi.URLParam(r, "role")
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(a *rights.Access) error { return a.Unassign(by, c.Subuser, role) })
		}
		return nil
	}))
	r.Put("/v1/subusers/{user}/rights/{kind}", serve(h.Access, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		set, err := decodeRights(w, r)
		if err != nil {
			return err
		}
		kind, err := rights.ParseKind(chi.URLParam(r, "kind"))
		if err != nil {
			return err
		}
		if err := c.subuser(r); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(a *rights.Access) error { return a.SetDirect(by, c.Subuser, kind, set) })
		}
		return nil
	}))
	r.Post("/v1/collections", commands.Serve(h.Create, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Create, error) {
		var b struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Public bool   `json:"public"`
		}
		err := commands.Decode(w, r, &b)
		return Create{Meta: m, Kind: b.Kind, Name: b.Name, Public: b.Public}, err
	}))
	r.Post("/v1/collections/{item}/private", serve(h.Collection, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Confirm bool `json:"confirm"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		if err := c.item(r); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(col *rights.Collection) error { return col.MakePrivate(by, b.Confirm) })
		}
		return nil
	}))
	r.Post("/v1/collections/{item}/public", serve(h.Collection, false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		if err := c.item(r); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(col *rights.Collection) error { return col.MakePublic(by) })
		}
		return nil
	}))
	r.Put("/v1/collections/{item}/shares/{user}", serve(h.Collection, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		set, err := decodeRights(w, r)
		if err != nil {
			return err
		}
		if err := errors.Join(c.item(r), c.subuser(r)); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(col *rights.Collection) error { return col.Share(by, c.Subuser, set) })
		}
		return nil
	}))
	r.Delete("/v1/collections/{item}/shares/{user}", serve(h.Collection, false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		if err := errors.Join(c.item(r), c.subuser(r)); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(col *rights.Collection) error { return col.Revoke(by, c.Subuser) })
		}
		return nil
	}))
	r.Post("/v1/collections/{item}/members", serve(h.Collection, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Member string `json:"member"`
			Kind   string `json:"kind"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		kind, err := rights.ParseMemberKind(b.Kind)
		if err != nil {
			return err
		}
		m, err := rights.ParseMember(kind, b.Member)
		if err != nil {
			return err
		}
		if err := c.item(r); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(col *rights.Collection) error { return col.Add(by, m, kind) })
		}
		return nil
	}))
	r.Delete("/v1/collections/{item}/members/{member}", serve(h.Collection, false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		m, err := rights.ParseAnyMember(chi.URLParam(r, "member"))
		if err != nil {
			return err
		}
		if err := c.item(r); err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(col *rights.Collection) error { return col.Remove(by, m) })
		}
		return nil
	}))
	r.Post("/v1/hierarchy/nodes", serve(h.Hierarchy, true, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			ID     string `json:"id"`
			Parent string `json:"parent"`
			Name   string `json:"name"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		if b.ID == "" {
			b.ID = commands.NewID(c.Meta.CommandID, "node")
		}
		id, err := rights.ParseItemID("id", b.ID)
		if err != nil {
			return err
		}
		parent, err := optionalNode("parent", b.Parent)
		if err != nil {
			return err
		}
		c.Target = string(id)
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(h *rights.Hierarchy) error { return h.Add(by, id, parent, b.Name) })
		}
		return nil
	}))
	r.Post("/v1/hierarchy/nodes/{node}/move", serve(h.Hierarchy, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Parent string `json:"parent"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		node, err := rights.ParseItemID("node", chi.URLParam(r, "node"))
		if err != nil {
			return err
		}
		parent, err := rights.ParseItemID("parent", b.Parent)
		if err != nil {
			return err
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(h *rights.Hierarchy) error { return h.Move(by, node, parent) })
		}
		return nil
	}))
	r.Put("/v1/hierarchy/placements/{member}", serve(h.Hierarchy, false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Node string `json:"node"`
			Kind string `json:"kind"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		kind, err := rights.ParseMemberKind(b.Kind)
		if err != nil {
			return err
		}
		m, err := rights.ParseMember(kind, chi.URLParam(r, "member"))
		if err != nil {
			return err
		}
		node, err := optionalNode("node", b.Node)
		if err != nil {
			return err
		}
		if kind == rights.User {
			c.Subuser = domain.UserID(m)
		}
		c.Decide = func(by domain.Member, _ *account.Account) func(any) error {
			return as(func(h *rights.Hierarchy) error { return h.Place(by, m, kind, node) })
		}
		return nil
	}))
}

// optionalNode reads a node id that may be left out (no parent: the root;
// no node: not placed).
func optionalNode(field, s string) (rights.ItemID, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return rights.ParseItemID(field, s)
}
