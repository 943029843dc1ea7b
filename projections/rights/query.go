package rights

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/projections"
)

// Query reads the rights tables: how the read side asks this projection,
// so that its tables and keys stay its own. What the rows mean (who may see
// what) is for domain/rights to say, over the View.
type Query struct {
	R projections.Reader
	// ReadUsers, if set, reads the subusers that Search and Reached hand
	// on, at their key parts, in place of a read of their documents
	// alone: View.UsersFor reads them with what evaluating the caller's
	// rights on them reads first, in one round trip on PostgreSQL.
	ReadUsers func(parts []string) ([]User, error)
}

// Account is the account's rights tables as domain/rights reads them
// (rights.Account), over the query's snapshot.
func (q Query) Account(ctx context.Context, acc domain.AccountID) *View {
	return &View{ctx: ctx, r: q.R, acc: string(acc)}
}

// Items is a page of the account's items (after the cursor in page.After),
// those keep accepts, and the cursor of the next page.
func (q Query) Items(ctx context.Context, acc domain.AccountID, page projections.Page, keep func(*Item) bool) ([]Item, string, error) {
	return projections.List(ctx, q.R, Items, projections.Within(Key(string(acc))+"/", page), keep)
}

// ItemsAhead is Items with ahead, as MembersAhead.
func (q Query) ItemsAhead(ctx context.Context, acc domain.AccountID, page projections.Page, ahead func([]Item), keep func(*Item) bool) ([]Item, string, error) {
	return projections.ListAhead(ctx, q.R, Items, projections.Within(Key(string(acc))+"/", page), ahead, keep)
}

// Users is a page of the account's subusers.
func (q Query) Users(ctx context.Context, acc domain.AccountID, page projections.Page, keep func(*User) bool) ([]User, string, error) {
	return projections.List(ctx, q.R, Users, projections.Within(Key(string(acc))+"/", page), keep)
}

// Members is a page of the vehicles, drivers, markers and placed users the
// account knows of.
func (q Query) Members(ctx context.Context, acc domain.AccountID, page projections.Page, keep func(*Member) bool) ([]Member, string, error) {
	return projections.List(ctx, q.R, Known, projections.Within(Key(string(acc))+"/", page), keep)
}

// MembersAhead is a page of the members the account knows of, of one kind
// ("" for every kind), whose rows are handed to ahead a chunk at a time
// before keep sees them (projections.ListAhead), for keep to evaluate
// rights read ahead by View.Ahead. One kind is read from KnownByKind, so
// that a list of vehicles does not read past the drivers and placed users;
// a model written before that table (not yet rebuilt) holds none of the
// kind there, and is read through every member, as before it.
//
// Whether the table holds the kind is asked only when the page found none
// of it: a page that finds rows there has its answer, without a read of
// its own (on PostgreSQL, a round trip).
func (q Query) MembersAhead(ctx context.Context, acc domain.AccountID, kind rights.MemberKind, page projections.Page, ahead func([]Member), keep func(*Member) bool) ([]Member, string, error) {
	if kind != "" {
		scanned := false
		members, next, err := projections.ListAhead(ctx, q.R, KnownByKind, projections.Within(Key(string(acc), string(kind))+"/", page), func(rows []Member) {
			scanned = true
			ahead(rows)
		}, keep)
		if err != nil || scanned {
			return members, next, err
		}
		indexed, err := q.indexesKind(ctx, acc, kind)
		if err != nil || indexed {
			return members, next, err
		}
	}
	return projections.ListAhead(ctx, q.R, Known, projections.Within(Key(string(acc))+"/", page), ahead, func(m *Member) bool {
		return (kind == "" || m.Kind == kind) && (keep == nil || keep(m))
	})
}

// indexesKind says whether KnownByKind holds any member of the kind.
func (q Query) indexesKind(ctx context.Context, acc domain.AccountID, kind rights.MemberKind) (bool, error) {
	return q.holdsAny(ctx, KnownByKind, Key(string(acc), string(kind))+"/")
}

// holdsAny says whether table holds any document under prefix: how a
// read tells a model that has an index from one written before it.
func (q Query) holdsAny(ctx context.Context, table, prefix string) (bool, error) {
	found := false
	err := q.R.Scan(ctx, table, projections.Page{Prefix: prefix, Limit: 1}, func(string, []byte) error {
		found = true
		return nil
	})
	return found, err
}

