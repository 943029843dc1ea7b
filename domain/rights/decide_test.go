package rights_test

import (
	"errors"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

// memory is an account held in maps.
type memory struct {
	users       map[domain.UserID]rights.Subuser
	roles       map[string]map[rights.Kind]rights.Rights
	items       map[rights.ItemID]rights.Item
	shares      map[rights.ItemID]map[domain.UserID]rights.Rights
	collections map[rights.MemberID][]rights.ItemID
	placements  map[rights.MemberID]rights.ItemID
	parents     map[rights.ItemID]rights.ItemID
	held        map[rights.MemberID]bool // held, in no collection and on no node
	// memberShares are private shares of single members.
	memberShares map[rights.MemberID]map[domain.UserID]rights.Level
}

func (m memory) Subuser(id domain.UserID) (rights.Subuser, bool)     { u, ok := m.users[id]; return u, ok }
func (m memory) RoleRights(role string, k rights.Kind) rights.Rights { return m.roles[role][k] }
func (m memory) Item(id rights.ItemID) (rights.Item, bool)           { it, ok := m.items[id]; return it, ok }
func (m memory) Share(item rights.ItemID, u domain.UserID) (rights.Rights, bool) {
	r, ok := m.shares[item][u]
	return r, ok
}
func (m memory) CollectionsOf(x rights.MemberID) []rights.ItemID { return m.collections[x] }
func (m memory) Placement(x rights.MemberID) rights.ItemID       { return m.placements[x] }
func (m memory) Parent(n rights.ItemID) rights.ItemID            { return m.parents[n] }
func (m memory) MemberShare(x rights.MemberID, u domain.UserID) (rights.Level, bool) {
	l, ok := m.memberShares[x][u]
	return l, ok
}
func (m memory) Holds(x rights.MemberID) bool {
	_, placed := m.placements[x]
	return len(m.collections[x]) > 0 || placed || m.held[x]
}

var (
	none    = rights.Rights{}
	view    = rights.Rights{Item: rights.View, Member: rights.View}
	edit    = rights.Rights{Item: rights.Edit, Member: rights.Edit}
	all     = rights.Rights{Item: rights.Full, Member: rights.Full}
	viewOne = rights.Rights{Item: rights.View}
)

// account builds the test account:
//
//	hierarchy: hq > (east > (depot-e1, depot-e2)), (west > depot-w1)
//	fleets: north (public), south (public), secret (private, by carl),
//	        and the fleet implied by node east
//	vehicles: v1 in north and south; v2 in secret; v3 placed on depot-e1,
//	          v4 placed on hq, v5 placed on depot-w1, v6 on no node
func account() memory {
	return memory{
		users: map[domain.UserID]rights.Subuser{
			"ann@x":  {ID: "ann@x", Roles: []string{"viewer"}},  // public view on all fleets
			"bob@x":  {ID: "bob@x"},                             // nothing public
			"carl@x": {ID: "carl@x", Roles: []string{"viewer"}}, // created the private fleet
			"dora@x": {ID: "dora@x", Node: "east", Direct: map[rights.Kind]rights.Rights{rights.Node: edit}},
			"erin@x": {ID: "erin@x", Admin: true},                                                  // administrator
			"fred@x": {ID: "fred@x", Direct: map[rights.Kind]rights.Rights{rights.Fleet: viewOne}}, // item rights only
			"gina@x": {ID: "gina@x", Node: "depot-e1", Roles: []string{"viewer"}},
		},
		roles: map[string]map[rights.Kind]rights.Rights{
			"viewer": {rights.Fleet: view, rights.Team: view},
		},
		items: map[rights.ItemID]rights.Item{
			"north":      {ID: "north", Kind: rights.Fleet, Public: true},
			"south":      {ID: "south", Kind: rights.Fleet, Public: true},
			"secret":     {ID: "secret", Kind: rights.Fleet, Creator: "carl@x"},
			"carls":      {ID: "carls", Kind: rights.Category, Public: true, Creator: "carl@x"},
			"east-fleet": {ID: "east-fleet", Kind: rights.Fleet, Node: "east"},
			"hq":         {ID: "hq", Kind: rights.Node},
			"east":       {ID: "east", Kind: rights.Node},
			"west":       {ID: "west", Kind: rights.Node},
			"depot-e1":   {ID: "depot-e1", Kind: rights.Node},
			"depot-e2":   {ID: "depot-e2", Kind: rights.Node},
			"depot-w1":   {ID: "depot-w1", Kind: rights.Node},
		},
		shares: map[rights.ItemID]map[domain.UserID]rights.Rights{
			"south":  {"ann@x": edit},
			"secret": {"bob@x": {Item: rights.View, Member: rights.Edit}},
		},
		collections: map[rights.MemberID][]rights.ItemID{
			"v1": {"north", "south"},
			"v2": {"secret"},
		},
		placements:   map[rights.MemberID]rights.ItemID{"v3": "depot-e1", "v4": "hq", "v5": "depot-w1"},
		held:         map[rights.MemberID]bool{"v6": true},
		memberShares: map[rights.MemberID]map[domain.UserID]rights.Level{"v2": {"ann@x": rights.Edit}},
		parents:      map[rights.ItemID]rights.ItemID{"east": "hq", "west": "hq", "depot-e1": "east", "depot-e2": "east", "depot-w1": "west"},
	}
}

func TestItemRights(t *testing.T) {
	cases := []struct {
		name string
		user domain.UserID
		item rights.ItemID
		want rights.Rights
		via  string // the most generous source
	}{
		{"a role shares public fleets", "ann@x", "north", view, "role"},
		{"public view plus private edit: the private share wins", "ann@x", "south", edit, "private-share"},
		{"no role, no share: nothing", "bob@x", "north", none, ""},
		{"a private fleet is invisible to a role", "ann@x", "secret", none, ""},
		{"a private fleet shared with one user", "bob@x", "secret", rights.Rights{Item: rights.View, Member: rights.Edit}, "private-share"},
		{"the creator of a private fleet has full rights", "carl@x", "secret", all, "creator"},
		{"and keeps them when the item is public: a subuser's own public category", "carl@x", "carls", all, "creator"},
		{"which reaches others through their roles only", "bob@x", "carls", none, ""},
		{"administrators have full rights", "erin@x", "secret", all, "administrator"},
		{"direct item rights without member rights", "fred@x", "north", viewOne, "direct"},
		{"a node's own fleet reaches its users through hierarchy rights", "dora@x", "east-fleet", edit, "hierarchy"},
		{"fleet roles do not reach a node's fleet", "ann@x", "east-fleet", none, ""},
		{"a user on a middle node sees that node", "dora@x", "east", edit, "hierarchy"},
		{"and its children", "dora@x", "depot-e2", edit, "hierarchy"},
		{"never its parent", "dora@x", "hq", none, ""},
		{"nor another branch", "dora@x", "depot-w1", none, ""},
		{"a user on a leaf sees only the leaf", "gina@x", "east", none, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := rights.OnItem(account(), c.user, c.item)
			if err != nil {
				t.Fatal(err)
			}
			if g.Rights != c.want {
				t.Fatalf("rights = %+v, want %+v (sources %+v)", g.Rights, c.want, g.Sources)
			}
			if c.via == "" {
				if len(g.Sources) != 0 {
					t.Fatalf("sources %+v for no rights", g.Sources)
				}
				return
			}
			if len(g.Sources) == 0 || g.Sources[0].Via != c.via {
				t.Fatalf("most generous source %+v, want via %s", g.Sources, c.via)
			}
		})
	}
}

