// Package rights projects what the rights evaluation reads: each account's
// subusers with their roles, direct rights and place in the hierarchy, its
// roles, its items (with the fleet and team every hierarchy node implies),
// private shares, collection membership both ways, and the tree.
package rights

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
)

// Tables the projection owns; keys start with the account.
const (
	Users   = "rights.users"   // acc/user -> User
	Roles   = "rights.roles"   // acc/role -> map[Kind]Rights
	Items   = "rights.items"   // acc/item -> Item
	Shares  = "rights.shares"  // acc/item/user -> Rights
	In      = "rights.in"      // acc/member/item -> true: the collections of a member
	Members = "rights.members" // acc/item/member -> true
	Placed  = "rights.placed"  // acc/member -> node
	Parents = "rights.parents" // acc/node -> parent
	// Paths hold each node's way from the root, so that a read learns
	// the tree above a node in one look-up instead of one per level;
	// Children are what a move rewrites the paths under.
	Paths    = "rights.paths"    // acc/node -> []ItemID: the root first, the node last
	Children = "rights.children" // acc/parent/node -> node
	Known    = "rights.known"    // acc/member -> Member: every vehicle, driver, marker and placed user
	// KnownByKind is Known by kind, so that a list of one kind (the
	// vehicles a user can see) does not read past the others.
	KnownByKind = "rights.knownbykind" // acc/kind/member -> Member
	// MemberShares and SharedWith are private shares of single members,
	// by member and by user.
	MemberShares = "rights.membershares" // acc/member/user -> Level
	SharedWith   = "rights.sharedwith"   // acc/user/member -> member
	// Held are the collections each user created or holds a private
	// share of: where the members a user sees only through collections
	// come from, found without reading every item of the account.
	Held = "rights.held" // acc/user/item -> HeldItem
	// Admins, Holders, Direct and OnNode index the subusers by the
	// rights they hold everywhere: the administrators, each role's
	// holders, the direct rights on each kind, and the subusers placed
	// on each node; with the shares by item (Shares) and by member
	// (MemberShares), they name every subuser a rights.Reach can reach,
	// in user order, so that "who can edit this" reads only those.
	Admins  = "rights.admins"  // acc/user -> user
	Holders = "rights.holders" // acc/role/user -> user
	Direct  = "rights.direct"  // acc/kind/user -> Rights
	OnNode  = "rights.onnode"  // acc/node/user -> user: the subusers placed on each node
	// Grams index the subusers by the runs of three characters of their
	// names and addresses (Searchable), with how many hold each, so
	// that a search reads the holders of its rarest gram, not every
	// subuser.
	Grams      = "rights.grams"      // acc/gram/user -> user
	GramCounts = "rights.gramcounts" // acc/gram -> how many subusers hold it
)

// Member is a vehicle, driver, marker or user the account knows of.
type Member struct {
	ID   rights.MemberID   `json:"id"`
	Kind rights.MemberKind `json:"kind"`
}

// User is a subuser as the evaluation sees it, with a name to search by.
type User struct {
	rights.Subuser
	Name string `json:"name"`
}

// Item is an item with its name.
type Item struct {
	rights.Item
}

// ImpliedFleet and ImpliedTeam are the ids of the fleet and team a node
// implies.
func ImpliedFleet(node rights.ItemID) rights.ItemID { return node + ":fleet" }

// ImpliedTeam is the id of the team a node implies.
func ImpliedTeam(node rights.ItemID) rights.ItemID { return node + ":team" }

// Key joins key parts (projections.Key: each part bounded).
func Key(parts ...string) string { return projections.Key(parts...) }

