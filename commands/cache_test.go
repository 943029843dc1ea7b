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
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/device"
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
				if want := team.FromHistory(all); !reflect.DeepEqual(got, want) {
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
