package rights_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/rights"
)

var (
	admin   = domain.Member{User: "erin@x", Account: "acme", Admin: true}
	creator = domain.Member{User: "carl@x", Account: "acme"}
	other   = domain.Member{User: "bob@x", Account: "acme"}
	outside = domain.Member{User: "eve@y", Account: "evil", Admin: true}
)

func created(kind rights.Kind, public bool) rights.CollectionCreated {
	return rights.CollectionCreated{Account: "acme", Item: "f1", Kind: kind, Name: "North", Public: public, Creator: creator.User}
}

// shared is a private share of f1 with bob.
func shared(r rights.Rights) rights.SharedPrivately {
	return rights.SharedPrivately{Account: "acme", Item: "f1", User: other.User, Rights: r, By: creator.User}
}

func TestCollections(t *testing.T) {
	byCarl := rights.Privacy{Account: "acme", Item: "f1", By: creator.User}
	cases := []struct {
		name  string
		given []domain.Event
		when  func(c *rights.Collection) error
		then  []domain.Event
		err   error
	}{
		{"make a public fleet private, confirmed", []domain.Event{created(rights.Fleet, true)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: creator}, true) }, []domain.Event{rights.FleetMadePrivate(byCarl)}, nil},
		{"not without confirmation", []domain.Event{created(rights.Fleet, true)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: creator}, false) }, nil, rights.ErrConfirmationRequired},
		{"teams, categories and reports have their own events", []domain.Event{created(rights.Category, true)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: creator}, true) }, []domain.Event{rights.CategoryMadePrivate(byCarl)}, nil},
		{"a private fleet is private already", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: creator}, true) }, nil, rights.ErrAlreadyPrivate},
		{"make it public again", []domain.Event{created(rights.Team, false)},
			func(c *rights.Collection) error { return c.MakePublic(rights.Holder{Member: creator}) }, []domain.Event{rights.TeamMadePublic(byCarl)}, nil},
		{"only the creator or an administrator", []domain.Event{created(rights.Fleet, true)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: other}, true) }, nil, rights.ErrNotManager},
		{"an administrator may", []domain.Event{created(rights.Report, true)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: admin}, true) },
			[]domain.Event{rights.ReportMadePrivate{Account: "acme", Item: "f1", By: admin.User}}, nil},
		{"another account's administrator may not", []domain.Event{created(rights.Fleet, true)},
			func(c *rights.Collection) error { return c.MakePrivate(rights.Holder{Member: outside}, true) }, nil, domain.NewError(domain.NotFound, "unknown-item", "")},
		{"share privately with item and member rights", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.Share(rights.Holder{Member: creator}, "bob@x", edit) },
			[]domain.Event{rights.SharedPrivately{Account: "acme", Item: "f1", User: "bob@x", Rights: edit, By: creator.User}}, nil},
		{"a share needs some rights", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.Share(rights.Holder{Member: creator}, "bob@x", none) }, nil, rights.ErrNoRights},
		{"reports have no member rights", []domain.Event{created(rights.Report, false)},
			func(c *rights.Collection) error { return c.Share(rights.Holder{Member: creator}, "bob@x", edit) }, nil, rights.ErrNoMembers},
		{"revoke a share", []domain.Event{created(rights.Fleet, false), rights.SharedPrivately{Account: "acme", Item: "f1", User: "bob@x", Rights: view}},
			func(c *rights.Collection) error { return c.Revoke(rights.Holder{Member: creator}, "bob@x") },
			[]domain.Event{rights.PrivateShareRevoked{Account: "acme", Item: "f1", User: "bob@x", By: creator.User}}, nil},
		{"revoke what is not shared", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.Revoke(rights.Holder{Member: creator}, "bob@x") }, nil, rights.ErrNotShared},
		{"add a vehicle", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: creator}, "v1", rights.Vehicle) },
			[]domain.Event{rights.MemberAdded{Account: "acme", Item: "f1", Member: "v1", Kind: rights.Vehicle}}, nil},
		{"not twice", []domain.Event{created(rights.Fleet, false), rights.MemberAdded{Account: "acme", Item: "f1", Member: "v1", Kind: rights.Vehicle}},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: creator}, "v1", rights.Vehicle) }, nil, rights.ErrAlreadyMember},
		{"reports have no members", []domain.Event{created(rights.Report, false)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: creator}, "v1", rights.Vehicle) }, nil, rights.ErrNoMembers},
		{"fleets hold no markers", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: creator}, "m1", rights.Marker) }, nil, rights.ErrWrongMember},
		{"categories hold only markers", []domain.Event{created(rights.Category, false)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: creator}, "v1", rights.Vehicle) }, nil, rights.ErrWrongMember},
		{"a holder of a full private share adds members", []domain.Event{created(rights.Fleet, false), shared(all)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: other}, "v1", rights.Vehicle) },
			[]domain.Event{rights.MemberAdded{Account: "acme", Item: "f1", Member: "v1", Kind: rights.Vehicle}}, nil},
		{"and shares onward", []domain.Event{created(rights.Fleet, false), shared(all)},
			func(c *rights.Collection) error { return c.Share(rights.Holder{Member: other}, "dan@x", view) },
			[]domain.Event{rights.SharedPrivately{Account: "acme", Item: "f1", User: "dan@x", Rights: view, By: other.User}}, nil},
		{"and changes its privacy", []domain.Event{created(rights.Team, false), shared(all)},
			func(c *rights.Collection) error { return c.MakePublic(rights.Holder{Member: other}) },
			[]domain.Event{rights.TeamMadePublic{Account: "acme", Item: "f1", By: other.User}}, nil},
		{"an edit share changes members", []domain.Event{created(rights.Fleet, false), shared(edit)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: other}, "v1", rights.Vehicle) },
			[]domain.Event{rights.MemberAdded{Account: "acme", Item: "f1", Member: "v1", Kind: rights.Vehicle}}, nil},
		{"but does not share onward", []domain.Event{created(rights.Fleet, false), shared(edit)},
			func(c *rights.Collection) error { return c.Share(rights.Holder{Member: other}, "dan@x", view) }, nil, rights.ErrNotManager},
		{"a view share changes nothing", []domain.Event{created(rights.Fleet, false), shared(view)},
			func(c *rights.Collection) error { return c.Add(rights.Holder{Member: other}, "v1", rights.Vehicle) }, nil, rights.ErrNotManager},
		{"public rights count while the item is public", []domain.Event{created(rights.Fleet, true)},
			func(c *rights.Collection) error {
				return c.Add(rights.Holder{Member: other, Public: edit}, "v1", rights.Vehicle)
			},
			[]domain.Event{rights.MemberAdded{Account: "acme", Item: "f1", Member: "v1", Kind: rights.Vehicle}}, nil},
		{"and not once it is private", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error {
				return c.Add(rights.Holder{Member: other, Public: all}, "v1", rights.Vehicle)
			}, nil, rights.ErrNotManager},
		{"an edit share renames", []domain.Event{created(rights.Fleet, false), shared(edit)},
			func(c *rights.Collection) error { return c.Rename(rights.Holder{Member: other}, "  South  ") },
			[]domain.Event{rights.CollectionRenamed{Account: "acme", Item: "f1", Name: "South", By: other.User}}, nil},
		{"the same name changes nothing", []domain.Event{created(rights.Fleet, false)},
			func(c *rights.Collection) error { return c.Rename(rights.Holder{Member: creator}, "North") }, nil, nil},
		{"but does not delete", []domain.Event{created(rights.Fleet, false), shared(edit)},
			func(c *rights.Collection) error { return c.Delete(rights.Holder{Member: other}) }, nil, rights.ErrNotManager},
		{"a full share deletes", []domain.Event{created(rights.Fleet, false), shared(all)},
			func(c *rights.Collection) error { return c.Delete(rights.Holder{Member: other}) },
			[]domain.Event{rights.CollectionDeleted{Account: "acme", Item: "f1", Kind: rights.Fleet, By: other.User}}, nil},
		{"a deleted collection is gone", []domain.Event{created(rights.Fleet, false), rights.CollectionDeleted{Account: "acme", Item: "f1", Kind: rights.Fleet, By: creator.User}},
			func(c *rights.Collection) error { return c.Rename(rights.Holder{Member: admin}, "Again") }, nil, domain.NewError(domain.NotFound, "unknown-item", "")},
		{"remove a marker", []domain.Event{created(rights.Category, false), rights.MemberAdded{Account: "acme", Item: "f1", Member: "m1", Kind: rights.Marker}},
			func(c *rights.Collection) error { return c.Remove(rights.Holder{Member: creator}, "m1") },
			[]domain.Event{rights.MemberRemoved{Account: "acme", Item: "f1", Member: "m1", Kind: rights.Marker}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			col := rights.CollectionFromHistory(c.given)
			err := c.when(col)
			if c.err != nil {
				if !errors.Is(err, c.err) || len(col.Changes()) != 0 {
					t.Fatalf("err = %v (changes %v), want %v", err, col.Changes(), c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(col.Changes(), c.then) {
				t.Fatalf("events = %#v, %v; want %#v", col.Changes(), err, c.then)
			}
		})
	}
}

func TestCreateCollection(t *testing.T) {
	if _, err := rights.Create(creator, rights.Node, "n", "N", true); err == nil {
		t.Fatal("a node was created as a collection")
	}
	c, err := rights.Create(creator, rights.Fleet, "f1", "North", false)
	if err != nil || !reflect.DeepEqual(c.Changes(), []domain.Event{created(rights.Fleet, false)}) {
		t.Fatalf("create = %#v, %v", c, err)
	}
}

func TestHierarchy(t *testing.T) {
	tree := []domain.Event{
		rights.NodeAdded{Account: "acme", Node: "hq", Name: "HQ"},
		rights.NodeAdded{Account: "acme", Node: "east", Parent: "hq", Name: "East"},
		rights.NodeAdded{Account: "acme", Node: "depot", Parent: "east", Name: "Depot"},
		rights.NodeAdded{Account: "acme", Node: "west", Parent: "hq", Name: "West"},
	}
	cases := []struct {
		name string
		when func(h *rights.Hierarchy) error
		then []domain.Event
		err  error
	}{
		{"add a node", func(h *rights.Hierarchy) error { return h.Add(admin, "north", "hq", "North") },
			[]domain.Event{rights.NodeAdded{Account: "acme", Node: "north", Parent: "hq", Name: "North"}}, nil},
		{"one root only", func(h *rights.Hierarchy) error { return h.Add(admin, "top", "", "Top") }, nil, rights.ErrSecondRoot},
		{"under an existing parent", func(h *rights.Hierarchy) error { return h.Add(admin, "x", "nowhere", "X") }, nil, rights.ErrUnknownNode},
		{"only administrators", func(h *rights.Hierarchy) error { return h.Add(other, "x", "hq", "X") }, nil, domain.ErrNotAdministrator},
		{"move a subtree", func(h *rights.Hierarchy) error { return h.Move(admin, "east", "west") },
			[]domain.Event{rights.NodeMoved{Account: "acme", Node: "east", From: "hq", To: "west"}}, nil},
		{"never under itself", func(h *rights.Hierarchy) error { return h.Move(admin, "east", "depot") }, nil, rights.ErrCycle},
		{"the root stays", func(h *rights.Hierarchy) error { return h.Move(admin, "hq", "west") }, nil, rights.ErrMoveRoot},
		{"delete an empty leaf", func(h *rights.Hierarchy) error { return h.Delete(admin, "depot") },
			[]domain.Event{rights.NodeDeleted{Account: "acme", Node: "depot", Parent: "east", By: admin.User}}, nil},
		{"not a node with children", func(h *rights.Hierarchy) error { return h.Delete(admin, "east") }, nil, rights.ErrNodeNotEmpty},
		{"only administrators delete nodes", func(h *rights.Hierarchy) error { return h.Delete(other, "depot") }, nil, domain.ErrNotAdministrator},
		{"place a vehicle", func(h *rights.Hierarchy) error { return h.Place(admin, "v1", rights.Vehicle, "depot") },
			[]domain.Event{rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "depot"}}, nil},
		{"on an existing node", func(h *rights.Hierarchy) error { return h.Place(admin, "v1", rights.Vehicle, "nowhere") }, nil, rights.ErrUnknownNode},
		{"markers are not placed", func(h *rights.Hierarchy) error { return h.Place(admin, "m1", rights.Marker, "depot") }, nil, domain.Invalidf("wrong-member-kind", "")},
		// The counts that tell an empty node follow moves, deletions and
		// placements, through a snapshot too.
		{"a node emptied by moving its child and its vehicle away", func(h *rights.Hierarchy) error {
			if err := replayed(h, rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "east"},
				rights.NodeMoved{Account: "acme", Node: "depot", From: "east", To: "west"},
				rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "west"}); err != nil {
				return err
			}
			return h.Delete(admin, "east")
		}, []domain.Event{rights.NodeDeleted{Account: "acme", Node: "east", Parent: "hq", By: admin.User}}, nil},
		{"not a node a vehicle was moved onto", func(h *rights.Hierarchy) error {
			if err := replayed(h, rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "west"},
				rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "depot"}); err != nil {
				return err
			}
			return h.Delete(admin, "depot")
		}, nil, rights.ErrNodeNotEmpty},
		{"a node whose vehicle was taken off", func(h *rights.Hierarchy) error {
			if err := replayed(h, rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "west"},
				rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle}); err != nil {
				return err
			}
			return h.Delete(admin, "west")
		}, []domain.Event{rights.NodeDeleted{Account: "acme", Node: "west", Parent: "hq", By: admin.User}}, nil},
		{"not a node given a child after it was emptied", func(h *rights.Hierarchy) error {
			if err := replayed(h, rights.NodeDeleted{Account: "acme", Node: "depot", Parent: "east"},
				rights.NodeAdded{Account: "acme", Node: "yard", Parent: "east", Name: "Yard"}); err != nil {
				return err
			}
			return h.Delete(admin, "east")
		}, nil, rights.ErrNodeNotEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := rights.HierarchyFromHistory("acme", tree)
			err := c.when(h)
			if c.err != nil {
				if !errors.Is(err, c.err) || len(h.Changes()) != 0 {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(h.Changes(), c.then) {
				t.Fatalf("events = %#v, %v; want %#v", h.Changes(), err, c.then)
			}
		})
	}
}