// Projection maintains the tables.
type Projection struct{}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "rights"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	switch e := env.Event.(type) {
	case account.AccountOpened:
		return errors.Join(
			named(ctx, tx, string(e.Account), e.Administrator, e.Name),
			putUser(ctx, tx, e.Account, e.Administrator, func(u *User) { u.Admin, u.Name = true, e.Name }),
			admin(ctx, tx, e.Account, e.Administrator, true))
	case account.UserAdded:
		return errors.Join(
			named(ctx, tx, string(e.Account), e.User, e.Name),
			putUser(ctx, tx, e.Account, e.User, func(u *User) { u.Admin, u.Name = e.Role == account.Administrator, e.Name }),
			admin(ctx, tx, e.Account, e.User, e.Role == account.Administrator))
	case account.UserRoleChanged:
		return errors.Join(
			putUser(ctx, tx, e.Account, e.User, func(u *User) { u.Admin = e.Role == account.Administrator }),
			admin(ctx, tx, e.Account, e.User, e.Role == account.Administrator))
	case account.UserRemoved:
		return removeUser(ctx, tx, string(e.Account), e.User)
	case rights.RoleDefined:
		return tx.Put(ctx, Roles, Key(string(e.Account), e.Role), e.Rights)
	case rights.RoleDeleted:
		return tx.Delete(ctx, Roles, Key(string(e.Account), e.Role))
	case rights.NodeDeleted:
		acc := string(e.Account)
		return errors.Join(
			tx.Delete(ctx, Paths, Key(acc, string(e.Node))),
			tx.Delete(ctx, Children, Key(acc, string(e.Parent), string(e.Node))),
			tx.Delete(ctx, Parents, Key(acc, string(e.Node))),
			tx.Delete(ctx, Items, Key(acc, string(e.Node))),
			tx.Delete(ctx, Items, Key(acc, string(ImpliedFleet(e.Node)))),
			tx.Delete(ctx, Items, Key(acc, string(ImpliedTeam(e.Node)))))
	case rights.RoleAssigned:
		return errors.Join(
			tx.Put(ctx, Holders, Key(string(e.Account), e.Role, string(e.User)), e.User),
			putUser(ctx, tx, e.Account, e.User, func(u *User) { u.Roles = append(u.Roles, e.Role) }))
	case rights.RoleUnassigned:
		if err := tx.Delete(ctx, Holders, Key(string(e.Account), e.Role, string(e.User))); err != nil {
			return err
		}
		return putUser(ctx, tx, e.Account, e.User, func(u *User) {
			kept := u.Roles[:0]
			for _, r := range u.Roles {
				if r != e.Role {
					kept = append(kept, r)
				}
			}
			u.Roles = kept
		})
	case rights.DirectRightsSet:
		key := Key(string(e.Account), string(e.Kind), string(e.User))
		if err := putOrDelete(ctx, tx, Direct, key, e.Rights, e.Rights.IsNone()); err != nil {
			return err
		}
		return putUser(ctx, tx, e.Account, e.User, func(u *User) {
			if u.Direct == nil {
				u.Direct = map[rights.Kind]rights.Rights{}
			}
			u.Direct[e.Kind] = e.Rights
		})
	case rights.CollectionCreated:
		if e.Creator != "" {
			if err := hold(ctx, tx, string(e.Account), e.Creator, e.Item, func(h *HeldItem) { h.Created = true }); err != nil {
				return err
			}
		}
		return tx.Put(ctx, Items, Key(string(e.Account), string(e.Item)), Item{rights.Item{ID: e.Item, Kind: e.Kind, Name: e.Name, Public: e.Public, Creator: e.Creator}})
	case rights.MemberSharedPrivately:
		acc := string(e.Account)
		return errors.Join(
			know(ctx, tx, acc, e.Member, e.Kind),
			tx.Put(ctx, MemberShares, Key(acc, string(e.Member), string(e.User)), e.Level),
			tx.Put(ctx, SharedWith, Key(acc, string(e.User), string(e.Member)), e.Member))
	case rights.MemberShareRevoked:
		acc := string(e.Account)
		return errors.Join(
			tx.Delete(ctx, MemberShares, Key(acc, string(e.Member), string(e.User))),
			tx.Delete(ctx, SharedWith, Key(acc, string(e.User), string(e.Member))))
	case rights.CollectionRenamed:
		var it Item
		key := Key(string(e.Account), string(e.Item))
		if found, err := tx.Get(ctx, Items, key, &it); err != nil || !found {
			return err
		}
		it.Name = e.Name
		return tx.Put(ctx, Items, key, it)
	case rights.CollectionDeleted:
		return deleteCollection(ctx, tx, string(e.Account), string(e.Item))
	case rights.SharedPrivately:
		return errors.Join(
			hold(ctx, tx, string(e.Account), e.User, e.Item, func(h *HeldItem) { h.Shared = true }),
			tx.Put(ctx, Shares, Key(string(e.Account), string(e.Item), string(e.User)), e.Rights))
	case rights.PrivateShareRevoked:
		return errors.Join(
			hold(ctx, tx, string(e.Account), e.User, e.Item, func(h *HeldItem) { h.Shared = false }),
			tx.Delete(ctx, Shares, Key(string(e.Account), string(e.Item), string(e.User))))
	case rights.MemberAdded:
		if err := know(ctx, tx, string(e.Account), e.Member, e.Kind); err != nil {
			return err
		}
		if err := tx.Put(ctx, In, Key(string(e.Account), string(e.Member), string(e.Item)), e.Item); err != nil {
			return err
		}
		return tx.Put(ctx, Members, Key(string(e.Account), string(e.Item), string(e.Member)), e.Member)
	case rights.MemberRemoved:
		if err := tx.Delete(ctx, In, Key(string(e.Account), string(e.Member), string(e.Item))); err != nil {
			return err
		}
		return tx.Delete(ctx, Members, Key(string(e.Account), string(e.Item), string(e.Member)))
	case rights.NodeAdded:
		acc := string(e.Account)
		if err := tx.Put(ctx, Parents, Key(acc, string(e.Node)), e.Parent); err != nil {
			return err
		}
		if err := placeNode(ctx, tx, acc, e.Node, "", e.Parent, false); err != nil {
			return err
		}
		for _, it := range []rights.Item{
			{ID: e.Node, Kind: rights.Node, Name: e.Name, Public: true, Node: e.Node},
			{ID: ImpliedFleet(e.Node), Kind: rights.Fleet, Name: e.Name, Public: true, Node: e.Node},
			{ID: ImpliedTeam(e.Node), Kind: rights.Team, Name: e.Name, Public: true, Node: e.Node},
		} {
			if err := tx.Put(ctx, Items, Key(acc, string(it.ID)), Item{it}); err != nil {
				return err
			}
		}
	case rights.NodeMoved:
		acc := string(e.Account)
		var from rights.ItemID
		if _, err := tx.Get(ctx, Parents, Key(acc, string(e.Node)), &from); err != nil {
			return err
		}
		if err := tx.Put(ctx, Parents, Key(acc, string(e.Node)), e.To); err != nil {
			return err
		}
		return placeNode(ctx, tx, acc, e.Node, from, e.To, true)
	case rights.MemberPlaced:
		acc := string(e.Account)
		if err := know(ctx, tx, acc, e.Member, e.Kind); err != nil {
			return err
		}
		if e.Node == "" {
			if err := tx.Delete(ctx, Placed, Key(acc, string(e.Member))); err != nil {
				return err
			}
		} else if err := tx.Put(ctx, Placed, Key(acc, string(e.Member)), e.Node); err != nil {
			return err
		}
		var u User
		if found, err := tx.Get(ctx, Users, Key(acc, string(e.Member)), &u); err != nil || !found {
			return err
		}
		if u.Node != "" {
			if err := tx.Delete(ctx, OnNode, Key(acc, string(u.Node), string(u.ID))); err != nil {
				return err
			}
		}
		if e.Node != "" {
			if err := tx.Put(ctx, OnNode, Key(acc, string(e.Node), string(u.ID)), u.ID); err != nil {
				return err
			}
		}
		u.Node = e.Node
		return tx.Put(ctx, Users, Key(acc, string(e.Member)), u)
	default:
		if p, public, ok := privacy(e); ok {
			return setPublic(ctx, tx, p, public)
		}
	}
	return nil
}

