package rights

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

// Bulk changes, for onboarding: many changes of one aggregate (one
// collection's members, one collection's private shares, the account's
// placements on its hierarchy) in one command, decided in order and
// appended together, all or nothing. A change already in effect (a member
// added twice, a share revoked that is not there, a member placed where it
// is) is skipped, so a load sent again changes nothing; any other refusal
// refuses the whole command and names the change. Changes of several
// aggregates are several commands: each aggregate is its own consistency
// boundary (docs/consistency.md).

// MemberChange adds a member of a kind to a collection, or removes one.
type MemberChange struct {
	Member rights.MemberID
	Kind   rights.MemberKind
	Remove bool
}

// ChangeCollectionMembers adds and removes members of one collection.
type ChangeCollectionMembers struct {
	Meta    commands.Meta
	Item    rights.ItemID
	Changes []MemberChange
}

// ShareChange shares a collection privately with a subuser, or revokes the
// share.
type ShareChange struct {
	Subuser domain.UserID
	Rights  rights.Rights
	Revoke  bool
}

// ChangeCollectionShares shares one collection privately with many
// subusers, and revokes others' shares.
type ChangeCollectionShares struct {
	Meta    commands.Meta
	Item    rights.ItemID
	Changes []ShareChange
}

// Placement places a user, vehicle or driver on a node ("" takes it off).
type Placement struct {
	Member rights.MemberID
	Kind   rights.MemberKind
	Node   rights.ItemID
}

// PlaceManyOnHierarchy places many users, vehicles and drivers.
type PlaceManyOnHierarchy struct {
	Meta       commands.Meta
	Placements []Placement
}

// BulkHandlers are the bulk use cases.
type BulkHandlers struct {
	ChangeCollectionMembers commands.Handler[ChangeCollectionMembers]
	ChangeCollectionShares  commands.Handler[ChangeCollectionShares]
	PlaceManyOnHierarchy    commands.Handler[PlaceManyOnHierarchy]
}

// skipped says whether a refusal means the change is in effect already.
func skipped(err error) bool {
	return errors.Is(err, rights.ErrAlreadyMember) || errors.Is(err, rights.ErrNotInCollection) ||
		errors.Is(err, rights.ErrNotShared) || errors.Is(err, rights.ErrAlreadyThere)
}

// nth names the change a refusal is about: "add[3]: ...".
func nth(list string, i int, err error) error {
	if de := (*domain.Error)(nil); errors.As(err, &de) {
		return de.Withf("%s[%d]: %s", list, i, de.Message)
	}
	return fmt.Errorf("%s[%d]: %w", list, i, err)
}

// ErrNoChanges: a bulk command needs at least one change.
var ErrNoChanges = domain.Invalidf("no-changes", "name at least one change")

// bounded refuses an empty list or one over domain.MaxList.
func bounded(n int) error {
	if n == 0 {
		return ErrNoChanges
	}
	if n > domain.MaxList {
		return domain.Invalidf("too-many-changes", "send at most %d changes in one command (%d sent)", domain.MaxList, n)
	}
	return nil
}

func (u useCases) changeCollectionMembers(ctx context.Context, c ChangeCollectionMembers) (commands.Result, error) {
	if err := bounded(len(c.Changes)); err != nil {
		return commands.Result{}, err
	}
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error {
		for i, ch := range c.Changes {
			var err error
			if ch.Remove {
				err = col.Remove(by, ch.Member)
			} else {
				err = col.Add(by, ch.Member, ch.Kind)
			}
			if err != nil && !skipped(err) {
				return nth("changes", i, err)
			}
		}
		return nil
	})
}

func (u useCases) changeCollectionShares(ctx context.Context, c ChangeCollectionShares) (commands.Result, error) {
	if err := bounded(len(c.Changes)); err != nil {
		return commands.Result{}, err
	}
	acc, _, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	for i, ch := range c.Changes {
		if _, err := acc.Member(ch.Subuser); err != nil {
			return commands.Result{}, nth("changes", i, err)
		}
	}
	return u.collection(ctx, c.Meta, c.Item, "", func(by rights.Holder, col *rights.Collection) error {
		for i, ch := range c.Changes {
			var err error
			if ch.Revoke {
				err = col.Revoke(by, ch.Subuser)
			} else {
				err = col.Share(by, ch.Subuser, ch.Rights)
			}
			if err != nil && !skipped(err) {
				return nth("changes", i, err)
			}
		}
		return nil
	})
}

