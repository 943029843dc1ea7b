package rights_test

import (
	"context"
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	rightscmd "github.com/shareledger/shareledger/commands/rights"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/rights"
)

var (
	acme = commandtest.In(account.Stream("acme"),
		account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
		account.UserAdded{Account: "acme", User: "ann@acme.test", Name: "Ann", Role: account.User})
	viewer  = commandtest.In(rights.AccessStream("acme"), rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View}}})
	annHeld = commandtest.In(rights.AccessStream("acme"), rights.RoleAssigned{Account: "acme", User: "ann@acme.test", Role: "viewer"})
	north   = commandtest.In(rights.CollectionStream("north"),
		rights.CollectionCreated{Account: "acme", Item: "north", Kind: rights.Fleet, Name: "North", Public: true, Creator: "alice@acme.test"})
	truck = commandtest.In(rights.CollectionStream("north"), rights.MemberAdded{Account: "acme", Item: "north", Member: "truck-7", Kind: rights.Vehicle})
	hq    = commandtest.In(rights.HierarchyStream("acme"),
		rights.NodeAdded{Account: "acme", Node: "hq", Name: "HQ"},
		rights.NodeAdded{Account: "acme", Node: "east", Parent: "hq", Name: "East"},
		rights.NodeAdded{Account: "acme", Node: "west", Parent: "hq", Name: "West"})
	alice = commandtest.Meta("alice@acme.test", "acme", "c1")
	ann   = commandtest.Meta("ann@acme.test", "acme", "c1")
	eve   = commandtest.Meta("eve@other.test", "other", "c1")
	other = commandtest.In(account.Stream("other"), account.AccountOpened{Account: "other", Organization: "Other", Administrator: "eve@other.test", Name: "Eve"})
	edit  = rights.Rights{Item: rights.View, Member: rights.Edit}
)

func given(g ...[]commandtest.Given) [][]commandtest.Given { return g }

func handlers(env commandtest.Env) rightscmd.Handlers { return rightscmd.New(env.Repo, env.Log) }

