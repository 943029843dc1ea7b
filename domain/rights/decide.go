package rights

import (
	"fmt"

	"github.com/shareledger/shareledger/domain"
)

// ItemID identifies a fleet, team, category, report or hierarchy node.
type ItemID string

// MemberID identifies a vehicle, driver, marker or user.
type MemberID string

// Subuser is what the evaluation needs to know about a user.
type Subuser struct {
	ID    domain.UserID
	Admin bool
	Roles []string
	// Direct rights set on the user, by kind of public item.
	Direct map[Kind]Rights
	// Node is where the user is placed in the hierarchy ("" for none).
	Node ItemID
}

// Item is what the evaluation needs to know about a collection or node.
type Item struct {
	ID      ItemID
	Kind    Kind
	Name    string
	Public  bool
	Creator domain.UserID
	// Node is the hierarchy node of a node, or of the fleet or team a
	// node implies; "" for items made on their own screens.
	Node ItemID
}

// Account is the evaluation's window on an account: the read side
// implements it from read models, tests from memory. Absent things are
// zero values.
type Account interface {
	Subuser(id domain.UserID) (Subuser, bool)
	// RoleRights is what a role grants on public items of a kind.
	RoleRights(role string, k Kind) Rights
	Item(id ItemID) (Item, bool)
	// Share is what the item's creator privately shared with user.
	Share(item ItemID, user domain.UserID) (Rights, bool)
	// CollectionsOf lists the fleets, teams and categories a member is in.
	CollectionsOf(m MemberID) []ItemID
	// Placement is the node a vehicle, driver or user is placed on ("": none).
	Placement(m MemberID) ItemID
	// Parent is a node's parent ("" at the root).
	Parent(n ItemID) ItemID
	// MemberShare is the member rights a vehicle, driver or marker is
	// privately shared with a user at, on its own.
	MemberShare(m MemberID, user domain.UserID) (Level, bool)
	// Holds says whether the account holds a vehicle, driver or marker by
	// this id: one added to a collection or placed on a node. (Its
	// subusers are members of the hierarchy too; Subuser says which.)
	Holds(m MemberID) bool
}

// Source says where rights come from.
type Source struct {
	// Via is one of "administrator", "creator", "role", "direct",
	// "private-share", "hierarchy".
	Via string `json:"via"`
	// Name is the role, or the hierarchy node, that grants the rights.
	Name string `json:"name,omitempty"`
	// Collection is the fleet, team or category through which member
	// rights reach a vehicle, driver or marker.
	Collection ItemID `json:"collection,omitempty"`
	Rights     Rights `json:"rights"`
}

// Grant is a user's rights on something and every source of them, the
// most generous first.
type Grant struct {
	Rights  Rights   `json:"rights"`
	Sources []Source `json:"sources"`
}

func (g *Grant) add(s Source) {
	if s.Rights.IsNone() {
		return
	}
	g.Rights = g.Rights.Max(s.Rights)
	g.Sources = append(g.Sources, s)
}

// ErrUnknownUser: the user is not a subuser of the account.
var ErrUnknownUser = domain.NewError(domain.NotFound, "unknown-subuser", "no such subuser in this account")

// OnItem is what user may do with item, and why.
func OnItem(v Account, user domain.UserID, id ItemID) (Grant, error) {
	u, ok := v.Subuser(user)
	if !ok {
		return Grant{}, ErrUnknownUser.Withf("no subuser %s in this account", user)
	}
	it, ok := v.Item(id)
	if !ok {
		return Grant{}, domain.NewError(domain.NotFound, "unknown-item", fmt.Sprintf("no item %s in this account", id))
	}
	var g Grant
	all := Rights{Item: Full, Member: Full}
	if u.Admin {
		g.add(Source{Via: "administrator", Rights: all})
	}
	// The creator keeps a creator's rights whether the item is private
	// or public: making it public shares it with others, and takes
	// nothing from the one who made it.
	if it.Creator == user && it.Creator != "" {
		g.add(Source{Via: "creator", Rights: all})
	}
	if it.Node != "" || it.Kind == Node {
		// Hierarchy nodes and the fleets and teams they imply are public
		// to the users placed on the node or above it.
		node := it.Node
		if it.Kind == Node {
			node = it.ID
		}
		if u.Node != "" && within(v, node, u.Node) {
			for _, s := range kindRights(v, u, Node) {
				s.Via, s.Name = "hierarchy", string(u.Node)
				g.add(s)
			}
		}
	} else if it.Public {
		for _, s := range kindRights(v, u, it.Kind) {
			g.add(s)
		}
	}
	if r, ok := v.Share(id, user); ok {
		g.add(Source{Via: "private-share", Rights: r})
	}
	sortSources(&g)
	return g, nil
}