func TestMemberRights(t *testing.T) {
	cases := []struct {
		name       string
		user       domain.UserID
		member     rights.MemberID
		want       rights.Level
		via        string
		collection rights.ItemID
	}{
		{"a vehicle in two fleets: the more generous fleet wins", "ann@x", "v1", rights.Edit, "private-share", "south"},
		{"through the public fleet only when nothing better", "carl@x", "v1", rights.View, "role", "north"},
		{"member rights from a private share", "bob@x", "v2", rights.Edit, "private-share", "secret"},
		{"item rights alone give no member rights", "fred@x", "v1", rights.None, "", ""},
		{"a vehicle placed below the user's node", "dora@x", "v3", rights.Edit, "hierarchy", ""},
		{"not one placed on a parent node", "dora@x", "v4", rights.None, "", ""},
		{"nor on another branch", "dora@x", "v5", rights.None, "", ""},
		{"one placed on no node reaches hierarchy users", "dora@x", "v6", rights.Edit, "hierarchy", ""},
		{"users are members of the hierarchy too", "dora@x", "gina@x", rights.Edit, "hierarchy", ""},
		{"administrators", "erin@x", "v5", rights.Full, "administrator", ""},
		{"public view on all fleets, plus a private edit on one vehicle", "ann@x", "v2", rights.Edit, "private-share", ""},
		{"no one has rights on a vehicle the account does not hold, not through the hierarchy", "dora@x", "no-such-vehicle", rights.None, "", ""},
		{"nor as an administrator", "erin@x", "no-such-vehicle", rights.None, "", ""},
	}
	acc := account()
	acc.placements["gina@x"] = "depot-e1"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := rights.OnMember(acc, c.user, c.member)
			if err != nil {
				t.Fatal(err)
			}
			if g.Rights.Member != c.want {
				t.Fatalf("member rights = %s, want %s (sources %+v)", g.Rights.Member, c.want, g.Sources)
			}
			if c.via == "" {
				return
			}
			if g.Sources[0].Via != c.via || g.Sources[0].Collection != c.collection {
				t.Fatalf("most generous source %+v, want via %s through %q", g.Sources[0], c.via, c.collection)
			}
		})
	}
}