// UsersSifted is UsersAhead with a sieve over the stored documents
// (projections.ListSifted).
func (q Query) UsersSifted(ctx context.Context, acc domain.AccountID, page projections.Page, sieve func([]byte) bool, ahead func([]User), keep func(*User) bool) ([]User, string, error) {
	return projections.ListSifted(ctx, q.R, Users, projections.Within(Key(string(acc))+"/", page), sieve, ahead, keep)
}

// UsersAhead is Users with ahead, as MembersAhead.
func (q Query) UsersAhead(ctx context.Context, acc domain.AccountID, page projections.Page, ahead func([]User), keep func(*User) bool) ([]User, string, error) {
	return projections.ListAhead(ctx, q.R, Users, projections.Within(Key(string(acc))+"/", page), ahead, keep)
}

// Member is one vehicle, driver, marker or placed user, if the account
// knows of it.
func (q Query) Member(ctx context.Context, acc domain.AccountID, id rights.MemberID) (Member, bool, error) {
	var m Member
	found, err := q.R.Get(ctx, Known, Key(string(acc), string(id)), &m)
	return m, found, err
}

// MembersOf lists the members of a collection, in key order.
func (q Query) MembersOf(ctx context.Context, acc domain.AccountID, item rights.ItemID) ([]rights.MemberID, error) {
	prefix := Key(string(acc), string(item)) + "/"
	var out []rights.MemberID
	err := q.R.Scan(ctx, Members, projections.Page{Prefix: prefix}, func(k string, doc []byte) error {
		id, err := projections.SetMember(k, prefix, doc)
		out = append(out, rights.MemberID(id))
		return err
	})
	return out, err
}

// Held lists the collections a user created or holds a private share of.
func (q Query) Held(ctx context.Context, acc domain.AccountID, user domain.UserID) ([]HeldItem, error) {
	out, _, err := projections.List[HeldItem](ctx, q.R, Held, projections.Page{Prefix: Key(string(acc), string(user)) + "/"}, nil)
	return out, err
}

// View is an account's rights tables as rights.Account. That interface
// has no errors (the evaluation is pure); the first error a read meets is
// kept, and Err reports it after the evaluation. It holds the request's
// context because the interface's methods take none: a View lives for one
// request, on one snapshot, so it remembers every document it read: an
// evaluation asks for the same subuser, roles, items and tree again and
// again, and on PostgreSQL each read is a round trip. What it remembers is
// bounded by what the request reads.
type View struct {
	ctx context.Context
	r   projections.Reader
	acc string
	err error
	// docs holds each document the view read or was handed, by its
	// table and the ids its key is made of (docKey), and, once an
	// accessor decoded it, its value, shared and read only: an
	// evaluation that asks for the same subuser for every row of a list
	// reads and decodes it once, and asking again builds no key.
	docs map[docKey]*entry
	slab []entry // where new entries are taken from
	// reading: the entries a read is reading (readAll).
	reading map[tableKey]*entry
	lists   map[string][]rights.ItemID // CollectionsOf, by member
	// parents: the parent of each node whose parent the view knows ("":
	// a root), by the node's id, so that a walk up the tree, which
	// evaluating a member on a node takes for every row, builds no key.
	parents map[rights.ItemID]rights.ItemID
	// unpathed: a node's path was missing (a model not rebuilt since
	// paths came), so Parent reads parents a level at a time, not a
	// path that is not there and then the parent, each level.
	unpathed bool
}

// docKey names a document of the view's account: its table and the one
// or two ids (b empty if one) that its key is made of (Key(account, a,
// b)), the key itself built only to read it from the store.
type docKey struct{ table, a, b string }

// entry is what the view knows of a document.
type entry struct {
	state docState
	doc   []byte // the document's bytes, if found and read
	val   any    // its value, once decoded or handed (nil: not yet)
}

type docState uint8

const (
	unread docState = iota // not read yet (or being read)
	absent                 // read, and not there
	found                  // read, or handed by a list
)