// OnMember is what user may do with a vehicle, driver, marker or user: the
// most generous member rights over every collection that holds it and that
// the user has rights on, and over the hierarchy.
func OnMember(v Account, user domain.UserID, m MemberID) (Grant, error) {
	u, ok := v.Subuser(user)
	if !ok {
		return Grant{}, ErrUnknownUser.Withf("no subuser %s in this account", user)
	}
	var g Grant
	if !v.Holds(m) {
		if _, isUser := v.Subuser(domain.UserID(m)); !isUser {
			// Another account's vehicle, or none: no one here has rights
			// on it, whatever reaches "every vehicle" (an
			// administrator, the hierarchy's unplaced members).
			return g, nil
		}
	}
	if u.Admin {
		g.add(Source{Via: "administrator", Rights: Rights{Item: Full, Member: Full}})
	}
	for _, c := range v.CollectionsOf(m) {
		on, err := OnItem(v, user, c)
		if err != nil {
			continue
		}
		for _, s := range on.Sources {
			if s.Via == "administrator" || s.Rights.Member == None {
				continue
			}
			g.add(Source{Via: s.Via, Name: s.Name, Collection: c, Rights: Rights{Member: s.Rights.Member}})
		}
	}
	if l, ok := v.MemberShare(m, user); ok && l != None {
		g.add(Source{Via: "private-share", Rights: Rights{Member: l}})
	}
	// The hierarchy: items placed on the user's node or below it, or on
	// no node at all, reach the user with their hierarchy member rights.
	if u.Node != "" {
		at := v.Placement(m)
		if at == "" || within(v, at, u.Node) {
			for _, s := range kindRights(v, u, Node) {
				g.add(Source{Via: "hierarchy", Name: string(u.Node), Rights: Rights{Member: s.Rights.Member}})
			}
		}
	}
	sortSources(&g)
	return g, nil
}

// kindRights are a user's public rights on a kind: each role's, and the
// direct rights.
func kindRights(v Account, u Subuser, k Kind) []Source {
	var out []Source
	for _, role := range u.Roles {
		if r := v.RoleRights(role, k); !r.IsNone() {
			out = append(out, Source{Via: "role", Name: role, Rights: r})
		}
	}
	if r := u.Direct[k]; !r.IsNone() {
		out = append(out, Source{Via: "direct", Rights: r})
	}
	return out
}

// within says whether node lies in the subtree rooted at top. It stops
// after a depth no real tree has, so a broken parent chain cannot loop.
func within(v Account, node, top ItemID) bool {
	for i := 0; node != "" && i < 1000; i++ {
		if node == top {
			return true
		}
		node = v.Parent(node)
	}
	return false
}

// sortSources puts the most generous sources first (stable).
func sortSources(g *Grant) {
	score := func(r Rights) int { return int(r.Item.n)*4 + int(r.Member.n) }
	for i := 1; i < len(g.Sources); i++ {
		for j := i; j > 0 && score(g.Sources[j].Rights) > score(g.Sources[j-1].Rights); j-- {
			g.Sources[j], g.Sources[j-1] = g.Sources[j-1], g.Sources[j]
		}
	}
}

// MembersOnlyThroughCollections says whether a subuser's member rights can
// come only from particular collections (shared with them privately, or
// made by them): they are no administrator, are placed on no node, and no
// role or direct right of theirs grants member rights on a public kind.
// Then the vehicles, drivers and markers they may see are among the
// members of those collections and the members shared with them on their
// own, and a list need not look at every member of the account.
func MembersOnlyThroughCollections(v Account, user domain.UserID) bool {
	u, ok := v.Subuser(user)
	if !ok || u.Admin || u.Node != "" {
		return false
	}
	for _, k := range []Kind{Fleet, Team, Category, Node} {
		if u.Direct[k].Member != None {
			return false
		}
		for _, role := range u.Roles {
			if v.RoleRights(role, k).Member != None {
				return false
			}
		}
	}
	return true
}
