// Package rights decides what a subuser may do with an account's fleets,
// teams, marker categories, reports and hierarchy nodes, and with the
// vehicles, drivers, markers and users in them, and says why.
//
// Rights come in two kinds with ordered levels (none < view < edit <
// full): item rights, to work with a collection, and member rights, to
// work with the items in it. They reach a user through roles and direct
// rights (public items of a kind), private shares (one item, one user),
// the hierarchy (a user placed on a node reaches its subtree), creation
// (the creator of a private item has full rights) and administration
// (administrators have full rights on everything). The most generous
// source wins.
package rights

import (
	"slices"
	"strings"

	"github.com/shareledger/shareledger/domain"
)

// Level is how much a user may do. Its zero value is None.
type Level struct{ n uint8 }

var (
	None = Level{0}
	View = Level{1} // see it
	Edit = Level{2} // change it
	Full = Level{3} // change, delete and share it
)

var levelNames = []string{"none", "view", "edit", "full"}

func (l Level) String() string { return levelNames[l.n] }

// AtLeast says whether l allows what m requires.
func (l Level) AtLeast(m Level) bool { return l.n >= m.n }

// ParseLevel reads a level's name.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level{uint8(i)}, nil
		}
	}
	return None, domain.Invalidf("invalid-level", "rights level %q is not one of none, view, edit, full", s)
}

// MarshalText stores a level by name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// EnumNames are the names a stored level may hold (domain.Enumerated).
func (Level) EnumNames() []string { return slices.Clone(levelNames) }

// UnmarshalText reads a stored level.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

func maxLevel(a, b Level) Level {
	if a.n >= b.n {
		return a
	}
	return b
}

// Rights are item rights and member rights on a collection.
type Rights struct {
	Item   Level `json:"item"`
	Member Level `json:"member"`
}

// Max is the more generous of two rights, kind by kind.
func (r Rights) Max(o Rights) Rights {
	return Rights{Item: maxLevel(r.Item, o.Item), Member: maxLevel(r.Member, o.Member)}
}

// IsNone says whether r grants nothing.
func (r Rights) IsNone() bool { return r == Rights{} }

// Kind is a kind of shareable item.
type Kind string

const (
	Fleet    Kind = "fleet"
	Team     Kind = "team"
	Category Kind = "category"
	Report   Kind = "report"
	Node     Kind = "node" // hierarchy nodes, and the fleet and team each one implies
)

// ParseKind reads an item kind.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case Fleet, Team, Category, Report, Node:
		return k, nil
	}
	return "", domain.Invalidf("invalid-kind", "item kind %s is not one of fleet, team, category, report, node", domain.Quote(s))
}

// MemberKind is what a member is.
type MemberKind string

const (
	Vehicle MemberKind = "vehicle"
	Driver  MemberKind = "driver"
	Marker  MemberKind = "marker"
	User    MemberKind = "user"
)

// ParseMemberKind reads a member kind.
func ParseMemberKind(s string) (MemberKind, error) {
	switch k := MemberKind(s); k {
	case Vehicle, Driver, Marker, User:
		return k, nil
	}
	return "", domain.Invalidf("invalid-member-kind", "member kind %s is not one of vehicle, driver, marker, user", domain.Quote(s))
}

// ParseItemID reads the id of a fleet, team, category, report or node.
func ParseItemID(field, s string) (ItemID, error) {
	id, err := domain.ParseID(field, s)
	return ItemID(id), err
}

// ParseMember reads the id of a member of a kind: a user is a person, named
// by their e-mail address in its normal form; the others are ids.
func ParseMember(kind MemberKind, s string) (MemberID, error) {
	if kind == User {
		u, err := domain.ParseUser(s)
		return MemberID(u), err
	}
	id, err := domain.ParseID("member", s)
	return MemberID(id), err
}

// ParseAnyMember reads a member id of an unknown kind: an address is a
// person's (in its normal form), anything else an id. Ids never hold '@',
// so the two cannot be confused.
func ParseAnyMember(s string) (MemberID, error) {
	if strings.Contains(s, "@") {
		return ParseMember(User, s)
	}
	return ParseMember(Vehicle, s)
}
