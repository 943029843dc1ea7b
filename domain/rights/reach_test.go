package rights_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

// reaches expands a Reach over an account held in memory, as a read side
// expands it over its indexes: is user among the candidates?
func reaches(m memory, r rights.Reach, user domain.UserID) bool {
	u := m.users[user]
	if u.Admin {
		return true
	}
	for _, c := range r.Users {
		if c == user {
			return true
		}
	}
	for _, it := range r.Shared {
		if _, ok := m.shares[it][user]; ok {
			return true
		}
	}
	if _, ok := m.memberShares[r.Member][user]; ok && r.Member != "" {
		return true
	}
	if u.Node != "" && slices.Contains(r.Placed, u.Node) {
		return true
	}
	for _, p := range r.Public {
		if p.Grants(u.Direct[p.Kind]) {
			return true
		}
		for _, role := range u.Roles {
			if p.Grants(m.roles[role][p.Kind]) {
				return true
			}
		}
	}
	return false
}

// randomAccount is an account of a few users, roles, collections, nodes
// and members, every right and share drawn at random.
func randomAccount(rnd *rand.Rand) memory {
	levels := []rights.Level{rights.None, rights.View, rights.Edit, rights.Full}
	some := func() rights.Rights {
		return rights.Rights{Item: levels[rnd.IntN(4)], Member: levels[rnd.IntN(4)]}
	}
	kinds := []rights.Kind{rights.Fleet, rights.Team, rights.Category, rights.Node}
	m := memory{
		users:        map[domain.UserID]rights.Subuser{},
		roles:        map[string]map[rights.Kind]rights.Rights{},
		items:        map[rights.ItemID]rights.Item{},
		shares:       map[rights.ItemID]map[domain.UserID]rights.Rights{},
		collections:  map[rights.MemberID][]rights.ItemID{},
		placements:   map[rights.MemberID]rights.ItemID{},
		parents:      map[rights.ItemID]rights.ItemID{},
		held:         map[rights.MemberID]bool{},
		memberShares: map[rights.MemberID]map[domain.UserID]rights.Level{},
	}
	for _, role := range []string{"r1", "r2"} {
		m.roles[role] = map[rights.Kind]rights.Rights{}
		for _, k := range kinds {
			m.roles[role][k] = some()
		}
	}
	nodes := []rights.ItemID{"n0", "n1", "n2", "n3"}
	for i, n := range nodes {
		m.items[n] = rights.Item{ID: n, Kind: rights.Node, Public: true, Node: n}
		m.items[n+":fleet"] = rights.Item{ID: n + ":fleet", Kind: rights.Fleet, Public: true, Node: n}
		if i > 0 {
			m.parents[n] = nodes[rnd.IntN(i)]
		}
	}
	var users []domain.UserID
	for i := range 6 {
		id := domain.UserID(fmt.Sprintf("u%d", i))
		users = append(users, id)
		u := rights.Subuser{ID: id, Admin: rnd.IntN(8) == 0, Direct: map[rights.Kind]rights.Rights{}}
		for _, role := range []string{"r1", "r2"} {
			if rnd.IntN(2) == 0 {
				u.Roles = append(u.Roles, role)
			}
		}
		if rnd.IntN(2) == 0 {
			u.Direct[kinds[rnd.IntN(len(kinds))]] = some()
		}
		if rnd.IntN(2) == 0 {
			u.Node = nodes[rnd.IntN(len(nodes))]
		}
		m.users[id] = u
	}
	var collections []rights.ItemID
	for i := range 5 {
		id := rights.ItemID(fmt.Sprint("c", i))
		collections = append(collections, id)
		it := rights.Item{ID: id, Kind: kinds[rnd.IntN(3)], Public: rnd.IntN(2) == 0}
		if rnd.IntN(2) == 0 {
			it.Creator = users[rnd.IntN(len(users))]
		}
		m.items[id] = it
		m.shares[id] = map[domain.UserID]rights.Rights{}
		for range rnd.IntN(3) {
			m.shares[id][users[rnd.IntN(len(users))]] = some()
		}
	}
	collections = append(collections, "n1:fleet")
	for i := range 8 {
		id := rights.MemberID(fmt.Sprint("v", i))
		m.held[id] = true
		for _, c := range collections {
			if rnd.IntN(3) == 0 {
				m.collections[id] = append(m.collections[id], c)
			}
		}
		if rnd.IntN(2) == 0 {
			m.placements[id] = nodes[rnd.IntN(len(nodes))]
		}
		m.memberShares[id] = map[domain.UserID]rights.Level{}
		if rnd.IntN(2) == 0 {
			m.memberShares[id][users[rnd.IntN(len(users))]] = levels[rnd.IntN(4)]
		}
	}
	return m
}

