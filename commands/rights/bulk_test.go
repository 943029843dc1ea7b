package rights_test

import (
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	rightscmd "github.com/shareledger/shareledger/commands/rights"
	"github.com/shareledger/shareledger/domain/rights"
)

func TestBulkChanges(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[rightscmd.ChangeCollectionMembers]{
		{Name: "many members added and removed in one append; one already there is skipped", Given: given(acme, north, truck),
			When: rightscmd.ChangeCollectionMembers{Meta: alice, Item: "north", Changes: []rightscmd.MemberChange{
				{Member: "truck-8", Kind: rights.Vehicle}, {Member: "truck-7", Kind: rights.Vehicle}, {Member: "driver-1", Kind: rights.Driver}, {Member: "truck-7", Remove: true}}},
			Then: commandtest.Events(
				rights.MemberAdded{Account: "acme", Item: "north", Member: "truck-8", Kind: rights.Vehicle},
				rights.MemberAdded{Account: "acme", Item: "north", Member: "driver-1", Kind: rights.Driver},
				rights.MemberRemoved{Account: "acme", Item: "north", Member: "truck-7", Kind: rights.Vehicle}),
			Into: rights.CollectionStream("north")},
		{Name: "one wrong change refuses them all, and names it", Given: given(acme, north),
			When: rightscmd.ChangeCollectionMembers{Meta: alice, Item: "north", Changes: []rightscmd.MemberChange{
				{Member: "truck-8", Kind: rights.Vehicle}, {Member: "pin-1", Kind: rights.Marker}}},
			Code: "wrong-member-kind"},
		{Name: "a holder without edit rights", Given: given(acme, north, viewer, annHeld),
			When: rightscmd.ChangeCollectionMembers{Meta: ann, Item: "north", Changes: []rightscmd.MemberChange{{Member: "truck-8", Kind: rights.Vehicle}}},
			Code: "not-item-manager"},
		{Name: "at least one change", Given: given(acme, north), When: rightscmd.ChangeCollectionMembers{Meta: alice, Item: "north"}, Code: "no-changes"},
		{Name: "at most 1,000", Given: given(acme, north),
			When: rightscmd.ChangeCollectionMembers{Meta: alice, Item: "north", Changes: make([]rightscmd.MemberChange, 1001)}, Code: "too-many-changes"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.ChangeCollectionMembers] {
		return handlers(env).Bulk.ChangeCollectionMembers
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.ChangeCollectionShares]{
		{Name: "shares set and revoked in one append", Given: given(acme, north),
			When: rightscmd.ChangeCollectionShares{Meta: alice, Item: "north", Changes: []rightscmd.ShareChange{
				{Subuser: "ann@acme.test", Rights: edit}, {Subuser: "alice@acme.test", Revoke: true}}},
			Then: commandtest.Events(rights.SharedPrivately{Account: "acme", Item: "north", User: "ann@acme.test", Rights: edit, By: "alice@acme.test"}),
			Into: rights.CollectionStream("north")},
		{Name: "only with users of the account", Given: given(acme, north),
			When: rightscmd.ChangeCollectionShares{Meta: alice, Item: "north", Changes: []rightscmd.ShareChange{
				{Subuser: "ann@acme.test", Rights: edit}, {Subuser: "zed@acme.test", Rights: edit}}},
			Code: "not-member"},
		{Name: "a share of no rights refuses them all", Given: given(acme, north),
			When: rightscmd.ChangeCollectionShares{Meta: alice, Item: "north", Changes: []rightscmd.ShareChange{
				{Subuser: "ann@acme.test", Rights: edit}, {Subuser: "alice@acme.test"}}},
			Code: "no-rights"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.ChangeCollectionShares] {
		return handlers(env).Bulk.ChangeCollectionShares
	})
	commandtest.Run(t, []commandtest.Case[rightscmd.PlaceManyOnHierarchy]{
		{Name: "many placed in one append; one placed there already is skipped", Given: given(acme, hq,
			commandtest.In(rights.HierarchyStream("acme"), rights.MemberPlaced{Account: "acme", Member: "truck-7", Kind: rights.Vehicle, Node: "east"})),
			When: rightscmd.PlaceManyOnHierarchy{Meta: alice, Placements: []rightscmd.Placement{
				{Member: "truck-7", Kind: rights.Vehicle, Node: "east"}, {Member: "truck-8", Kind: rights.Vehicle, Node: "west"},
				{Member: "ann@acme.test", Kind: rights.User, Node: "east"}}},
			Then: commandtest.Events(
				rights.MemberPlaced{Account: "acme", Member: "truck-8", Kind: rights.Vehicle, Node: "west"},
				rights.MemberPlaced{Account: "acme", Member: "ann@acme.test", Kind: rights.User, Node: "east"}),
			Into: rights.HierarchyStream("acme")},
		{Name: "an unknown node refuses them all", Given: given(acme, hq),
			When: rightscmd.PlaceManyOnHierarchy{Meta: alice, Placements: []rightscmd.Placement{
				{Member: "truck-8", Kind: rights.Vehicle, Node: "west"}, {Member: "truck-9", Kind: rights.Vehicle, Node: "south"}}},
			Code: "unknown-node"},
		{Name: "a user of another account refuses them all", Given: given(acme, hq),
			When: rightscmd.PlaceManyOnHierarchy{Meta: alice, Placements: []rightscmd.Placement{{Member: "zed@acme.test", Kind: rights.User, Node: "west"}}},
			Code: "not-member"},
		{Name: "administrators only", Given: given(acme, hq),
			When: rightscmd.PlaceManyOnHierarchy{Meta: ann, Placements: []rightscmd.Placement{{Member: "truck-8", Kind: rights.Vehicle, Node: "west"}}},
			Code: "not-administrator"},
	}, func(env commandtest.Env) commands.Handler[rightscmd.PlaceManyOnHierarchy] {
		return handlers(env).Bulk.PlaceManyOnHierarchy
	})
}