func putUser(ctx context.Context, tx projections.Tx, acc domain.AccountID, id domain.UserID, change func(*User)) error {
	var u User
	key := Key(string(acc), string(id))
	if _, err := tx.Get(ctx, Users, key, &u); err != nil {
		return err
	}
	u.ID = id
	change(&u)
	return tx.Put(ctx, Users, key, u)
}

// placeNode puts node under parent (from from, "" for a new node): its
// row among the parent's children, and the paths of it and, if it moved
// (a new node has no children), of every node under it. A node gets a
// path only if its parent has one: in a model written before paths (not
// rebuilt since), the nodes under old ones keep none and are read
// through Parents, as before, never through a path that misses the top
// of the tree.
func placeNode(ctx context.Context, tx projections.Tx, acc string, node, from, parent rights.ItemID, moved bool) error {
	if from != "" {
		if err := tx.Delete(ctx, Children, Key(acc, string(from), string(node))); err != nil {
			return err
		}
	}
	var path []rights.ItemID
	if parent != "" {
		if err := tx.Put(ctx, Children, Key(acc, string(parent), string(node)), node); err != nil {
			return err
		}
		found, err := tx.Get(ctx, Paths, Key(acc, string(parent)), &path)
		if err != nil {
			return err
		}
		if !found {
			path = nil
		} else {
			path = append(path, node)
		}
	} else {
		path = []rights.ItemID{node}
	}
	if !moved {
		return putOrDelete(ctx, tx, Paths, Key(acc, string(node)), path, path == nil)
	}
	return repath(ctx, tx, acc, node, path)
}

