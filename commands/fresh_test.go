package commands_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
)

// marking records, for each append, whether it was marked as carrying new
// event ids.
type marking struct {
	eventstore.Store
	mu     sync.Mutex
	marked []bool
}

func (m *marking) Append(ctx context.Context, stream string, exp eventstore.Expected, events ...eventstore.Event) (eventstore.AppendResult, error) {
	m.mu.Lock()
	m.marked = append(m.marked, eventstore.HasNewIDs(ctx))
	m.mu.Unlock()
	return m.Store.Append(ctx, stream, exp, events...)
}

// TestOnlyAFirstAttemptAppendsNewIDs: a command whose id was made for it
// (Meta.Fresh) tells the event store that its events' ids are new, so
// that the store need not look them up; a retry does not, since its first
// attempt may have appended to one stream before losing a race on another,
// and that append sent again must be recognised, not stored twice. A
// command whose id derives from something else does only where its load
// looked its Idempotency-Key up in the stream and found nothing.
func TestOnlyAFirstAttemptAppendsNewIDs(t *testing.T) {
	admin := team.Caller{Email: "ada@crew.test", HasIdentity: true}
	cases := []struct {
		name   string
		fresh  bool
		key    string // an Idempotency-Key, from which the command's id derives
		race   bool   // another writer moves the second stream during the first attempt
		marked []bool
	}{
		{"fresh, no race", true, "", false, []bool{true, true}},
		{"fresh, retried after a race on its second stream", true, "", true, []bool{true, true, false, false}},
		{"a derived id", false, "", false, []bool{false, false}},
		// A key the load looked up and did not find, in a stream it
		// appends to at the revision it read: each append, on each attempt,
		// is marked where its stream's load found nothing of it.
		{"a key not seen before", false, "k1", false, []bool{true, true}},
		{"a key not seen before, retried after a race on its second stream", false, "k2", true, []bool{true, true, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			repo := testRepo(t, 1<<20)
			store := &marking{Store: repo.Events}
			repo.Events = store
			for _, id := range []team.ID{"a", "b"} {
				p, err := team.Create(admin, id, "Bridge")
				if err != nil {
					t.Fatal(err)
				}
				appendEvents(t, repo, team.Stream(id), "create-"+string(id), p.Changes()...)
			}
			store.marked = nil
			attempts := 0
			rename := commands.Decorate(func(ctx context.Context, m commands.Meta) (commands.Result, error) {
				attempts++
				var res commands.Result
				for _, id := range []team.ID{"a", "b"} {
					l, p, err := commands.LoadState(ctx, repo, team.Stream(id), m, team.New)
					if err != nil {
						return res, err
					}
					if id == "b" && c.race && attempts == 1 {
						appendEvents(t, repo, team.Stream(id), "racer", team.CloudProjectRenamed{Project: id, Name: "Racer", By: admin.Email})
						store.marked = store.marked[:len(store.marked)-1] // the racer's
					}
					if err := p.Rename(admin, fmt.Sprint("Deck ", attempts)); err != nil {
						return res, err
					}
					if res, err = repo.Save(ctx, l, m, "", p.Changes()); err != nil {
						return res, err
					}
				}
				return res, nil
			}, slog.New(slog.NewTextHandler(io.Discard, nil)), "RenameTwo", nil)
			m := commands.Meta{Caller: domain.Actor{User: "ada@crew.test", Account: "crew"}, CommandID: "rename", Fresh: c.fresh, IdempotencyKey: c.key}
			if _, err := rename.Handle(ctx, m); err != nil {
				t.Fatal(err)
			}
			if len(store.marked) != len(c.marked) {
				t.Fatalf("appends marked %v, want %v", store.marked, c.marked)
			}
			for i := range c.marked {
				if store.marked[i] != c.marked[i] {
					t.Fatalf("appends marked %v, want %v", store.marked, c.marked)
				}
			}
			recs, _ := repo.Events.ReadStream(ctx, team.Stream("a"), 0, 0)
			renamed := 0
			for _, r := range recs {
				if r.Meta.CommandID == "rename" {
					renamed++
				}
			}
			if renamed != 1 {
				t.Fatalf("the first stream holds %d events of the command, want 1", renamed)
			}
		})
	}
}