// entry is the view's entry for k, new (unread) if it had none. Entries
// are taken from slabs: a read ahead makes hundreds of them.
func (v *View) entry(k docKey) *entry {
	if e, ok := v.docs[k]; ok {
		return e
	}
	if v.docs == nil {
		v.docs = map[docKey]*entry{}
	}
	if len(v.slab) == 0 {
		v.slab = make([]entry, min(max(len(v.docs), 16), 1024))
	}
	e := &v.slab[0]
	v.slab = v.slab[1:]
	v.docs[k] = e
	return e
}

// storeKey is k's key in the store.
func (v *View) storeKey(k docKey) string {
	if k.b == "" {
		return Key(v.acc, k.a)
	}
	return Key(v.acc, k.a, k.b)
}

// getAs reads a document once per view (raw) and decodes it once per
// view into a T, or takes it as another view decoded the same bytes
// (decodedCache).
func getAs[T any](v *View, k docKey) (T, bool) {
	e := v.raw(k)
	if e.state != found {
		var none T
		return none, false
	}
	if e.val == nil {
		if d, ok := shared.get(e.doc); ok {
			if _, ok := d.(T); ok {
				e.val = d
			}
		}
	}
	if e.val == nil {
		decode[T](v, k, e)
	}
	out, _ := e.val.(T)
	return out, true
}

// decode decodes e's document into its value, boxed once for the view
// and the cache. Apart from getAs, so that only decoding allocates the
// value it decodes into: a value whose address is taken is on the heap
// for the whole of the function that declares it, and most gets find
// their value decoded already.
func decode[T any](v *View, k docKey, e *entry) {
	var out T
	if err := json.Unmarshal(e.doc, &out); err != nil {
		if v.err == nil {
			v.err = fmt.Errorf("decode %s %s: %w", k.table, v.storeKey(k), err)
		}
		e.val = out
		return
	}
	e.val = clipped(out)
	shared.put(e.doc, e.val)
}

// hand takes val, a document that a list read through this view's
// reader, as the view's own, decoded.
func (v *View) hand(k docKey, val any) {
	e := v.entry(k)
	e.state, e.doc, e.val = found, nil, val
}

// Err is the first error a read met, if any.
func (v *View) Err() error { return v.err }

// raw reads a document once per view: its entry, read.
func (v *View) raw(k docKey) *entry {
	e := v.entry(k)
	if e.state != unread {
		return e
	}
	var raw json.RawMessage
	ok, err := v.r.Get(v.ctx, k.table, v.storeKey(k), &raw)
	if err != nil {
		if v.err == nil {
			v.err = err
		}
		return &entry{state: absent} // not remembered: the read failed
	}
	e.state, e.doc = absent, raw
	if ok {
		e.state = found
	}
	return e
}

// Subuser implements rights.Account.
func (v *View) Subuser(id domain.UserID) (rights.Subuser, bool) {
	u, ok := getAs[User](v, docKey{Users, string(id), ""})
	return u.Subuser, ok
}

// RoleRights implements rights.Account.
func (v *View) RoleRights(role string, k rights.Kind) rights.Rights {
	r, _ := getAs[map[rights.Kind]rights.Rights](v, docKey{Roles, role, ""})
	return r[k]
}

// Item implements rights.Account.
func (v *View) Item(id rights.ItemID) (rights.Item, bool) {
	it, ok := getAs[Item](v, docKey{Items, string(id), ""})
	return it.Item, ok
}

// Share implements rights.Account.
func (v *View) Share(item rights.ItemID, u domain.UserID) (rights.Rights, bool) {
	return getAs[rights.Rights](v, docKey{Shares, string(item), string(u)})
}

// CollectionsOf implements rights.Account.
func (v *View) CollectionsOf(m rights.MemberID) []rights.ItemID {
	if out, ok := v.lists[string(m)]; ok {
		return out
	}
	prefix := Key(v.acc, string(m)) + "/"
	var out []rights.ItemID
	err := v.r.Scan(v.ctx, In, projections.Page{Prefix: prefix}, func(k string, doc []byte) error {
		id, err := projections.SetMember(k, prefix, doc)
		out = append(out, rights.ItemID(id))
		return err
	})
	if err != nil {
		if v.err == nil {
			v.err = err
		}
		return nil
	}
	out = slices.Clip(out)
	if v.lists == nil {
		v.lists = map[string][]rights.ItemID{}
	}
	v.lists[string(m)] = out
	return out
}