// Making a public fleet private withdraws public sharing at once; private
// shares stay. Making it public again restores public sharing only.
func TestMakingAFleetPrivate(t *testing.T) {
	acc := account()
	south := acc.items["south"]
	south.Public = false
	acc.items["south"] = south
	if g, _ := rights.OnItem(acc, "carl@x", "south"); !g.Rights.IsNone() {
		t.Fatalf("a role still reaches the private fleet: %+v", g)
	}
	if g, _ := rights.OnItem(acc, "ann@x", "south"); g.Rights != edit || g.Sources[0].Via != "private-share" {
		t.Fatalf("the private share was lost: %+v", g)
	}
	south.Public = true
	acc.items["south"] = south
	if g, _ := rights.OnItem(acc, "carl@x", "south"); g.Rights != view {
		t.Fatalf("public again, the role does not reach it: %+v", g)
	}
}

func TestUnknownUserAndItem(t *testing.T) {
	if _, err := rights.OnItem(account(), "zed@x", "north"); !errors.Is(err, rights.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := rights.OnItem(account(), "ann@x", "nowhere"); err == nil {
		t.Fatal("unknown item: no error")
	}
	if _, err := rights.OnMember(account(), "zed@x", "v1"); !errors.Is(err, rights.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestLevels(t *testing.T) {
	cases := []struct {
		in   string
		want rights.Level
		ok   bool
	}{
		{"none", rights.None, true}, {"View", rights.View, true}, {"edit", rights.Edit, true}, {"FULL", rights.Full, true}, {"owner", rights.None, false},
	}
	for _, c := range cases {
		got, err := rights.ParseLevel(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseLevel(%q) = %v, %v", c.in, got, err)
		}
	}
	if !rights.Full.AtLeast(rights.Edit) || rights.View.AtLeast(rights.Edit) {
		t.Fatal("levels are not ordered none < view < edit < full")
	}
	if got := view.Max(rights.Rights{Item: rights.Full}); got != (rights.Rights{Item: rights.Full, Member: rights.View}) {
		t.Fatalf("Max = %+v", got)
	}
}

// Whose member rights can come only from particular collections: only then
// may a list of what they see start from those collections' members.
func TestMembersOnlyThroughCollections(t *testing.T) {
	v := account()
	cases := []struct {
		user domain.UserID
		want bool
	}{
		{"bob@x", true},   // nothing public; a private share of his own
		{"fred@x", true},  // item rights only, no member rights
		{"ann@x", false},  // a role with member rights on public fleets
		{"dora@x", false}, // placed on a node
		{"erin@x", false}, // an administrator
		{"nobody@x", false},
	}
	for _, c := range cases {
		if got := rights.MembersOnlyThroughCollections(v, c.user); got != c.want {
			t.Errorf("%s: %v, want %v", c.user, got, c.want)
		}
	}
}