func TestAccess(t *testing.T) {
	defined := rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: view}}
	cases := []struct {
		name string
		when func(a *rights.Access) error
		then []domain.Event
		err  error
	}{
		{"define a role", func(a *rights.Access) error {
			return a.DefineRole(admin, "editor", map[rights.Kind]rights.Rights{rights.Team: edit})
		}, []domain.Event{rights.RoleDefined{Account: "acme", Role: "editor", Rights: map[rights.Kind]rights.Rights{rights.Team: edit}}}, nil},
		{"a role's rights name real kinds", func(a *rights.Access) error {
			return a.DefineRole(admin, "odd", map[rights.Kind]rights.Rights{"cars": edit})
		}, nil, domain.Invalidf("invalid-kind", "")},
		{"assign a role", func(a *rights.Access) error { return a.Assign(admin, "bob@x", "viewer") },
			[]domain.Event{rights.RoleAssigned{Account: "acme", User: "bob@x", Role: "viewer"}}, nil},
		{"only roles that exist", func(a *rights.Access) error { return a.Assign(admin, "bob@x", "boss") }, nil, rights.ErrUnknownRole},
		{"only administrators", func(a *rights.Access) error { return a.Assign(other, "bob@x", "viewer") }, nil, domain.ErrNotAdministrator},
		{"set direct rights", func(a *rights.Access) error { return a.SetDirect(admin, "bob@x", rights.Report, viewOne) },
			[]domain.Event{rights.DirectRightsSet{Account: "acme", User: "bob@x", Kind: rights.Report, Rights: viewOne}}, nil},
		{"unassign a role not held", func(a *rights.Access) error { return a.Unassign(admin, "bob@x", "viewer") }, nil, rights.ErrRoleNotHeld},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := rights.AccessFromHistory("acme", []domain.Event{defined})
			err := c.when(a)
			if c.err != nil {
				if !errors.Is(err, c.err) || len(a.Changes()) != 0 {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(a.Changes(), c.then) {
				t.Fatalf("events = %#v, %v; want %#v", a.Changes(), err, c.then)
			}
		})
	}
}

