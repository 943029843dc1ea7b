package bolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/storetest"
)

func TestConformance(t *testing.T) {
	paths := map[projections.Store]string{}
	open := func(t testing.TB, path string) projections.Store {
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		paths[s] = path
		return s
	}
	storetest.Run(t, storetest.Harness{
		New: func(t testing.TB) projections.Store { return open(t, filepath.Join(t.TempDir(), "rm.db")) },
		Reopen: func(t testing.TB, old projections.Store) projections.Store {
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, paths[old])
		},
	})
}

// go test -run '^$' -bench CatchUp ./projections/bolt/
func BenchmarkCatchUp(b *testing.B) {
	storetest.BenchmarkCatchUp(b, storetest.Pebble, openBench)
}

// openBench opens a fresh store for a benchmark.
func openBench(b testing.TB) projections.Store {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "rm.db"))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRunnerCatchUp is the catch-up as the service runs it, beside
// BenchmarkCatchUp (projections.CatchUpAll) in the same run.
//
//	go test -run '^$' -bench 'CatchUp|Ceiling' -benchtime 3x ./projections/bolt/
func BenchmarkRunnerCatchUp(b *testing.B) {
	storetest.BenchmarkRunnerCatchUp(b, storetest.Pebble, openBench)
}

// BenchmarkCeiling is the engine's ceiling for the catch-up benchmark, in
// the same run: raw bbolt putting documents of the catch-up's size (about
// 300 bytes of JSON) under keys like its own, in transactions of 1,500
// puts (a page of 500 events, three projections), with no projection,
// decoding or checkpoint. It reports records per second.
//
//	go test -run '^$' -bench 'CatchUp|Ceiling' -benchtime 3x ./projections/bolt/
func BenchmarkCeiling(b *testing.B) {
	doc := []byte(`{"id":"d-000000","serial":"SN-000000","name":"Rover","source":"shared","owner":{"id":"rent00","organization":"Rent00"},"shared":true,"activeAccounts":["build00"],"credentials":"","projects":[{"id":"p-000","name":"Site"}],"updatedAt":"2026-03-01T09:00:00Z"}`)
	const records, perTx = 120_000, 1_500
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for start := 0; start < records; start += perTx {
			err := db.Update(func(tx *bbolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte("devices.mine"))
				if err != nil {
					return err
				}
				for i := start; i < start+perTx; i++ {
					if err := bk.Put(fmt.Appendf(nil, "build%02d/d-%06d", i%20, i), doc); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestPagesAreWrittenNearlyFull: documents written a page of events at a
// time at the end of a table fill the pages that hold them, where pages
// split half full left them half empty for ever; written at random keys,
// they leave pages split half full, which later writes fill (pages split
// nearly full there left tiny ones beside them: 2.6x).
func TestPagesAreWrittenNearlyFull(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rm.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for page := range 40 {
		err := s.Update(ctx, "fill", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			for i := range 500 {
				doc := struct {
					N    int    `json:"n"`
					Name string `json:"name"`
				}{i, fmt.Sprintf("document %d of page %d", i, page)}
				if err := tx.Put(ctx, "random", fmt.Sprintf("k%016x", rng.Uint64()), doc); err != nil {
					return eventstore.Position{}, err
				}
				if err := tx.Put(ctx, "appended", fmt.Sprintf("%08d", page*500+i), doc); err != nil {
					return eventstore.Position{}, err
				}
			}
			return eventstore.At(uint64(page + 1)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for table, most := range map[string]float64{"random": 1.6, "appended": 1.05} {
			st := tx.Bucket([]byte(table)).Stats()
			if ratio := float64(st.LeafAlloc) / float64(st.LeafInuse); ratio > most {
				t.Errorf("%s: %d bytes of pages for %d held, %.2fx (at most %.2fx)", table, st.LeafAlloc, st.LeafInuse, ratio, most)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRepeatedPuts: a page's writes, each key written eight times
// (as the audit index marks each entity and account it sees, event after
// event), gathered in a transaction that then writes nothing: what the
// transaction's bookkeeping costs, without bbolt's.
//
//	go test -run '^$' -bench RepeatedPuts -benchmem ./projections/bolt/
func BenchmarkRepeatedPuts(b *testing.B) {
	ctx := context.Background()
	s, err := bolt.Open(filepath.Join(b.TempDir(), "rm.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("entity:%d/account-%d", i/3, i%3)
	}
	var doc any = projections.Encoded("true") // boxed once, as the index does
	b.ReportAllocs()
	for b.Loop() {
		err := s.Update(ctx, "marks", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			for range 8 {
				for _, k := range keys {
					if err := tx.Put(ctx, "seen", k, doc); err != nil {
						return cp, err
					}
				}
			}
			return cp, projections.ErrStopUpdate
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestTheCommitWindowHoldsOnlyWhatNobodyWaitsFor: under load the store
// holds a live projection's commit back (CommitWindow) to share it with
// the updates that follow, but never keeps a reader waiting for the
// window, nor a rebuild's pages, nor an update that is not a live
// projection's delivery. The window here is an hour: each case would
// time out if the store held its commit back.
func TestTheCommitWindowHoldsOnlyWhatNobodyWaitsFor(t *testing.T) {
	write := func(at uint64) func(projections.Tx, eventstore.Position) (eventstore.Position, error) {
		return func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			return eventstore.At(at), tx.Put(context.Background(), "docs", fmt.Sprint(at), map[string]uint64{"at": at})
		}
	}
	for _, tc := range []struct {
		name string
		// second commits position 2 right after position 1 committed, and
		// returns once it has.
		second func(t *testing.T, s *bolt.Store) error
	}{
		{"a reader waits on the projection", func(t *testing.T, s *bolt.Store) error {
			return awaited(t, s, write(2))
		}},
		{"a reader waits through the generational wrapper", func(t *testing.T, s *bolt.Store) error {
			return awaited(t, projections.Generational(s), write(2))
		}},
		{"an update that is not a live delivery", func(t *testing.T, s *bolt.Store) error {
			return s.Update(t.Context(), "live", write(2))
		}},
		{"a grouped update waits on it (a point-in-time replay)", func(t *testing.T, s *bolt.Store) error {
			done := held(t, s, write(2))
			other := func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
				return eventstore.At(1), tx.Put(context.Background(), "other", "1", map[string]int{"n": 1})
			}
			if err := s.UpdateEach(t.Context(), []projections.Update{{Consumer: "other", Fn: other}})[0]; err != nil {
				return err
			}
			return <-done
		}},
		{"a rebuild's page", func(t *testing.T, s *bolt.Store) error {
			return s.UpdateEachAhead(t.Context(), []projections.Update{{Consumer: "live", Fn: write(2)}})()[0]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := bolt.Open(filepath.Join(t.TempDir(), "rm.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.CommitWindow = time.Hour
			// The first commit of a quiet store is not held.
			if err := s.Update(projections.LiveDelivery(t.Context()), "live", write(1)); err != nil {
				t.Fatal(err)
			}
			if err := tc.second(t, s); err != nil {
				t.Fatal(err)
			}
			if cp, err := s.Checkpoint(t.Context(), "live"); err != nil || cp != eventstore.At(2) {
				t.Fatalf("checkpoint %v (%v), want 2", cp, err)
			}
		})
	}
}

// held runs a live delivery of fn on s, right after a commit, and checks
// that the store holds its commit back while nobody waits; the channel
// gives the update's outcome.
func held(t *testing.T, s projections.Store, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Update(projections.LiveDelivery(t.Context()), "live", fn) }()
	select {
	case err := <-done:
		t.Fatalf("a live delivery right after a commit committed at once (%v), without its window", err)
	case <-time.After(50 * time.Millisecond):
	}
	return done
}

// awaited holds a live delivery of fn on s (held), then waits on its
// position (2) as a reader does: the commit must follow at once.
func awaited(t *testing.T, s projections.Store, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	done := held(t, s, fn)
	progress := projections.NewProgress(s)
	progress.Poll = 5 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := progress.Wait(ctx, eventstore.At(2), "live"); err != nil {
		return err
	}
	return <-done
}