// repath writes the path of node and of every node under it (nil: deletes
// them), a level at a time.
func repath(ctx context.Context, tx projections.Tx, acc string, node rights.ItemID, path []rights.ItemID) error {
	type at struct {
		node rights.ItemID
		path []rights.ItemID
	}
	level := []at{{node, path}}
	for depth := 0; len(level) > 0; depth++ {
		if depth > maxTreeDepth {
			return fmt.Errorf("the tree under %s is deeper than %d levels", node, maxTreeDepth)
		}
		var next []at
		for _, n := range level {
			if err := putOrDelete(ctx, tx, Paths, Key(acc, string(n.node)), n.path, n.path == nil); err != nil {
				return err
			}
			prefix := Key(acc, string(n.node)) + "/"
			err := tx.Scan(ctx, Children, projections.Page{Prefix: prefix}, func(k string, doc []byte) error {
				child, err := projections.SetMember(k, prefix, doc)
				if err != nil {
					return err
				}
				var p []rights.ItemID
				if n.path != nil {
					p = append(slices.Clip(n.path), rights.ItemID(child))
				}
				next = append(next, at{rights.ItemID(child), p})
				return nil
			})
			if err != nil {
				return err
			}
		}
		level = next
	}
	return nil
}

// maxTreeDepth bounds the rewriting of paths: the domain keeps the tree
// free of cycles, and no real one is this deep.
const maxTreeDepth = 1000

// named indexes the grams of a subuser's name and address, in place of
// those of the name it had.
func named(ctx context.Context, tx projections.Tx, acc string, id domain.UserID, name string) error {
	var was User
	found, err := tx.Get(ctx, Users, Key(acc, string(id)), &was)
	if err != nil {
		return err
	}
	var old []string
	if found {
		old = grams(Searchable(was.Name, id)...)
	}
	return index(ctx, tx, acc, id, old, grams(Searchable(name, id)...))
}

// index takes a subuser off the grams of old and puts them on those of
// now, counting the holders of each.
func index(ctx context.Context, tx projections.Tx, acc string, id domain.UserID, old, now []string) error {
	count := func(g string, by int) error {
		key := Key(acc, g)
		var n int
		if _, err := tx.Get(ctx, GramCounts, key, &n); err != nil {
			return err
		}
		return putOrDelete(ctx, tx, GramCounts, key, n+by, n+by <= 0)
	}
	for _, g := range old {
		if slices.Contains(now, g) {
			continue
		}
		if err := errors.Join(tx.Delete(ctx, Grams, Key(acc, g, string(id))), count(g, -1)); err != nil {
			return err
		}
	}
	for _, g := range now {
		if slices.Contains(old, g) {
			continue
		}
		if err := errors.Join(tx.Put(ctx, Grams, Key(acc, g, string(id)), id), count(g, 1)); err != nil {
			return err
		}
	}
	return nil
}

// admin indexes a subuser as an administrator of the account, or not.
func admin(ctx context.Context, tx projections.Tx, acc domain.AccountID, id domain.UserID, is bool) error {
	return putOrDelete(ctx, tx, Admins, Key(string(acc), string(id)), id, !is)
}

func putOrDelete(ctx context.Context, tx projections.Tx, table, key string, v any, del bool) error {
	if del {
		return tx.Delete(ctx, table, key)
	}
	return tx.Put(ctx, table, key, v)
}

