package rights

import (
	"slices"

	"github.com/shareledger/shareledger/domain"
)

// Reach says where a grant of at least some level on one item or member
// can come from, in the terms a read side can index: administrators
// (always), the users named, the holders of private shares of the items
// named and of the member named, and the holders of a role or direct
// rights that grant at least the level on a kind. Every subuser holding
// the level is among them; not every one of them holds it (a holder of
// hierarchy rights must be placed above the node, a share may be a
// lesser one), so who answers "who can edit this" reads only them, and
// then evaluates each as a check would (OnItem, OnMember).
type Reach struct {
	// Users are the creators of the item, or of the collections that
	// hold the member.
	Users []domain.UserID
	// Shared are items whose private shares reach the object: the item
	// itself, or the collections that hold the member.
	Shared []ItemID
	// Member is the member whose single private shares reach it ("" for
	// an item).
	Member MemberID
	// Public are the kinds whose roles and direct rights reach it, and
	// how much of them it takes.
	Public []PublicReach
	// Placed are the nodes whose subusers the hierarchy's rights may
	// reach it from: the node it is on, or that its collection belongs
	// to, and every node above that one.
	Placed []ItemID
}

// PublicReach asks for roles and direct rights on public items of Kind
// that grant at least Least, on the items themselves or, with Members, on
// their members.
type PublicReach struct {
	Kind    Kind
	Members bool
	Least   Level
}

// Grants says whether rights held on the kind are enough.
func (p PublicReach) Grants(r Rights) bool {
	if p.Members {
		return r.Member.AtLeast(p.Least)
	}
	return r.Item.AtLeast(p.Least)
}

// ReachOnItem is where item rights of at least least on item id come
// from (OnItem): its creator, its private shares, the roles and direct
// rights on its kind if it is public, or, if it is a node or a node's
// fleet or team, the subusers placed on that node or above it. least
// must be above None: every subuser "holds" none.
func ReachOnItem(v Account, id ItemID, least Level) Reach {
	var out Reach
	out.Shared = []ItemID{id}
	it, ok := v.Item(id)
	if !ok {
		return out
	}
	out.add(v, it, PublicReach{Least: least})
	return out
}

// ReachOnMember is where member rights of at least least on member m come
// from (OnMember): through each collection that holds it (its creator,
// its private shares, its kind's roles and direct rights, or the
// subusers placed above its node), its own private shares, and the
// hierarchy: the subusers placed on its node or above it, or, for a
// member on no node, every holder of hierarchy rights.
func ReachOnMember(v Account, m MemberID, least Level) Reach {
	out := Reach{Member: m}
	for _, c := range v.CollectionsOf(m) {
		out.Shared = append(out.Shared, c)
		if it, ok := v.Item(c); ok {
			out.add(v, it, PublicReach{Members: true, Least: least})
		}
	}
	if at := v.Placement(m); at != "" {
		out.above(v, at)
	} else {
		out.public(PublicReach{Kind: Node, Members: true, Least: least})
	}
	return out
}

// add is what reaches through item it: its creator, and its kind's public
// rights if it is public, or the subusers placed above it if it belongs
// to the tree.
func (r *Reach) add(v Account, it Item, p PublicReach) {
	if it.Creator != "" {
		r.Users = append(r.Users, it.Creator)
	}
	switch {
	case it.Kind == Node:
		r.above(v, it.ID)
	case it.Node != "":
		r.above(v, it.Node)
	case it.Public:
		p.Kind = it.Kind
		r.public(p)
	}
}

// above adds node and every node above it to Placed, each once; it stops
// where within would (a broken parent chain cannot loop).
func (r *Reach) above(v Account, node ItemID) {
	for i := 0; node != "" && i < 1000; i++ {
		if !slices.Contains(r.Placed, node) {
			r.Placed = append(r.Placed, node)
		}
		node = v.Parent(node)
	}
}

func (r *Reach) public(p PublicReach) {
	for _, q := range r.Public {
		if q == p {
			return
		}
	}
	r.Public = append(r.Public, p)
}