// Placement implements rights.Account.
func (v *View) Placement(m rights.MemberID) rights.ItemID {
	n, _ := getAs[rights.ItemID](v, docKey{Placed, string(m), ""})
	return n
}

// Parent implements rights.Account. A node whose parent the view does
// not know yet is looked up by its path from the root, which gives the
// parents of every node above it too: a walk up the tree costs one read,
// not one a level (a model without paths reads the parent alone).
func (v *View) Parent(n rights.ItemID) rights.ItemID {
	if p, ok := v.parents[n]; ok {
		return p
	}
	if e, ok := v.docs[docKey{Parents, string(n), ""}]; (!ok || e.state == unread) && !v.unpathed {
		v.unpathed = len(v.seedPaths([]string{string(n)})) > 0
		if p, ok := v.parents[n]; ok {
			return p
		}
	}
	return v.parent(n)
}

// parent is n's parent as its document in Parents says, read if the view
// has not read it yet, and known from then on.
func (v *View) parent(n rights.ItemID) rights.ItemID {
	p, _ := getAs[rights.ItemID](v, docKey{Parents, string(n), ""})
	if v.err == nil {
		v.knowParent(n, p)
	}
	return p
}

func (v *View) knowParent(n, p rights.ItemID) {
	if v.parents == nil {
		v.parents = map[rights.ItemID]rights.ItemID{}
	}
	v.parents[n] = p
}

// MemberShare implements rights.Account.
func (v *View) MemberShare(m rights.MemberID, u domain.UserID) (rights.Level, bool) {
	return getAs[rights.Level](v, docKey{MemberShares, string(m), string(u)})
}

// Holds implements rights.Account: whether the account holds m is
// whether m's document is there, with nothing to decode.
func (v *View) Holds(m rights.MemberID) bool {
	return v.raw(docKey{Known, string(m), ""}).state == found
}

var _ rights.Account = (*View)(nil)

// User is one subuser, if the account has them.
func (q Query) User(ctx context.Context, acc domain.AccountID, id domain.UserID) (User, bool, error) {
	var u User
	found, err := q.R.Get(ctx, Users, Key(string(acc), string(id)), &u)
	return u, found, err
}

// Item is one fleet, team, category, report or node, if the account has it.
func (q Query) Item(ctx context.Context, acc domain.AccountID, id rights.ItemID) (Item, bool, error) {
	var it Item
	found, err := q.R.Get(ctx, Items, Key(string(acc), string(id)), &it)
	return it, found, err
}

// MembersPage is a page of a collection's members, in key order, after the
// cursor in page.After, and the cursor of the next page.
func (q Query) MembersPage(ctx context.Context, acc domain.AccountID, item rights.ItemID, page projections.Page, ahead func([]rights.MemberID), keep func(*rights.MemberID) bool) ([]rights.MemberID, string, error) {
	return projections.ListAhead(ctx, q.R, Members, projections.Within(Key(string(acc), string(item))+"/", page), ahead, keep)
}

// Role is a role with the rights it grants by kind of public item.
type Role struct {
	Name   string                        `json:"name"`
	Rights map[rights.Kind]rights.Rights `json:"rights"`
}

// Roles is a page of the account's roles, by name.
func (q Query) Roles(ctx context.Context, acc domain.AccountID, page projections.Page) ([]Role, string, error) {
	keyed, next, err := projections.ListKeyed[map[rights.Kind]rights.Rights](ctx, q.R, Roles, projections.Within(Key(string(acc))+"/", page), nil)
	out := make([]Role, len(keyed))
	for i, k := range keyed {
		out[i] = Role{Name: k.Key, Rights: k.Value}
	}
	return out, next, err
}

// Role is one role, if the account defined it.
func (q Query) Role(ctx context.Context, acc domain.AccountID, name string) (Role, bool, error) {
	r := Role{Name: name}
	found, err := q.R.Get(ctx, Roles, Key(string(acc), name), &r.Rights)
	return r, found, err
}