// What a subuser's roles and direct rights give on public items of a kind:
// the most generous of them, per kind.
func TestPublicRights(t *testing.T) {
	a := rights.AccessFromHistory("acme", []domain.Event{
		rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: view}},
		rights.RoleDefined{Account: "acme", Role: "editor", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.Edit}, rights.Team: edit}},
		rights.RoleAssigned{Account: "acme", User: other.User, Role: "viewer"},
		rights.RoleAssigned{Account: "acme", User: other.User, Role: "editor"},
		rights.RoleUnassigned{Account: "acme", User: other.User, Role: "editor"},
		rights.RoleAssigned{Account: "acme", User: creator.User, Role: "editor"},
		rights.DirectRightsSet{Account: "acme", User: creator.User, Kind: rights.Fleet, Rights: rights.Rights{Member: rights.Full}},
	})
	cases := []struct {
		name string
		user domain.UserID
		kind rights.Kind
		want rights.Rights
	}{
		{"a role", other.User, rights.Fleet, view},
		{"a role taken away gives nothing", other.User, rights.Team, none},
		{"a role and direct rights: the most generous of each", creator.User, rights.Fleet, rights.Rights{Item: rights.Edit, Member: rights.Full}},
		{"nothing for a kind no role names", creator.User, rights.Category, none},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := a.PublicRights(c.user, c.kind); got != c.want {
				t.Fatalf("public rights = %+v, want %+v", got, c.want)
			}
		})
	}
}