// removeUser deletes a subuser and its rows in the indexes of what it
// held: its roles, direct rights and administration.
func removeUser(ctx context.Context, tx projections.Tx, acc string, id domain.UserID) error {
	key := Key(acc, string(id))
	var u User
	if _, err := tx.Get(ctx, Users, key, &u); err != nil {
		return err
	}
	// A removed subuser is placed nowhere and no member: the hierarchy's
	// lists of placed users and the lists of members leave them out.
	errs := []error{tx.Delete(ctx, Admins, key),
		tx.Delete(ctx, Placed, key),
		tx.Delete(ctx, Known, key),
		tx.Delete(ctx, KnownByKind, Key(acc, string(rights.User), string(id)))}
	if u.Node != "" {
		errs = append(errs, tx.Delete(ctx, OnNode, Key(acc, string(u.Node), string(id))))
	}
	for _, role := range u.Roles {
		errs = append(errs, tx.Delete(ctx, Holders, Key(acc, role, string(id))))
	}
	for k := range u.Direct {
		errs = append(errs, tx.Delete(ctx, Direct, Key(acc, string(k), string(id))))
	}
	if u.ID != "" {
		errs = append(errs, index(ctx, tx, acc, id, grams(Searchable(u.Name, id)...), nil))
	}
	return errors.Join(append(errs, tx.Delete(ctx, Users, key))...)
}

func setPublic(ctx context.Context, tx projections.Tx, p rights.Privacy, public bool) error {
	var it Item
	key := Key(string(p.Account), string(p.Item))
	if found, err := tx.Get(ctx, Items, key, &it); err != nil || !found {
		return err
	}
	it.Public = public
	return tx.Put(ctx, Items, key, it)
}

// deleteCollection removes an item, its private shares and its
// memberships both ways; the members stay known to the account.
// know records a member the account knows of, and its kind (a member
// named again with another kind moves to it).
func know(ctx context.Context, tx projections.Tx, acc string, id rights.MemberID, kind rights.MemberKind) error {
	key := Key(acc, string(id))
	var was Member
	found, err := tx.Get(ctx, Known, key, &was)
	if err != nil {
		return err
	}
	if found && was.Kind == kind {
		return nil
	}
	if found {
		if err := tx.Delete(ctx, KnownByKind, Key(acc, string(was.Kind), string(id))); err != nil {
			return err
		}
	}
	m := Member{ID: id, Kind: kind}
	return errors.Join(tx.Put(ctx, Known, key, m), tx.Put(ctx, KnownByKind, Key(acc, string(kind), string(id)), m))
}

// HeldItem is a collection a user created or holds a private share of.
type HeldItem struct {
	Item    rights.ItemID `json:"item"`
	Created bool          `json:"created,omitempty"`
	Shared  bool          `json:"shared,omitempty"`
}

// hold changes what a user holds of a collection; holding nothing, the
// row goes.
func hold(ctx context.Context, tx projections.Tx, acc string, user domain.UserID, item rights.ItemID, change func(*HeldItem)) error {
	key := Key(acc, string(user), string(item))
	h := HeldItem{Item: item}
	if _, err := tx.Get(ctx, Held, key, &h); err != nil {
		return err
	}
	change(&h)
	if !h.Created && !h.Shared {
		return tx.Delete(ctx, Held, key)
	}
	return tx.Put(ctx, Held, key, h)
}