// Ahead reads at once what evaluating user's rights on each of members
// (rights.OnMember) will read (AheadChecks).
func (v *View) Ahead(user domain.UserID, members []rights.MemberID) {
	checks := make([]Check, len(members))
	for i, m := range members {
		checks[i] = Check{User: user, Member: m}
	}
	v.AheadChecks(checks)
}

// AheadShares reads at once user's shares of items (Share), where the
// store reads many documents at once (projections.Batched): on PostgreSQL
// one round trip for all of them instead of one each.
func (v *View) AheadShares(user domain.UserID, items []rights.ItemID) {
	if _, batched := v.r.(projections.Batched); !batched || v.err != nil || len(items) == 0 {
		return
	}
	want := make([]docKey, len(items))
	for i, it := range items {
		want[i] = docKey{Shares, string(it), string(user)}
	}
	v.readAll(nil, want)
}

// Check is one question whose reads AheadChecks gathers: User's rights on
// Item, or on Member.
type Check struct {
	User   domain.UserID
	Item   rights.ItemID
	Member rights.MemberID
	// Reach: also what who can act on the member reads
	// (rights.ReachOnMember): the tree above its placement, whether or
	// not User is placed.
	Reach bool
}

// AheadChecks reads at once what evaluating each check (rights.OnItem,
// rights.OnMember) will read, and remembers it as if each document had
// been read alone: the users; the items and each user's share of them;
// whether each member is known to the account, its collections, its
// single share to the user and, if the user is placed on a node, its
// placement; then those collections and the user's shares of them, the
// users' roles, and the paths from the root of the nodes the evaluation
// starts from (the users' and the items' nodes, the placements), which
// give the tree above them in one read (a model without paths is walked
// up a level per read). On PostgreSQL that is four round trips for a
// chunk of rows, or a batch of checks, instead of about ten for each.
//
// On a store whose reads are in-process (not projections.Batched) reading
// ahead only adds work, reading for rows that a full page leaves unseen:
// there it does nothing.
func (v *View) AheadChecks(checks []Check) {
	if _, batched := v.r.(projections.Batched); !batched || v.err != nil || len(checks) == 0 {
		return
	}
	// About eight documents a check (fewer when they share them): the
	// map sized once rather than grown.
	if v.docs == nil {
		v.docs = make(map[docKey]*entry, 8*len(checks))
	}
	members, items, want := v.firstReads(checks)
	// The collections of the members come in the same round trip.
	v.readAll(members, want)
	v.thenReads(checks, items)
}

// firstReads are what evaluating checks reads that the view can name
// before reading anything: the users, the items and each user's share of
// them, and whether each member is known to the account, its single share
// to the user and, if the user is placed on a node, its placement; and
// the members whose collections it reads.
func (v *View) firstReads(checks []Check) (members, items []string, want []docKey) {
	// A member's placement matters only to a user placed on a node
	// (rights.OnMember); whether a user is, the view may know already.
	unplaced := func(u domain.UserID) bool {
		e, ok := v.docs[docKey{Users, string(u), ""}]
		d, decoded := entryVal[User](e, ok)
		return decoded && d.Node == ""
	}
	want = make([]docKey, 0, 4*len(checks))
	for _, c := range checks {
		want = append(want, docKey{Users, string(c.User), ""})
		switch {
		case c.Item != "":
			items = append(items, string(c.Item))
			want = append(want, docKey{Items, string(c.Item), ""}, docKey{Shares, string(c.Item), string(c.User)})
		case c.Member != "":
			members = append(members, string(c.Member))
			want = append(want, docKey{Known, string(c.Member), ""}, docKey{MemberShares, string(c.Member), string(c.User)})
			if c.Reach || !unplaced(c.User) {
				want = append(want, docKey{Placed, string(c.Member), ""})
			}
		}
	}
	return members, items, want
}