// A role goes only when no one holds it; a node only when it is empty.
func TestDeletions(t *testing.T) {
	roles := []domain.Event{
		rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: view}},
		rights.RoleDefined{Account: "acme", Role: "unused", Rights: map[rights.Kind]rights.Rights{rights.Team: view}},
		rights.RoleAssigned{Account: "acme", User: other.User, Role: "viewer"},
	}
	cases := []struct {
		name string
		when func() ([]domain.Event, error)
		then []domain.Event
		err  error
	}{
		{"a role no one holds", func() ([]domain.Event, error) {
			a := rights.AccessFromHistory("acme", roles)
			err := a.DeleteRole(admin, "unused")
			return a.Changes(), err
		}, []domain.Event{rights.RoleDeleted{Account: "acme", Role: "unused", By: admin.User}}, nil},
		{"not a role someone holds", func() ([]domain.Event, error) {
			a := rights.AccessFromHistory("acme", roles)
			return nil, a.DeleteRole(admin, "viewer")
		}, nil, rights.ErrRoleInUse},
		{"a deleted role is assigned no more", func() ([]domain.Event, error) {
			a := rights.AccessFromHistory("acme", append(roles, rights.RoleDeleted{Account: "acme", Role: "unused"}))
			return nil, a.Assign(admin, other.User, "unused")
		}, nil, rights.ErrUnknownRole},
		{"not a node something is placed on", func() ([]domain.Event, error) {
			h := rights.HierarchyFromHistory("acme", []domain.Event{
				rights.NodeAdded{Account: "acme", Node: "hq", Name: "HQ"},
				rights.MemberPlaced{Account: "acme", Member: "v1", Kind: rights.Vehicle, Node: "hq"},
			})
			return nil, h.Delete(admin, "hq")
		}, nil, rights.ErrNodeNotEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.when()
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.then) {
				t.Fatalf("events = %#v, %v; want %#v", got, err, c.then)
			}
		})
	}
}

// replayed folds events into h, and checks that a hierarchy restored from
// its snapshot, as a load after a restart makes it, is the same.
func replayed(h *rights.Hierarchy, events ...domain.Event) error {
	h.Replay(events...)
	data, err := h.Snapshot()
	if err != nil {
		return err
	}
	restored := rights.EmptyHierarchy("acme")
	if err := restored.Restore(data); err != nil {
		return err
	}
	if !reflect.DeepEqual(restored, h) {
		return fmt.Errorf("restored %+v, folded %+v", restored, h)
	}
	return nil
}
