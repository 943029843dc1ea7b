// Package rightstest generates accounts for the rights benchmarks: the
// same events feed ShareLedger's projections and, in the comparison with
// OpenFGA (docs/peers/openfga), that service's relationship tuples, so that
// both answer about the same account.
package rightstest

import (
	"fmt"
	"math/rand/v2"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
)

// Spec is the shape of an account.
type Spec struct {
	Account  domain.AccountID
	Users    int
	Vehicles int
	Fleets   int // every other one public; as many public teams
	Nodes    int // node i hangs under node i/2: a binary tree
}

// Large is the account of readapi's rights benchmarks.
func Large() Spec {
	return Spec{Account: "big", Users: 10_000, Vehicles: 100_000, Fleets: 1_000, Nodes: 255}
}

// Peer is the account of the comparison with OpenFGA: 50 users, 2,000
// vehicles, 44 collections (22 fleets, 22 teams), a 30-node tree.
func Peer() Spec {
	return Spec{Account: "peer", Users: 50, Vehicles: 2_000, Fleets: 22, Nodes: 30}
}

// Administrator is the account's administrator.
func (s Spec) Administrator() domain.UserID {
	return domain.UserID(fmt.Sprintf("admin@%s.test", s.Account))
}

// User is the i-th subuser.
func (s Spec) User(i int) domain.UserID {
	return domain.UserID(fmt.Sprintf("u%d@%s.test", i, s.Account))
}

// Vehicle is the i-th vehicle.
func (s Spec) Vehicle(i int) rights.MemberID {
	return rights.MemberID(fmt.Sprintf("v%06d", i))
}

// Fleet is the i-th fleet; it is public when i is even.
func (s Spec) Fleet(i int) rights.ItemID { return rights.ItemID(fmt.Sprint("fleet", i)) }

// Node is the i-th node, from 1 (the root).
func (s Spec) Node(i int) rights.ItemID { return rights.ItemID(fmt.Sprint("n", i)) }

// Events are the account's history, the same for the same Spec: a role
// "viewer" (view on public fleets' items and members); every other user
// holds it; every third has direct rights on the hierarchy (view nodes,
// edit their members) and is placed on a random node; every user has a
// private share (edit, edit) of a random fleet; every vehicle is in two
// random fleets and placed on a random node.
func (s Spec) Events() []domain.Event {
	rnd := rand.New(rand.NewPCG(1, 2))
	acc := s.Account
	var out []domain.Event
	emit := func(e domain.Event) { out = append(out, e) }
	emit(account.AccountOpened{Account: acc, Organization: string(acc), Administrator: s.Administrator(), Name: "Admin"})
	emit(rights.RoleDefined{Account: acc, Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View, Member: rights.View}}})
	emit(rights.NodeAdded{Account: acc, Node: s.Node(1), Name: string(s.Node(1))})
	for i := 2; i <= s.Nodes; i++ {
		emit(rights.NodeAdded{Account: acc, Node: s.Node(i), Parent: s.Node(i / 2), Name: string(s.Node(i))})
	}
	for i := range s.Fleets {
		emit(rights.CollectionCreated{Account: acc, Item: s.Fleet(i), Kind: rights.Fleet, Name: "F", Public: i%2 == 0, Creator: s.Administrator()})
		emit(rights.CollectionCreated{Account: acc, Item: rights.ItemID(fmt.Sprint("team", i)), Kind: rights.Team, Name: "T", Public: true, Creator: s.Administrator()})
	}
	node := func() rights.ItemID { return s.Node(1 + rnd.IntN(s.Nodes)) }
	for i := range s.Users {
		u := s.User(i)
		emit(account.UserAdded{Account: acc, User: u, Name: fmt.Sprint("User ", i), Role: account.User})
		if i%2 == 0 {
			emit(rights.RoleAssigned{Account: acc, User: u, Role: "viewer"})
		}
		if i%3 == 0 {
			emit(rights.DirectRightsSet{Account: acc, User: u, Kind: rights.Node, Rights: rights.Rights{Item: rights.View, Member: rights.Edit}})
			emit(rights.MemberPlaced{Account: acc, Member: rights.MemberID(u), Kind: rights.User, Node: node()})
		}
		emit(rights.SharedPrivately{Account: acc, Item: s.Fleet(rnd.IntN(s.Fleets)), User: u, Rights: rights.Rights{Item: rights.Edit, Member: rights.Edit}})
	}
	for i := range s.Vehicles {
		v := s.Vehicle(i)
		for range 2 {
			emit(rights.MemberAdded{Account: acc, Item: s.Fleet(rnd.IntN(s.Fleets)), Member: v, Kind: rights.Vehicle})
		}
		emit(rights.MemberPlaced{Account: acc, Member: v, Kind: rights.Vehicle, Node: node()})
	}
	return out
}