// thenReads reads, once firstReads are read, the rest of what evaluating
// checks reads (AheadChecks).
func (v *View) thenReads(checks []Check, items []string) {
	// The collections of the members and the users' shares of them, the
	// roles the users hold, whether a member the account does not hold
	// is a subuser, and the paths of the nodes known so far (the items
	// asked about are read; the members' collections are not yet).
	nodes := v.itemNodes(items)
	var want []docKey
	seenRole := map[string]bool{}
	for _, c := range checks {
		u, ok := v.Subuser(c.User)
		if ok {
			for _, r := range u.Roles {
				if !seenRole[r] {
					seenRole[r] = true
					want = append(want, docKey{Roles, r, ""})
				}
			}
			if u.Node != "" {
				nodes = append(nodes, string(u.Node))
			}
		}
		if c.Member == "" {
			continue
		}
		if !v.Holds(c.Member) {
			want = append(want, docKey{Users, string(c.Member), ""})
		}
		if u.Node != "" || c.Reach {
			if n := v.Placement(c.Member); n != "" {
				nodes = append(nodes, string(n))
			}
		}
		for _, it := range v.lists[string(c.Member)] {
			items = append(items, string(it))
			want = append(want, docKey{Items, string(it), ""}, docKey{Shares, string(it), string(c.User)})
		}
	}
	nodes = v.unwalked(nodes)
	for _, n := range nodes {
		want = append(want, docKey{Paths, n, ""})
	}
	v.readAll(nil, want)
	walk := v.seedPaths(nodes)
	// The nodes of the collections just read.
	v.paths(v.unwalked(v.itemNodes(items)), walk)
}

// entryVal is the value of e (ok: the view has it) as a T, if decoded or
// handed already.
func entryVal[T any](e *entry, ok bool) (T, bool) {
	var out T
	if !ok || e.val == nil {
		return out, false
	}
	out, ok = e.val.(T)
	return out, ok
}

// itemNodes are the nodes of those of items that belong to the tree.
func (v *View) itemNodes(items []string) []string {
	var out []string
	for _, id := range items {
		if it, ok := v.Item(rights.ItemID(id)); ok && it.Node != "" {
			out = append(out, string(it.Node))
		}
	}
	return out
}

// unwalked are those of nodes, once each, whose parent the view does not
// know yet.
func (v *View) unwalked(nodes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range nodes {
		if seen[n] {
			continue
		}
		seen[n] = true
		if _, ok := v.parents[rights.ItemID(n)]; ok {
			continue
		}
		if e, ok := v.docs[docKey{Parents, n, ""}]; ok && e.state != unread {
			continue
		}
		out = append(out, n)
	}
	return out
}

// paths reads the paths of nodes at once and walks up, a level per read,
// from those without one and from walk.
func (v *View) paths(nodes, walk []string) {
	v.readAll(nil, idsOf(Paths, nodes))
	v.tree(append(walk, v.seedPaths(nodes)...))
}

// idsOf are the keys of ids in table.
func idsOf(table string, ids []string) []docKey {
	out := make([]docKey, len(ids))
	for i, id := range ids {
		out[i] = docKey{table, id, ""}
	}
	return out
}

// seedPaths takes each of nodes' paths, read already, as the parents of
// the nodes on it, and returns the nodes that have none: a model not
// rebuilt since paths came, or a node under one, whose tree is walked
// through Parents instead.
func (v *View) seedPaths(nodes []string) (walk []string) {
	for _, n := range nodes {
		path, ok := getAs[[]rights.ItemID](v, docKey{Paths, n, ""})
		if !ok || len(path) == 0 || path[len(path)-1] != rights.ItemID(n) {
			walk = append(walk, n)
			continue
		}
		for i, at := range path {
			var parent rights.ItemID
			if i > 0 {
				parent = path[i-1]
			}
			v.knowParent(at, parent)
		}
	}
	return walk
}

// tree reads the tree above nodes, one level at a time.
func (v *View) tree(nodes []string) {
	for depth := 0; len(nodes) > 0 && depth < maxDepth; depth++ {
		// A node whose parent the view knows is not read again: a path
		// gave the nodes above it, or a walk passed it (whatever is
		// still unknown above it, Parent reads when asked).
		nodes = slices.DeleteFunc(nodes, func(n string) bool {
			_, ok := v.parents[rights.ItemID(n)]
			return ok
		})
		v.readAll(nil, idsOf(Parents, nodes))
		if v.err != nil {
			return
		}
		var above []string
		for _, n := range nodes {
			if p := v.parent(rights.ItemID(n)); p != "" {
				above = append(above, string(p))
			}
		}
		nodes = above
	}
}