// TestReachHoldsEveryHolder: over random accounts, every subuser whose
// evaluated rights on an item or a member are at least a level is among
// the candidates the Reach of that level names.
func TestReachHoldsEveryHolder(t *testing.T) {
	for seed := range uint64(300) {
		rnd := rand.New(rand.NewPCG(seed, 11))
		m := randomAccount(rnd)
		for _, least := range []rights.Level{rights.View, rights.Edit, rights.Full} {
			for id := range m.items {
				reach := rights.ReachOnItem(m, id, least)
				for user := range m.users {
					g, err := rights.OnItem(m, user, id)
					if err != nil {
						t.Fatal(err)
					}
					if g.Rights.Item.AtLeast(least) && !reaches(m, reach, user) {
						t.Fatalf("seed %d: %s holds %s on item %s (%+v), outside its reach %+v", seed, user, g.Rights.Item, id, g.Sources, reach)
					}
				}
			}
			for id := range m.held {
				reach := rights.ReachOnMember(m, id, least)
				for user := range m.users {
					g, err := rights.OnMember(m, user, id)
					if err != nil {
						t.Fatal(err)
					}
					if g.Rights.Member.AtLeast(least) && !reaches(m, reach, user) {
						t.Fatalf("seed %d: %s holds %s on member %s (%+v), outside its reach %+v", seed, user, g.Rights.Member, id, g.Sources, reach)
					}
				}
			}
		}
	}
}

// TestReachNamesTheSources: what a reach names, in the fixed account.
func TestReachNamesTheSources(t *testing.T) {
	m := account()
	cases := []struct {
		name string
		got  rights.Reach
		want rights.Reach
	}{
		{"a private fleet: its creator and its shares", rights.ReachOnItem(m, "secret", rights.Edit),
			rights.Reach{Users: []domain.UserID{"carl@x"}, Shared: []rights.ItemID{"secret"}}},
		{"a public fleet: fleet rights besides", rights.ReachOnItem(m, "north", rights.View),
			rights.Reach{Shared: []rights.ItemID{"north"}, Public: []rights.PublicReach{{Kind: rights.Fleet, Least: rights.View}}}},
		{"a node's fleet: the subusers placed on the node or above", rights.ReachOnItem(m, "east-fleet", rights.Full),
			rights.Reach{Shared: []rights.ItemID{"east-fleet"}, Placed: []rights.ItemID{"east", "hq"}}},
		{"a member of two public fleets, on no node", rights.ReachOnMember(m, "v1", rights.Edit),
			rights.Reach{Shared: []rights.ItemID{"north", "south"}, Member: "v1", Public: []rights.PublicReach{
				{Kind: rights.Fleet, Members: true, Least: rights.Edit}, {Kind: rights.Node, Members: true, Least: rights.Edit}}}},
		{"a member on a node", rights.ReachOnMember(m, "v3", rights.View),
			rights.Reach{Member: "v3", Placed: []rights.ItemID{"depot-e1", "east", "hq"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("got %+v, want %+v", c.got, c.want)
			}
		})
	}
}
