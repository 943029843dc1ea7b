package commands_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
)

// counting counts the appends that lose a race.
type counting struct {
	eventstore.Store
	conflicts atomic.Int64
}

func (c *counting) Append(ctx context.Context, stream string, exp eventstore.Expected, events ...eventstore.Event) (eventstore.AppendResult, error) {
	res, err := c.Store.Append(ctx, stream, exp, events...)
	if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		c.conflicts.Add(1)
	}
	return res, err
}

// TestCommandsOnOneStreamQueue: 64 commands on one stream at once, in one
// process with stream locks, all succeed and none loses a race: they wait
// for each other instead of colliding and retrying.
func TestCommandsOnOneStreamQueue(t *testing.T) {
	ctx := context.Background()
	repo := testRepo(t, 1<<20)
	store := &counting{Store: repo.Events}
	repo.Events, repo.Locks = store, commands.NewStreamLocks()
	admin := team.Caller{Email: "ada@crew.test", HasIdentity: true}
	p, err := team.Create(admin, "p1", "Bridge")
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, repo, team.Stream("p1"), "create", p.Changes()...)
	createJob := commands.Decorate(func(ctx context.Context, i int) (commands.Result, error) {
		m := commands.Meta{Caller: domain.Actor{User: "ada@crew.test", Account: "crew"}, CommandID: fmt.Sprint("job-", i)}
		l, p, err := commands.LoadState(ctx, repo, team.Stream("p1"), m, team.New)
		if err != nil {
			return commands.Result{}, err
		}
		if err := p.CreateJob(admin, team.JobID(fmt.Sprint("j", i)), "Job"); err != nil {
			return commands.Result{}, err
		}
		return repo.Save(ctx, l, m, "", p.Changes())
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), "CreateJob", nil)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if _, err := createJob.Handle(ctx, i); err != nil {
				t.Errorf("command %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := store.conflicts.Load(); n != 0 {
		t.Fatalf("%d appends lost a race", n)
	}
	recs, _ := repo.Events.ReadStream(ctx, team.Stream("p1"), 0, 0)
	if len(recs) != 65 {
		t.Fatalf("the stream holds %d events, want 65", len(recs))
	}
}