// UsersFor reads, for Query.ReadUsers, the subusers at key parts, in
// their order (a part whose user is gone is left out), together with what
// evaluating caller's rights on each of them reads first (firstReads): on
// PostgreSQL one round trip, where reading the users and then reading
// ahead for their rights took two. The rights are read for every user
// handed on, including those the caller's filter (a search) then leaves
// out; a search hands on the holders of its rarest gram, most of whom
// match it.
func (v *View) UsersFor(caller domain.UserID) func(parts []string) ([]User, error) {
	return v.usersWith(func(parts []string) ([]string, []docKey) {
		checks := make([]Check, len(parts))
		for i, p := range parts {
			checks[i] = Check{User: caller, Member: rights.MemberID(p)}
		}
		members, _, want := v.firstReads(checks)
		return members, want
	})
}

// usersWith reads the subusers at key parts, in their order, with what
// also (given the parts) names: the members whose collections to read,
// and documents, all in one round trip where the store pipelines.
func (v *View) usersWith(also func(parts []string) (members []string, want []docKey)) func(parts []string) ([]User, error) {
	return func(parts []string) ([]User, error) {
		if _, batched := v.r.(projections.Batched); batched && v.err == nil {
			members, want := also(parts)
			for _, p := range parts {
				want = append(want, docKey{Users, p, ""})
			}
			v.readAll(members, want)
		}
		out := make([]User, 0, len(parts))
		for _, p := range parts {
			if u, ok := getAs[User](v, docKey{Users, p, ""}); ok {
				out = append(out, u)
			}
		}
		return out, v.Err()
	}
}

// Knows takes users that a list read as the view's own documents, so that
// an evaluation of rights on them (a subuser is a member too) does not
// read them again.
func (v *View) Knows(users []User) {
	for _, u := range users {
		v.hand(docKey{Users, string(u.ID), ""}, u)
	}
}

// AheadUsers takes users, rows of the account's users that the caller
// read through this view's reader (UsersAhead), as this view's own, so
// that evaluating them neither reads nor decodes them again, and reads at
// once what evaluating their rights on items and, if set, on member reads
// besides: their shares of the items, their single shares of the member,
// and their placements.
func (v *View) AheadUsers(users []User, items []rights.ItemID, member rights.MemberID) {
	v.Knows(users)
	if _, batched := v.r.(projections.Batched); !batched || v.err != nil || len(users) == 0 {
		return
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = string(u.ID)
	}
	v.readAll(nil, subjectReads(ids, items, member))
}

// subjectReads are what evaluating the rights of users (ids) on items
// and, if set, on member reads besides their documents (AheadUsers).
func subjectReads(ids []string, items []rights.ItemID, member rights.MemberID) []docKey {
	var want []docKey
	for _, id := range ids {
		want = append(want, docKey{Placed, id, ""})
		for _, it := range items {
			want = append(want, docKey{Shares, string(it), id})
		}
		if member != "" {
			want = append(want, docKey{MemberShares, string(member), id})
		}
	}
	return want
}

// UsersOn reads, for Query.ReadUsers, the subusers at key parts, in their
// order (a part whose user is gone is left out), together with what
// evaluating their rights on items and, if set, on member reads besides
// (AheadUsers): on PostgreSQL one round trip, where reading the users
// and then reading ahead for their rights took two.
func (v *View) UsersOn(items []rights.ItemID, member rights.MemberID) func(parts []string) ([]User, error) {
	return v.usersWith(func(parts []string) ([]string, []docKey) {
		return nil, subjectReads(parts, items, member)
	})
}

// AheadItems takes items, rows of the account's items that the caller
// read through this view's reader (ItemsAhead), as this view's own, and
// reads at once what evaluating user's rights on each of them reads
// besides (AheadChecks).
func (v *View) AheadItems(user domain.UserID, items []Item) {
	checks := make([]Check, len(items))
	for i, it := range items {
		v.hand(docKey{Items, string(it.ID), ""}, it)
		checks[i] = Check{User: user, Item: it.ID}
	}
	v.AheadChecks(checks)
}