func (u useCases) placeManyOnHierarchy(ctx context.Context, c PlaceManyOnHierarchy) (commands.Result, error) {
	if err := bounded(len(c.Placements)); err != nil {
		return commands.Result{}, err
	}
	acc, _, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	for i, p := range c.Placements {
		if p.Kind == rights.User {
			if _, err := acc.Member(domain.UserID(p.Member)); err != nil {
				return commands.Result{}, nth("placements", i, err)
			}
		}
	}
	return u.hierarchy(ctx, c.Meta, "", "", func(by domain.Member, h *rights.Hierarchy) error {
		for i, p := range c.Placements {
			if err := h.Place(by, p.Member, p.Kind, p.Node); err != nil && !skipped(err) {
				return nth("placements", i, err)
			}
		}
		return nil
	})
}

// parseList bounds a list of a request and parses each entry into its
// normal form, naming the entry that fails.
func parseList[T, C any](name string, in []T, parse func(T) (C, error)) ([]C, error) {
	if err := bounded(len(in)); err != nil {
		return nil, err
	}
	out := make([]C, len(in))
	for i, x := range in {
		var err error
		if out[i], err = parse(x); err != nil {
			return nil, nth(name, i, err)
		}
	}
	return out, nil
}

type memberChangeBody struct {
	Member string `json:"member"`
	Kind   string `json:"kind"`
	Remove bool   `json:"remove"`
}

func (b memberChangeBody) parse() (c MemberChange, err error) {
	c.Remove = b.Remove
	if b.Remove && b.Kind == "" {
		c.Member, err = rights.ParseAnyMember(b.Member)
		return c, err
	}
	if c.Kind, err = rights.ParseMemberKind(b.Kind); err != nil {
		return c, err
	}
	c.Member, err = rights.ParseMember(c.Kind, b.Member)
	return c, err
}

type shareChangeBody struct {
	User   string `json:"user"`
	Item   string `json:"item"`
	Member string `json:"member"`
	Revoke bool   `json:"revoke"`
}

func (b shareChangeBody) parse() (c ShareChange, err error) {
	c.Revoke = b.Revoke
	if c.Subuser, err = domain.ParseUser(b.User); err != nil || b.Revoke {
		return c, err
	}
	c.Rights, err = rightsBody{Item: b.Item, Member: b.Member}.parse()
	return c, err
}

type placementBody struct {
	Member string `json:"member"`
	Kind   string `json:"kind"`
	Node   string `json:"node"`
}

func (b placementBody) parse() (p Placement, err error) {
	if p.Kind, err = rights.ParseMemberKind(b.Kind); err != nil {
		return p, err
	}
	if p.Member, err = rights.ParseMember(p.Kind, b.Member); err != nil {
		return p, err
	}
	p.Node, err = optionalNode("node", b.Node)
	return p, err
}

// Routes mounts the bulk commands.
func (h BulkHandlers) Routes(r chi.Router, now func() time.Time) {
	r.Patch("/v1/collections/{item}/members", commands.Serve(h.ChangeCollectionMembers, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ChangeCollectionMembers, error) {
		var b struct {
			Changes []memberChangeBody `json:"changes"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return ChangeCollectionMembers{}, err
		}
		changes, errC := parseList("changes", b.Changes, memberChangeBody.parse)
		id, errI := item(r)
		return ChangeCollectionMembers{Meta: m, Item: id, Changes: changes}, errors.Join(errC, errI)
	}))
	r.Patch("/v1/collections/{item}/shares", commands.Serve(h.ChangeCollectionShares, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ChangeCollectionShares, error) {
		var b struct {
			Changes []shareChangeBody `json:"changes"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return ChangeCollectionShares{}, err
		}
		changes, errC := parseList("changes", b.Changes, shareChangeBody.parse)
		id, errI := item(r)
		return ChangeCollectionShares{Meta: m, Item: id, Changes: changes}, errors.Join(errC, errI)
	}))
	r.Patch("/v1/hierarchy/placements", commands.Serve(h.PlaceManyOnHierarchy, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (PlaceManyOnHierarchy, error) {
		var b struct {
			Placements []placementBody `json:"placements"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return PlaceManyOnHierarchy{}, err
		}
		placements, err := parseList("placements", b.Placements, placementBody.parse)
		return PlaceManyOnHierarchy{Meta: m, Placements: placements}, err
	}))
}
