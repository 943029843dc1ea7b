package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	rmtest "github.com/shareledger/shareledger/projections/storetest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/eventstore/postgres"
	"github.com/shareledger/shareledger/eventstore/storetest"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
)

func harness() storetest.Harness {
	type opened struct{ url, schema string }
	cfgs := map[eventstore.Store]opened{}
	open := func(t testing.TB, url, schema string) eventstore.Store {
		s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		cfgs[s] = opened{url, schema}
		return s
	}
	return storetest.Harness{
		New: func(t testing.TB) eventstore.Store {
			url, schema := pgtest.Schema(t)
			return open(t, url, schema)
		},
		Reopen: func(t testing.TB, old eventstore.Store) eventstore.Store {
			_ = old.Close()
			c := cfgs[old]
			return open(t, c.url, c.schema)
		},
		Contiguous: true,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

// DATABASE_URL=... go test -run '^$' -bench Append ./eventstore/postgres/
func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, harness()) }

// Two stores on one database stand for two instances of the service.
func twoInstances(t *testing.T) (a, b eventstore.Store) {
	url, schema := pgtest.Schema(t)
	for _, p := range []*eventstore.Store{&a, &b} {
		s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		*p = s
	}
	return a, b
}

func TestInstancesNeverBothWinARace(t *testing.T) {
	a, b := twoInstances(t)
	ctx := context.Background()
	for round := range 20 {
		stream := fmt.Sprintf("race-%d", round)
		if _, err := a.Append(ctx, stream, eventstore.NoStream(), storetest.Events("Seed", 1)...); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for _, s := range []eventstore.Store{a, b} {
			go func() {
				_, err := s.Append(ctx, stream, eventstore.Exactly(0), storetest.Events("Race", 1)...)
				errs <- err
			}()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("round %d: both or neither append won: %v, %v", round, e1, e2)
		}
		if err := errors.Join(e1, e2); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			t.Fatalf("round %d: loser's error %v", round, err)
		}
	}
}

// A reader that tails the log while both instances write sees positions
// 1, 2, 3... with no gap and nothing appearing behind what it has read.
func TestReadersSeeAGapFreeOrder(t *testing.T) {
	a, b := twoInstances(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const perWriter, writers = 40, 8
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range perWriter {
				if _, err := s.Append(ctx, fmt.Sprintf("w%d-%d", w, i%3), eventstore.Any(), storetest.Events("W", 1+i%2)...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	want := uint64(writers * perWriter * 3 / 2)
	var seen uint64
	reader := b
	for seen < want {
		recs, err := reader.ReadAll(ctx, eventstore.At(seen), 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Position.Commit != seen+1 {
				t.Fatalf("read position %d right after %d", r.Position.Commit, seen)
			}
			seen = r.Position.Commit
		}
		if len(recs) == 0 {
			runtime.Gosched()
		}
	}
	wg.Wait()
	if head, _ := a.Head(ctx); head.Commit != want {
		t.Fatalf("head %d, want %d", head.Commit, want)
	}
}

// BenchmarkCopyCeiling writes the rows an append writes, with nothing but
// PostgreSQL COPY in transactions of 256 rows: the engine's own rate for
// the same writes, the ceiling for BenchmarkAppend.
//
//	DATABASE_URL=... go test -run '^$' -bench CopyCeiling ./eventstore/postgres/
func BenchmarkCopyCeiling(b *testing.B) {
	url, schema := pgtest.Schema(b)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	_ = s.Close()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET search_path = "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"device":"3f1c0e5e-4d6b-4f0c-9a59-1b2f7f0a9c11","owner":"rentco","partner":"acme","by":"bob@rentco.example"}`)
	meta := []byte(`{"user":"bob@rentco.example","account":"rentco","commandId":"c","correlationId":"c","time":"2026-01-01T00:00:00Z"}`)
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(256, b.N-done)
		rows := make([][]any, n)
		for i := range rows {
			pos := int64(done + i + 1)
			rows[i] = []any{pos, fmt.Sprint("bench-", pos), int64(0), uuid.NewString(), "DeviceSharedWithPartner", 1, data, meta}
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"es_events"}, []string{"position", "stream", "revision", "id", "type", "version", "data", "meta"}, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// Catch-up from the PostgreSQL event store into embedded read models.
//
//	DATABASE_URL=... go test -run '^$' -bench CatchUp ./eventstore/postgres/
func BenchmarkCatchUp(b *testing.B) {
	rmtest.BenchmarkCatchUp(b, harness().New, func(b testing.TB) projections.Store {
		s, err := rmbolt.Open(filepath.Join(b.TempDir(), "rm.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
