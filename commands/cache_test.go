package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

func testRepo(t testing.TB, budget int64) commands.Repo {
	es, err := eventpebble.Open(eventpebble.Config{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	return commands.Repo{Events: es, Registry: catalog.New(), Cache: commands.NewStateCache(budget)}
}

func appendEvents(t testing.TB, repo commands.Repo, stream string, cmd string, events ...domain.Event) {
	t.Helper()
	out := make([]eventstore.Event, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = eventstore.Event{ID: commands.EventID(cmd, stream, i), Type: e.EventType(), Version: e.EventVersion(), Data: data,
			Meta: eventstore.Meta{CommandID: cmd, Time: time.Now()}}
	}
	if _, err := repo.Events.Append(context.Background(), stream, eventstore.Any(), out...); err != nil {
		t.Fatal(err)
	}
}

// TestLoadStateFoldsWhatFromHistoryFolds: a cloud project built up over
// many commands, each appended and then loaded through the state cache (as
// a handler would, changing the copy it gets), is at every step the
// project that folding the whole stream gives, whatever was decided on
// copies that were never saved; with a cache too small to keep it, too.
func TestLoadStateFoldsWhatFromHistoryFolds(t *testing.T) {
	ctx := context.Background()
	for _, budget := range []int64{1 << 20, 100} {
		t.Run(fmt.Sprintf("budget %d", budget), func(t *testing.T) {
			repo := testRepo(t, budget)
			admin := team.Caller{Email: "ada@crew.test", HasIdentity: true}
			p, err := team.Create(admin, "p1", "Bridge")
			if err != nil {
				t.Fatal(err)
			}
			stream := team.Stream("p1")
			appendEvents(t, repo, stream, "create", p.Changes()...)
			var all []domain.Event
			all = append(all, p.Changes()...)
			for i := range 40 {
				l, got, err := commands.LoadState(ctx, repo, stream, commands.Meta{}, team.New)
				if err != nil || !l.Exists() {
					t.Fatalf("step %d: %v (exists %v)", i, err, l.Exists())
				}
				if want := team.FromHistory(all); !sameProject(t, got, want) {
					t.Fatalf("step %d: the loaded state differs from a fold of the whole stream", i)
				}
				// A decision on a copy that is never saved (refused
				// later, or lost to a conflict) leaves no trace.
				_, dropped, err := commands.LoadState(ctx, repo, stream, commands.Meta{}, team.New)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := dropped.Invite(admin, team.Invitation{Email: "ghost@crew.test", Role: team.Administrator, HasIdentity: true}); err != nil {
					t.Fatal(err)
				}
				if err := dropped.CreateJob(admin, "ghost-job", "Ghost"); err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					if err := dropped.Assign(admin, "j0", "ghost@crew.test"); err != nil {
						t.Fatal(err)
					}
				}
				email := domain.UserID(fmt.Sprintf("m%d@crew.test", i))
				if _, err := got.Invite(admin, team.Invitation{Email: email, Role: team.User, HasIdentity: i%2 == 0}); err != nil {
					t.Fatal(err)
				}
				if i%3 == 0 {
					if err := got.CreateJob(admin, team.JobID(fmt.Sprint("j", i)), "Job"); err != nil {
						t.Fatal(err)
					}
				}
				appendEvents(t, repo, stream, fmt.Sprint("cmd", i), got.Changes()...)
				all = append(all, got.Changes()...)
			}
			if got := repo.Cache.Size(); got > budget {
				t.Fatalf("the cache holds %d bytes, over its budget of %d", got, budget)
			}
		})
	}
}

// TestStateCacheStaysWithinItsBudget loads more aggregates than the budget
// holds: the cache never holds more than its budget, and keeps some.
func TestStateCacheStaysWithinItsBudget(t *testing.T) {
	ctx := context.Background()
	const budget = 16 << 10
	repo := testRepo(t, budget)
	for i := range 400 {
		id := device.ID(fmt.Sprint("d", i))
		appendEvents(t, repo, device.Stream(id), fmt.Sprint("c", i), device.DeviceRegistered{Device: id, Owner: "acme", Serial: "s", Name: "Rover"})
		l, d, err := commands.LoadState(ctx, repo, device.Stream(id), commands.Meta{}, device.Empty)
		if err != nil || !l.Exists() || d.ID() != id {
			t.Fatalf("device %s: %v", id, err)
		}
		if got := repo.Cache.Size(); got > budget {
			t.Fatalf("the cache holds %d bytes, over its budget of %d", got, budget)
		}
	}
	if repo.Cache.Len() == 0 {
		t.Fatal("the cache kept nothing")
	}
}

// TestSnapshotsRestoreWhatWasFolded: with nothing cached, a load starts
// from the stream's snapshot, which a load saved after folding the events:
// for every aggregate, the restored state (and what it decides) is the
// folded one, and a snapshot of another fold's version is ignored.
func TestSnapshotsRestoreWhatWasFolded(t *testing.T) {
	ctx := context.Background()
	pid := partnership.IDOf("acme", "rentco")
	type load func(repo commands.Repo) (any, error)
	loader := func(stream string, f func(repo commands.Repo) (any, error)) load { return f }
	tests := []struct {
		name   string
		stream string
		events []domain.Event
		load   load
	}{
		{"an account", account.Stream("acme"), []domain.Event{
			account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
			account.UserAdded{Account: "acme", User: "ann@acme.test", Name: "Ann", Role: account.User},
			account.ProjectCreated{Account: "acme", Project: "bridge", Name: "Bridge"}},
			loader(account.Stream("acme"), func(repo commands.Repo) (any, error) {
				_, a, err := commands.LoadState(ctx, repo, account.Stream("acme"), commands.Meta{}, account.Empty)
				return a, err
			})},
		{"a device", device.Stream("d1"), []domain.Event{
			device.DeviceRegistered{Device: "d1", Owner: "acme", Serial: "s", Name: "Rover"},
			device.DeviceAssignedToProject{Device: "d1", Account: "acme", Project: "bridge"}},
			loader(device.Stream("d1"), func(repo commands.Repo) (any, error) {
				_, d, err := commands.LoadState(ctx, repo, device.Stream("d1"), commands.Meta{}, device.Empty)
				return d, err
			})},
		{"a partnership", partnership.Stream("acme", "rentco"), []domain.Event{
			partnership.PartnerRequested{Partnership: pid, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor, Notify: []domain.UserID{"bob@rentco.test"}, By: "alice@acme.test"},
			partnership.PartnerApproved{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"},
			partnership.DeviceSharedWithPartner{Partnership: pid, Device: "d1", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"},
			device.DeviceAssignedToProject{Device: "d1", Account: "acme", Project: "bridge"}},
			loader(partnership.Stream("acme", "rentco"), func(repo commands.Repo) (any, error) {
				_, p, err := commands.LoadState(ctx, repo, partnership.Stream("acme", "rentco"), commands.Meta{}, func() *partnership.Partnership { return partnership.New("acme", "rentco") })
				return p, err
			})},
		{"an account's rules", rights.AccessStream("acme"), []domain.Event{
			rights.RoleDefined{Account: "acme", Role: "viewer", Rights: map[rights.Kind]rights.Rights{rights.Fleet: {Item: rights.View}}},
			rights.RoleAssigned{Account: "acme", User: "ann@acme.test", Role: "viewer"}},
			loader(rights.AccessStream("acme"), func(repo commands.Repo) (any, error) {
				_, a, err := commands.LoadState(ctx, repo, rights.AccessStream("acme"), commands.Meta{}, func() *rights.Access { return rights.EmptyAccess("acme") })
				return a, err
			})},
		{"a hierarchy", rights.HierarchyStream("acme"), []domain.Event{
			rights.NodeAdded{Account: "acme", Node: "hq", Name: "HQ"},
			rights.NodeAdded{Account: "acme", Node: "east", Parent: "hq", Name: "East"},
			rights.MemberPlaced{Account: "acme", Member: "ann@acme.test", Kind: rights.User, Node: "east"}},
			loader(rights.HierarchyStream("acme"), func(repo commands.Repo) (any, error) {
				_, h, err := commands.LoadState(ctx, repo, rights.HierarchyStream("acme"), commands.Meta{}, func() *rights.Hierarchy { return rights.EmptyHierarchy("acme") })
				return h, err
			})},
		{"a collection", rights.CollectionStream("north"), []domain.Event{
			rights.CollectionCreated{Account: "acme", Item: "north", Kind: rights.Fleet, Name: "North", Public: true, Creator: "alice@acme.test"},
			rights.SharedPrivately{Account: "acme", Item: "north", User: "ann@acme.test", Rights: rights.Rights{Item: rights.View, Member: rights.Edit}, By: "alice@acme.test"},
			rights.MemberAdded{Account: "acme", Item: "north", Member: "truck-7", Kind: rights.Vehicle}},
			loader(rights.CollectionStream("north"), func(repo commands.Repo) (any, error) {
				_, c, err := commands.LoadState(ctx, repo, rights.CollectionStream("north"), commands.Meta{}, rights.EmptyCollection)
				return c, err
			})},
		{"a cloud project", team.Stream("p1"), []domain.Event{
			team.CloudProjectCreated{Project: "p1", Name: "Bridge", By: "ada@crew.test"},
			team.MemberInvited{Project: "p1", Email: "kim@crew.test", Role: team.User, By: "ada@crew.test"},
			team.JobCreated{Project: "p1", Job: "j1", Name: "Survey", By: "ada@crew.test"},
			team.JobAssigned{Project: "p1", Job: "j1", Email: "ada@crew.test", By: "ada@crew.test"},
			team.StylesheetAdded{Project: "p1", Stylesheet: "Plain", By: "ada@crew.test"}},
			loader(team.Stream("p1"), func(repo commands.Repo) (any, error) {
				_, p, err := commands.LoadState(ctx, repo, team.Stream("p1"), commands.Meta{}, team.New)
				return p, err
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := testRepo(t, 0) // nothing cached: every load starts from the store
			repo.SnapshotEvery = 1
			appendEvents(t, repo, tt.stream, "given", tt.events...)
			folded, err := tt.load(repo) // folds every event, then saves a snapshot
			if err != nil {
				t.Fatal(err)
			}
			snap, found, err := repo.Events.LoadSnapshot(ctx, tt.stream)
			if err != nil || !found || snap.Revision != uint64(len(tt.events)-1) {
				t.Fatalf("snapshot %+v, found %v, err %v", snap, found, err)
			}
			restored, err := tt.load(repo) // starts from the snapshot
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(restored, folded) {
				t.Fatalf("restored %+v\nfolded   %+v", restored, folded)
			}
			// A snapshot of another fold is ignored: the load folds from
			// the start, says the same, and replaces it.
			if err := repo.Events.SaveSnapshot(ctx, tt.stream, eventstore.Snapshot{Revision: 99, Version: "older-fold/0", Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			again, err := tt.load(repo)
			if err != nil || !reflect.DeepEqual(again, folded) {
				t.Fatalf("with another fold's snapshot: %+v (err %v)", again, err)
			}
			if snap, _, _ := repo.Events.LoadSnapshot(ctx, tt.stream); snap.Version == "older-fold/0" {
				t.Fatal("another fold's snapshot was kept")
			}
		})
	}
}

// sameProject says whether two projects hold the same: their snapshots
// (every member, job and stylesheet), and what the decisions read of the
// whole team (its members, the administrators waiting for an identity).
// Their tables may be laid out differently, so reflect.DeepEqual cannot
// tell.
func sameProject(t *testing.T, a, b *team.Project) bool {
	t.Helper()
	as, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	bs, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return string(as) == string(bs) && reflect.DeepEqual(a.Members(), b.Members()) &&
		reflect.DeepEqual(a.PendingAdministrators(), b.PendingAdministrators()) && a.Footprint() == b.Footprint()
}

// A large state is snapshotted less often: after SnapshotEvery events, but
// not before the events folded since its last snapshot outweigh it, so
// that encoding the whole state does not cost each command more as the
// aggregate grows. A fleet of 300 to 440 vehicles (24 to 35 KB) with a
// snapshot due every 10 events waits 100 to 140.
func TestLargeStatesAreSnapshottedLessOften(t *testing.T) {
	ctx := context.Background()
	repo := testRepo(t, 1<<20)
	repo.SnapshotEvery = 10
	stream := rights.CollectionStream("fleet")
	added := 0
	add := func(n int) {
		events := make([]domain.Event, n)
		for i := range events {
			events[i] = rights.MemberAdded{Account: "acme", Item: "fleet", Member: rights.MemberID(fmt.Sprint("v", added)), Kind: rights.Vehicle}
			added++
		}
		appendEvents(t, repo, stream, fmt.Sprint("add", added), events...)
		if _, _, err := commands.LoadState(ctx, repo, stream, commands.Meta{}, rights.EmptyCollection); err != nil {
			t.Fatal(err)
		}
	}
	revision := func() uint64 {
		snap, found, err := repo.Events.LoadSnapshot(ctx, stream)
		if err != nil || !found {
			t.Fatalf("no snapshot: %v", err)
		}
		return snap.Revision
	}
	appendEvents(t, repo, stream, "create", rights.CollectionCreated{Account: "acme", Item: "fleet", Kind: rights.Fleet, Name: "Rovers", Creator: "alice@acme.test"})
	add(299)
	if got := revision(); got != 299 {
		t.Fatalf("first snapshot at revision %d, want 299", got)
	}
	for range 4 {
		add(20) // each load folds 20 more: past SnapshotEvery, short of the state
		if got := revision(); got != 299 {
			t.Fatalf("after %d vehicles, a snapshot at revision %d: the state was snapshotted again before its events outweighed it", added, got)
		}
	}
	for range 3 {
		add(20) // 140 folded: about as many as the state's 440 vehicles weigh
	}
	if got := revision(); got <= 299 {
		t.Fatalf("after %d vehicles, still the snapshot at revision %d", added, got)
	}
}
