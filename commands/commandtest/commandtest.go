// Package commandtest runs the use cases of the command packages in the
// given events, when command, then events (or error) style, against a real
// embedded event store: the given events are appended to their streams,
// the command goes through its decorated handler, and what it appended to
// the log is compared with what the case expects.
package commandtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

// Given is an event already in a stream.
type Given struct {
	Stream string
	Event  domain.Event
}

// In files events under a stream.
func In(stream string, events ...domain.Event) []Given {
	out := make([]Given, len(events))
	for i, e := range events {
		out[i] = Given{Stream: stream, Event: e}
	}
	return out
}

// Case is one decision: the history, the command, and the events it
// appends or the rule it breaks (a domain.Error code, or an error that
// errors.Is finds).
type Case[C any] struct {
	Name  string
	Given [][]Given
	When  C
	Then  []domain.Event
	// Into, when set, is the stream every appended event must be in.
	Into string
	Code string
	Err  error
}

// Env is a fresh repository for one case.
type Env struct {
	Repo commands.Repo
	Log  *slog.Logger
}

// NewEnv opens an empty embedded event store.
func NewEnv(t testing.TB) Env {
	t.Helper()
	return OpenEnv(t, t.TempDir())
}

// OpenEnv opens the embedded event store in dir (without fsync), as a
// process starting on it would: nothing cached. The store closes when t
// ends, or earlier with Close.
func OpenEnv(t testing.TB, dir string) Env {
	t.Helper()
	es, err := eventpebble.Open(eventpebble.Config{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	return Env{
		Repo: commands.Repo{Events: es, Registry: catalog.New(), Cache: commands.NewStateCache(1 << 20)},
		Log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// Meta is the metadata of command cmd by a caller of an account; what the
// command creates derives its id from cmd (commands.NewID).
func Meta(user domain.UserID, account domain.AccountID, cmd string) commands.Meta {
	return commands.Meta{Caller: domain.Actor{User: user, Account: account}, CommandID: cmd, CorrelationID: "test", Time: time.Unix(1_800_000_000, 0).UTC()}
}

// Seed appends given events to their streams.
func Seed(t testing.TB, env Env, given ...[]Given) {
	t.Helper()
	for _, group := range given {
		for _, g := range group {
			appendEvent(t, env.Repo.Events, g)
		}
	}
}

// Run runs the cases; handler picks the use case from a case's fresh
// handlers.
func Run[C any](t *testing.T, cases []Case[C], handler func(env Env) commands.Handler[C]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx := context.Background()
			env := NewEnv(t)
			Seed(t, env, c.Given...)
			before, err := env.Repo.Events.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = handler(env).Handle(ctx, c.When)
			switch {
			case c.Code != "":
				var de *domain.Error
				if !errors.As(err, &de) || de.Code != c.Code {
					t.Fatalf("error %v, want the rule %s", err, c.Code)
				}
			case c.Err != nil:
				if !errors.Is(err, c.Err) {
					t.Fatalf("error %v, want %v", err, c.Err)
				}
			case err != nil:
				t.Fatalf("refused: %v", err)
			}
			recs, err := env.Repo.Events.ReadAll(ctx, before, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]domain.Event, len(recs))
			for i, r := range recs {
				if c.Into != "" && r.Stream != c.Into {
					t.Errorf("%s appended to %s, want %s", r.Type, r.Stream, c.Into)
				}
				if got[i], err = env.Repo.Registry.Decode(r.Type, r.Version, r.Data); err != nil {
					t.Fatal(err)
				}
			}
			want := c.Then
			if want == nil {
				want = []domain.Event{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("appended\n%s\nwant\n%s", describe(got), describe(want))
			}
		})
	}
}

func appendEvent(t testing.TB, es eventstore.Store, g Given) {
	t.Helper()
	data, err := json.Marshal(g.Event)
	if err != nil {
		t.Fatal(err)
	}
	e := eventstore.Event{ID: uuid.NewString(), Type: g.Event.EventType(), Version: g.Event.EventVersion(), Data: data,
		Meta: eventstore.Meta{CommandID: "given", Time: time.Unix(1_700_000_000, 0).UTC()}}
	if _, err := es.Append(context.Background(), g.Stream, eventstore.Any(), e); err != nil {
		t.Fatal(err)
	}
}

func describe(events []domain.Event) string {
	if len(events) == 0 {
		return "  (nothing)"
	}
	out := ""
	for _, e := range events {
		out += fmt.Sprintf("  %s %+v\n", e.EventType(), e)
	}
	return out
}

// Events lists the events a case expects.
func Events(events ...domain.Event) []domain.Event { return events }

// Latencies runs one command to warm up (run(-1)), then b.N commands
// through run, and reports the median and the 99th percentile of their
// durations, beside the mean.
func Latencies(b *testing.B, run func(i int) error) {
	b.Helper()
	if err := run(-1); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	took := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := run(i); err != nil {
			b.Fatalf("command %d: %v", i, err)
		}
		took[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}

// SeedMany appends n events made by event(i) to a stream, in batches.
func SeedMany(b testing.TB, env Env, stream string, n int, event func(i int) domain.Event) {
	b.Helper()
	batch := make([]eventstore.Event, 0, 1000)
	for i := range n {
		e := event(i)
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, eventstore.Event{ID: uuid.NewString(), Type: e.EventType(), Version: e.EventVersion(), Data: data,
			Meta: eventstore.Meta{CommandID: "seed", Time: time.Unix(1_700_000_000, 0).UTC()}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := env.Repo.Events.Append(context.Background(), stream, eventstore.Any(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// Coldness makes every load of env start from the store, with snapshots
// every n events, when cold names n ("0": no snapshots); empty keeps env
// as it is (the cache warm).
func Coldness(env Env, cold string) Env {
	if cold == "" {
		return env
	}
	n, _ := strconv.Atoi(cold)
	env.Repo.Cache = commands.NewStateCache(0)
	env.Repo.SnapshotEvery = n
	return env
}