func deleteCollection(ctx context.Context, tx projections.Tx, acc, item string) error {
	var it Item
	if _, err := tx.Get(ctx, Items, Key(acc, item), &it); err != nil {
		return err
	}
	if it.Creator != "" {
		if err := tx.Delete(ctx, Held, Key(acc, string(it.Creator), item)); err != nil {
			return err
		}
	}
	prefix := Key(acc, item) + "/"
	var shares, members []string
	err := tx.Scan(ctx, Shares, projections.Page{Prefix: prefix}, func(k string, _ []byte) error {
		shares = append(shares, k)
		return nil
	})
	if err != nil {
		return err
	}
	err = tx.Scan(ctx, Members, projections.Page{Prefix: prefix}, func(k string, doc []byte) error {
		m, err := projections.SetMember(k, prefix, doc)
		members = append(members, m)
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range shares {
		// The share's key ends with the user's key part, which is the
		// user's part of the held row's key too.
		user := strings.TrimPrefix(k, prefix)
		if err := errors.Join(tx.Delete(ctx, Shares, k), tx.Delete(ctx, Held, Key(acc)+"/"+user+"/"+projections.KeyPart(item))); err != nil {
			return err
		}
	}
	for _, m := range members {
		if err := errors.Join(tx.Delete(ctx, Members, Key(acc, item, m)), tx.Delete(ctx, In, Key(acc, m, item))); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, Items, Key(acc, item))
}

var _ projections.Prefetcher = Projection{}

// Prefetch implements projections.Prefetcher: the subusers, members
// known, items, holdings, gram counts and paths that applying envs reads.
func (Projection) Prefetch(envs iter.Seq[*projections.Envelope]) []projections.TableKeys {
	keys := map[string][]string{}
	add := func(table string, parts ...string) { keys[table] = append(keys[table], Key(parts...)) }
	named := func(acc domain.AccountID, user domain.UserID, name string) {
		add(Users, string(acc), string(user))
		for _, g := range grams(Searchable(name, user)...) {
			add(GramCounts, string(acc), g)
		}
	}
	for env := range envs {
		switch e := env.Event.(type) {
		case account.AccountOpened:
			named(e.Account, e.Administrator, e.Name)
		case account.UserAdded:
			named(e.Account, e.User, e.Name)
		case account.UserRoleChanged:
			add(Users, string(e.Account), string(e.User))
		case account.UserRemoved:
			add(Users, string(e.Account), string(e.User))
		case rights.RoleAssigned:
			add(Users, string(e.Account), string(e.User))
		case rights.RoleUnassigned:
			add(Users, string(e.Account), string(e.User))
		case rights.DirectRightsSet:
			add(Users, string(e.Account), string(e.User))
		case rights.CollectionCreated:
			if e.Creator != "" {
				add(Held, string(e.Account), string(e.Creator), string(e.Item))
			}
		case rights.SharedPrivately:
			add(Held, string(e.Account), string(e.User), string(e.Item))
		case rights.PrivateShareRevoked:
			add(Held, string(e.Account), string(e.User), string(e.Item))
		case rights.CollectionRenamed:
			add(Items, string(e.Account), string(e.Item))
		case rights.MemberSharedPrivately:
			add(Known, string(e.Account), string(e.Member))
		case rights.MemberAdded:
			add(Known, string(e.Account), string(e.Member))
		case rights.MemberPlaced:
			add(Known, string(e.Account), string(e.Member))
			add(Users, string(e.Account), string(e.Member))
		case rights.NodeAdded:
			if e.Parent != "" {
				add(Paths, string(e.Account), string(e.Parent))
			}
		case rights.NodeMoved:
			add(Parents, string(e.Account), string(e.Node))
			add(Paths, string(e.Account), string(e.To))
		default:
			if p, _, ok := privacy(e); ok {
				add(Items, string(p.Account), string(p.Item))
			}
		}
	}
	out := make([]projections.TableKeys, 0, len(keys))
	for table, ks := range keys {
		out = append(out, projections.TableKeys{Table: table, Keys: ks})
	}
	return out
}

// privacy is the item of an event that makes one public or private, and
// which of the two.
func privacy(e domain.Event) (p rights.Privacy, public, ok bool) {
	switch e := e.(type) {
	case rights.FleetMadePrivate:
		return rights.Privacy(e), false, true
	case rights.TeamMadePrivate:
		return rights.Privacy(e), false, true
	case rights.CategoryMadePrivate:
		return rights.Privacy(e), false, true
	case rights.ReportMadePrivate:
		return rights.Privacy(e), false, true
	case rights.FleetMadePublic:
		return rights.Privacy(e), true, true
	case rights.TeamMadePublic:
		return rights.Privacy(e), true, true
	case rights.CategoryMadePublic:
		return rights.Privacy(e), true, true
	case rights.ReportMadePublic:
		return rights.Privacy(e), true, true
	}
	return rights.Privacy{}, false, false
}

// Tables lists the tables the projection owns, for verification.
func (Projection) Tables() []string {
	return []string{Users, Roles, Items, Shares, In, Members, Placed, Parents, Known, KnownByKind, MemberShares, SharedWith, Held, Admins, Holders, Direct, Paths, Children, Grams, GramCounts, OnNode}
}