// AheadMembers takes members, rows of the members the account knows of
// that the caller read through this view's reader (MembersAhead), as this
// view's own, and reads at once what evaluating user's rights on each of
// them reads besides (Ahead).
func (v *View) AheadMembers(user domain.UserID, members []Member) {
	ids := make([]rights.MemberID, len(members))
	for i, m := range members {
		v.hand(docKey{Known, string(m.ID), ""}, m)
		ids[i] = m.ID
	}
	v.Ahead(user, ids)
}

// Member is a vehicle, driver, marker or placed user the account knows
// of, read once per view.
func (v *View) Member(id rights.MemberID) (Member, bool) {
	return getAs[Member](v, docKey{Known, string(id), ""})
}

// maxDepth bounds the walk up the tree: no real hierarchy is deeper.
const maxDepth = 64

// readAll reads at once the documents of want that the view has not read
// yet, and the collections of members that it has not read yet, in the
// same round trip where the store pipelines (projections.GetAndScan).
func (v *View) readAll(members []string, want []docKey) {
	if v.err != nil {
		return
	}
	var tables []projections.TableKeys
	// reading: the entries being read, by their table and key in the
	// store, which the store's rows name; one map for the view's reads,
	// emptied after each.
	if v.reading == nil {
		v.reading = make(map[tableKey]*entry, len(want))
	}
	reading := v.reading
	defer clear(reading)
	for _, k := range want {
		e := v.entry(k)
		if e.state != unread {
			continue // read, or taken from a list's rows (Knows, AheadItems)
		}
		e.state = absent // unless read below; asked once
		key := v.storeKey(k)
		reading[tableKey{k.table, key}] = e
		i := slices.IndexFunc(tables, func(tk projections.TableKeys) bool { return tk.Table == k.table })
		if i < 0 {
			tables, i = append(tables, projections.TableKeys{Table: k.table}), len(tables)
		}
		tables[i].Keys = append(tables[i].Keys, key)
	}
	owned := projections.DocsOwned(v.r)
	got := func(table, k string, doc []byte) error {
		if e := reading[tableKey{table, k}]; e != nil {
			if !owned {
				doc = slices.Clone(doc)
			}
			e.state, e.doc = found, doc
		}
		return nil
	}
	var err error
	l := v.listing(members)
	if l == nil {
		err = projections.GetTables(v.ctx, v.r, tables, got)
	} else {
		err = projections.GetAndScan(v.ctx, v.r, tables, projections.TableKeys{Table: In, Keys: l.prefixes}, got, l.add)
	}
	if err != nil {
		v.err = err
		for _, e := range reading {
			e.state, e.doc = unread, nil
		}
		return
	}
	l.done(v)
}

// tableKey is a document's table and key in the store.
type tableKey struct{ table, key string }

// listing is a read of the collections of members: the prefixes of their
// rows in In, and what was found under each.
type listing struct {
	byPrefix map[string]string
	prefixes []string
	found    map[string][]rights.ItemID
}

// listing is the read of the collections of ids that the view has not
// read yet: nil if none, or if the view failed.
func (v *View) listing(ids []string) *listing {
	l := &listing{byPrefix: map[string]string{}, found: map[string][]rights.ItemID{}}
	for _, id := range ids {
		if _, ok := v.lists[id]; ok {
			continue
		}
		p := Key(v.acc, id) + "/"
		if _, dup := l.byPrefix[p]; !dup {
			l.byPrefix[p] = id
			l.prefixes = append(l.prefixes, p)
		}
	}
	if len(l.prefixes) == 0 || v.err != nil {
		return nil
	}
	return l
}

// add takes a row of In under one of the prefixes.
func (l *listing) add(k string, doc []byte) error {
	p := k[:strings.LastIndexByte(k, '/')+1]
	id, ok := l.byPrefix[p]
	if !ok {
		return nil // under a longer member's prefix: not asked for
	}
	item, err := projections.SetMember(k, p, doc)
	l.found[id] = append(l.found[id], rights.ItemID(item))
	return err
}

// done keeps the collections read in the view (none: nothing to keep).
func (l *listing) done(v *View) {
	if l == nil {
		return
	}
	if v.lists == nil {
		v.lists = map[string][]rights.ItemID{}
	}
	for _, p := range l.prefixes {
		id := l.byPrefix[p]
		v.lists[id] = slices.Clip(l.found[id])
	}
}