func TestRoles(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[rightscmd.DefineRole]{
		{Name: "an administrator defines a role", Given: given(acme),
			When: rightscmd.DefineRole{Meta: alice, Name: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View}}},
			Then: commandtest.Events(rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View}}})},
		{Name: "a user may not", Given: given(acme), When: rightscmd.DefineRole{Meta: ann, Name: "viewer"}, Code: "not-administrator"},
		{Name: "a role name is a short name", Given: given(acme), When: rightscmd.DefineRole{Meta: alice, Name: "view/er"}, Code: "invalid-role-name"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.DefineRole] { return handlers(env).DefineRole })
	commandtest.Run(t, []commandtest.Case[rightscmd.GrantRole]{
		{Name: "a subuser gets a defined role", Given: given(acme, viewer), When: rightscmd.GrantRole{Meta: alice, Subuser: "ann@acme.test", Role: "viewer"},
			Then: commandtest.Events(rights.RoleAssigned{Account: "acme", User: "ann@acme.test", Role: "viewer"})},
		{Name: "an undefined role", Given: given(acme), When: rightscmd.GrantRole{Meta: alice, Subuser: "ann@acme.test", Role: "viewer"}, Code: "unknown-role"},
		{Name: "once", Given: given(acme, viewer, annHeld), When: rightscmd.GrantRole{Meta: alice, Subuser: "ann@acme.test", Role: "viewer"}, Code: "role-assigned"},
		{Name: "only to a user of the account", Given: given(acme, viewer), When: rightscmd.GrantRole{Meta: alice, Subuser: "zed@acme.test", Role: "viewer"}, Code: "not-member"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.GrantRole] { return handlers(env).GrantRole })
	commandtest.Run(t, []commandtest.Case[rightscmd.RevokeRole]{
		{Name: "a held role is taken back", Given: given(acme, viewer, annHeld), When: rightscmd.RevokeRole{Meta: alice, Subuser: "ann@acme.test", Role: "viewer"},
			Then: commandtest.Events(rights.RoleUnassigned{Account: "acme", User: "ann@acme.test", Role: "viewer"})},
		{Name: "a role not held", Given: given(acme, viewer), When: rightscmd.RevokeRole{Meta: alice, Subuser: "ann@acme.test", Role: "viewer"}, Code: "role-not-held"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.RevokeRole] { return handlers(env).RevokeRole })
	commandtest.Run(t, []commandtest.Case[rightscmd.SetDirectRights]{
		{Name: "direct rights on a kind", Given: given(acme), When: rightscmd.SetDirectRights{Meta: alice, Subuser: "ann@acme.test", Kind: rights.Fleet, Rights: edit},
			Then: commandtest.Events(rights.DirectRightsSet{Account: "acme", User: "ann@acme.test", Kind: rights.Fleet, Rights: edit})},
		{Name: "a user may not", Given: given(acme), When: rightscmd.SetDirectRights{Meta: ann, Subuser: "ann@acme.test", Kind: rights.Fleet, Rights: edit}, Code: "not-administrator"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.SetDirectRights] {
		return handlers(env).SetDirectRights
	})
}

func TestCollections(t *testing.T) {
	id := rights.ItemID(commands.NewID("c1", "collection"))
	commandtest.Run(t, []commandtest.Case[rightscmd.CreateCollection]{
		{Name: "a fleet, private by default", Given: given(acme), When: rightscmd.CreateCollection{Meta: ann, Kind: "fleet", Name: "South"},
			Then: commandtest.Events(rights.CollectionCreated{Account: "acme", Item: id, Kind: rights.Fleet, Name: "South", Creator: "ann@acme.test"})},
		{Name: "an unknown kind", Given: given(acme), When: rightscmd.CreateCollection{Meta: ann, Kind: "zoo", Name: "South"}, Code: "invalid-kind"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.CreateCollection] {
		return handlers(env).CreateCollection
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.MakeCollectionPrivate]{
		{Name: "made private with confirmation", Given: given(acme, north), When: rightscmd.MakeCollectionPrivate{Meta: alice, Item: "north", Confirm: true},
			Then: commandtest.Events(rights.FleetMadePrivate{Account: "acme", Item: "north", By: "alice@acme.test"})},
		{Name: "not without", Given: given(acme, north), When: rightscmd.MakeCollectionPrivate{Meta: alice, Item: "north"}, Code: "confirmation-required"},
		{Name: "another account's item is unknown", Given: given(acme, north, other), When: rightscmd.MakeCollectionPrivate{Meta: eve, Item: "north", Confirm: true}, Code: "unknown-item"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.MakeCollectionPrivate] {
		return handlers(env).MakeCollectionPrivate
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.MakeCollectionPublic]{
		{Name: "already public", Given: given(acme, north), When: rightscmd.MakeCollectionPublic{Meta: alice, Item: "north"}, Code: "already-public"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.MakeCollectionPublic] {
		return handlers(env).MakeCollectionPublic
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.ShareCollection]{
		{Name: "a private share with a subuser", Given: given(acme, north), When: rightscmd.ShareCollection{Meta: alice, Item: "north", Subuser: "ann@acme.test", Rights: edit},
			Then: commandtest.Events(rights.SharedPrivately{Account: "acme", Item: "north", User: "ann@acme.test", Rights: edit, By: "alice@acme.test"})},
		{Name: "only with a user of the account", Given: given(acme, north), When: rightscmd.ShareCollection{Meta: alice, Item: "north", Subuser: "zed@acme.test", Rights: edit}, Code: "not-member"},
		{Name: "not by a user who does not manage it", Given: given(acme, north), When: rightscmd.ShareCollection{Meta: ann, Item: "north", Subuser: "ann@acme.test", Rights: edit}, Code: "not-item-manager"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.ShareCollection] {
		return handlers(env).ShareCollection
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.UnshareCollection]{
		{Name: "nothing shared to revoke", Given: given(acme, north), When: rightscmd.UnshareCollection{Meta: alice, Item: "north", Subuser: "ann@acme.test"}, Code: "not-shared-privately"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.UnshareCollection] {
		return handlers(env).UnshareCollection
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.AddCollectionMember]{
		{Name: "a vehicle joins a fleet", Given: given(acme, north), When: rightscmd.AddCollectionMember{Meta: alice, Item: "north", Member: "truck-7", Kind: rights.Vehicle},
			Then: commandtest.Events(rights.MemberAdded{Account: "acme", Item: "north", Member: "truck-7", Kind: rights.Vehicle})},
		{Name: "once", Given: given(acme, north, truck), When: rightscmd.AddCollectionMember{Meta: alice, Item: "north", Member: "truck-7", Kind: rights.Vehicle}, Code: "already-in-collection"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.AddCollectionMember] {
		return handlers(env).AddCollectionMember
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.RemoveCollectionMember]{
		{Name: "a vehicle leaves a fleet", Given: given(acme, north, truck), When: rightscmd.RemoveCollectionMember{Meta: alice, Item: "north", Member: "truck-7"},
			Then: commandtest.Events(rights.MemberRemoved{Account: "acme", Item: "north", Member: "truck-7", Kind: rights.Vehicle})},
		{Name: "not in it", Given: given(acme, north), When: rightscmd.RemoveCollectionMember{Meta: alice, Item: "north", Member: "truck-7"}, Code: "not-in-collection"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.RemoveCollectionMember] {
		return handlers(env).RemoveCollectionMember
	})
}

func TestHierarchy(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[rightscmd.AddHierarchyNode]{
		{Name: "the first node is the root", Given: given(acme), When: rightscmd.AddHierarchyNode{Meta: alice, ID: "hq", Name: "HQ"},
			Then: commandtest.Events(rights.NodeAdded{Account: "acme", Node: "hq", Name: "HQ"})},
		{Name: "one root", Given: given(acme, hq), When: rightscmd.AddHierarchyNode{Meta: alice, ID: "x", Name: "X"}, Code: "second-root"},
		{Name: "under a node that exists", Given: given(acme, hq), When: rightscmd.AddHierarchyNode{Meta: alice, ID: "x", Parent: "nowhere", Name: "X"}, Code: "unknown-node"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.AddHierarchyNode] {
		return handlers(env).AddHierarchyNode
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.MoveHierarchyNode]{
		{Name: "a node moves under another", Given: given(acme, hq), When: rightscmd.MoveHierarchyNode{Meta: alice, Node: "west", Parent: "east"},
			Then: commandtest.Events(rights.NodeMoved{Account: "acme", Node: "west", From: "hq", To: "east"})},
		{Name: "never under itself", Given: given(acme, hq), When: rightscmd.MoveHierarchyNode{Meta: alice, Node: "hq", Parent: "east"}, Code: "move-root"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.MoveHierarchyNode] {
		return handlers(env).MoveHierarchyNode
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.PlaceOnHierarchy]{
		{Name: "a user is placed on a node", Given: given(acme, hq), When: rightscmd.PlaceOnHierarchy{Meta: alice, Member: "ann@acme.test", Kind: rights.User, Node: "east"},
			Then: commandtest.Events(rights.MemberPlaced{Account: "acme", Member: "ann@acme.test", Kind: rights.User, Node: "east"})},
		{Name: "only a user of the account", Given: given(acme, hq), When: rightscmd.PlaceOnHierarchy{Meta: alice, Member: "zed@acme.test", Kind: rights.User, Node: "east"}, Code: "not-member"},
		{Name: "on a node that exists", Given: given(acme, hq), When: rightscmd.PlaceOnHierarchy{Meta: alice, Member: "truck-7", Kind: rights.Vehicle, Node: "south"}, Code: "unknown-node"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.PlaceOnHierarchy] {
		return handlers(env).PlaceOnHierarchy
	})
}

// TestDirectRightsHaveAStreamPerUser: setting one user's direct rights
// appends to that user's own stream, so it contends with no other change
// of the account's rights.
func TestDirectRightsHaveAStreamPerUser(t *testing.T) {
	ctx := context.Background()
	env := commandtest.NewEnv(t)
	commandtest.Seed(t, env, acme)
	h := handlers(env)
	if _, err := h.SetDirectRights.Handle(ctx, rightscmd.SetDirectRights{Meta: alice, Subuser: "ann@acme.test", Kind: rights.Fleet, Rights: edit}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stream string
		events int
	}{
		{rights.DirectRightsStream("acme", "ann@acme.test"), 1},
		{rights.AccessStream("acme"), 0},
	}
	for _, tt := range tests {
		recs, err := env.Repo.Events.ReadStream(ctx, tt.stream, 0, 0)
		if err != nil || len(recs) != tt.events {
			t.Fatalf("%s holds %d events (err %v), want %d", tt.stream, len(recs), err, tt.events)
		}
	}
}
