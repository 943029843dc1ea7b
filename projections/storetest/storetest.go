// Package storetest is the conformance suite of the read-model store port.
// Every implementation calls Run from its own tests.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Harness tells the suite how to get stores.
type Harness struct {
	// New returns an empty store; the suite closes it.
	New func(t testing.TB) projections.Store
	// Reopen closes old and opens the same storage again (nil: skip).
	Reopen func(t testing.TB, old projections.Store) projections.Store
}

type doc struct {
	N    int    `json:"n"`
	Name string `json:"name,omitempty"`
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("put get delete", func(t *testing.T) { testCRUD(t, h) })
	t.Run("documents new to their keys", func(t *testing.T) { testFresh(t, h) })
	t.Run("versions kept copy-on-write", func(t *testing.T) { testVersions(t, h) })
	t.Run("many versioned documents new to their keys", func(t *testing.T) { testManyVersioned(t, h) })
	t.Run("changes and checkpoint commit together", func(t *testing.T) { testAtomic(t, h) })
	t.Run("scan pages", func(t *testing.T) { testScan(t, h) })
	t.Run("many at once", func(t *testing.T) { testMany(t, h) })
	t.Run("concurrent updates serialize", func(t *testing.T) { testConcurrent(t, h) })
	t.Run("several consumers at once", func(t *testing.T) { testEach(t, h) })
	t.Run("concurrent updates of several consumers", func(t *testing.T) { testConcurrentConsumers(t, h) })
	t.Run("reading ahead in a transaction", func(t *testing.T) { testPrefetch(t, h) })
	t.Run("durable across reopen", func(t *testing.T) { testReopen(t, h) })
	t.Run("what is put or read is a copy", func(t *testing.T) { testCopies(t, h) })
	t.Run("scans see the transaction's own writes", func(t *testing.T) { testScanOwnWrites(t, h) })
	t.Run("a group applied while the one before commits", func(t *testing.T) { testAhead(t, h) })
}

func open(t *testing.T, h Harness) projections.Store {
	t.Helper()
	s := h.New(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func put(t *testing.T, s projections.Store, consumer string, to uint64, docs map[string]doc) {
	t.Helper()
	err := s.Update(context.Background(), consumer, func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := tx.Put(context.Background(), "docs", k, docs[k]); err != nil {
				return eventstore.Position{}, err
			}
		}
		return eventstore.At(to), nil
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
}

func get(t *testing.T, s projections.Store, key string) (doc, bool) {
	t.Helper()
	var d doc
	var found bool
	err := s.View(context.Background(), func(r projections.Reader) error {
		var err error
		found, err = r.Get(context.Background(), "docs", key, &d)
		return err
	})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	return d, found
}

func testCRUD(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	if _, ok := get(t, s, "missing"); ok {
		t.Fatal("found a document in an empty store")
	}
	put(t, s, "c", 1, map[string]doc{"a": {N: 1, Name: "ä ünïcode"}})
	if d, ok := get(t, s, "a"); !ok || d != (doc{N: 1, Name: "ä ünïcode"}) {
		t.Fatalf("get = %+v %v", d, ok)
	}
	put(t, s, "c", 2, map[string]doc{"a": {N: 2}})
	if d, _ := get(t, s, "a"); d.N != 2 {
		t.Fatalf("overwrite: n = %d, want 2", d.N)
	}
	err := s.Update(ctx, "c", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		if err := tx.Delete(ctx, "docs", "a"); err != nil {
			return cp, err
		}
		var d doc
		if found, err := tx.Get(ctx, "docs", "a", &d); err != nil || found {
			return cp, fmt.Errorf("deleted document still visible in its transaction: %v %v", found, err)
		}
		return eventstore.At(3), tx.Delete(ctx, "never-created", "x")
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, s, "a"); ok {
		t.Fatal("deleted document still there")
	}
	// A document already encoded is stored as it is.
	err = s.Update(ctx, "c", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		return eventstore.At(4), tx.Put(ctx, "docs", "enc", projections.Encoded(`{"n":4,"name":"as encoded"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := get(t, s, "enc"); !ok || d != (doc{N: 4, Name: "as encoded"}) {
		t.Fatalf("an encoded document reads %+v %v", d, ok)
	}
}

// testFresh: a document put as projections.Fresh reads as one put, and so
// does every write to a key the transaction knows to be empty or full
// (read as absent, deleted, written and then made visible to a scan),
// whatever the store makes of what it knows.
func testFresh(t *testing.T, h Harness) {
	// A store may write many documents new to their keys another way
	// than a few (PostgreSQL: 512 or more by COPY); each is read back
	// either way.
	for _, many := range []int{0, 600} {
		t.Run(fmt.Sprintf("and %d more", many), func(t *testing.T) { testFreshAmong(t, h, many) })
	}
}

func testFreshAmong(t *testing.T, h Harness, many int) {
	s := open(t, h)
	ctx := context.Background()
	bulk := func(i int) string { return fmt.Sprintf("bulk/%03d \u00e9\t'\"", i) }
	put(t, s, "c", 1, map[string]doc{"gone": {N: 1}, "there": {N: 1}, "again": {N: 1}})
	steps := []struct {
		name string
		do   func(tx projections.Tx) error
	}{
		{"fresh", func(tx projections.Tx) error { return tx.Put(ctx, "docs", "fresh", projections.Fresh{V: doc{N: 2}}) }},
		{"fresh, encoded", func(tx projections.Tx) error {
			return tx.Put(ctx, "docs", "encoded", projections.Fresh{V: projections.Encoded(`{"n":2,"name":"as encoded"}`)})
		}},
		{"read as absent, then put", func(tx projections.Tx) error {
			var d doc
			if found, err := tx.Get(ctx, "docs", "absent", &d); err != nil || found {
				return fmt.Errorf("absent read %v, %v", found, err)
			}
			return tx.Put(ctx, "docs", "absent", doc{N: 2})
		}},
		{"deleted and scanned, then put", func(tx projections.Tx) error {
			if err := tx.Delete(ctx, "docs", "gone"); err != nil {
				return err
			}
			if err := tx.Scan(ctx, "docs", projections.Page{Prefix: "gone"}, func(string, []byte) error { return nil }); err != nil {
				return err
			}
			return tx.Put(ctx, "docs", "gone", doc{N: 2})
		}},
		{"read as there, then put as fresh", func(tx projections.Tx) error {
			var d doc
			if found, err := tx.Get(ctx, "docs", "there", &d); err != nil || !found {
				return fmt.Errorf("present read %v, %v", found, err)
			}
			return tx.Put(ctx, "docs", "there", projections.Fresh{V: doc{N: 2}})
		}},
		{"put fresh, scanned, put fresh again", func(tx projections.Tx) error {
			if err := tx.Put(ctx, "docs", "twice", projections.Fresh{V: doc{N: 1}}); err != nil {
				return err
			}
			if err := tx.Scan(ctx, "docs", projections.Page{Prefix: "twice"}, func(string, []byte) error { return nil }); err != nil {
				return err
			}
			return tx.Put(ctx, "docs", "twice", projections.Fresh{V: doc{N: 2}})
		}},
		{"many more, fresh or read as absent", func(tx projections.Tx) error {
			for i := range many {
				v := any(projections.Fresh{V: doc{N: 2, Name: bulk(i)}})
				if i%2 == 1 {
					var d doc
					if found, err := tx.Get(ctx, "docs", bulk(i), &d); err != nil || found {
						return fmt.Errorf("absent read %v, %v", found, err)
					}
					v = doc{N: 2, Name: bulk(i)}
				}
				if err := tx.Put(ctx, "docs", bulk(i), v); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	err := s.Update(ctx, "c", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
		for _, st := range steps {
			if err := st.do(tx); err != nil {
				return eventstore.Position{}, fmt.Errorf("%s: %w", st.name, err)
			}
		}
		var d doc
		if found, err := tx.Get(ctx, "docs", "fresh", &d); err != nil || !found || d.N != 2 {
			return eventstore.Position{}, fmt.Errorf("a fresh document in its transaction: %+v %v %v", d, found, err)
		}
		return eventstore.At(2), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fresh", "encoded", "absent", "gone", "there", "twice"} {
		if d, ok := get(t, s, k); !ok || d.N != 2 {
			t.Errorf("%s reads %+v (found %v), want n 2", k, d, ok)
		}
	}
	if d, _ := get(t, s, "again"); d.N != 1 {
		t.Errorf("a document not written changed: %+v", d)
	}
	for i := range many {
		if d, ok := get(t, s, bulk(i)); !ok || d.N != 2 || d.Name != bulk(i) {
			t.Fatalf("%q reads %+v (found %v), want n 2 and its name", bulk(i), d, ok)
		}
	}
}

func testAtomic(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	if cp, err := s.Checkpoint(ctx, "fresh"); err != nil || !cp.IsZero() {
		t.Fatalf("fresh checkpoint = %v %v, want zero", cp, err)
	}
	put(t, s, "one", 5, map[string]doc{"k": {N: 1}})
	boom := errors.New("boom")
	cases := []struct {
		name    string
		fail    error
		wantErr bool
	}{
		{"failing update", boom, true},
		{"stopped update", projections.ErrStopUpdate, false},
	}
	for _, c := range cases {
		var seen eventstore.Position
		err := s.Update(ctx, "one", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			seen = cp
			if err := tx.Put(ctx, "docs", "k", doc{N: 99}); err != nil {
				return cp, err
			}
			return eventstore.At(6), c.fail
		})
		if (err != nil) != c.wantErr || (c.wantErr && !errors.Is(err, boom)) {
			t.Fatalf("%s: err = %v", c.name, err)
		}
		if seen != eventstore.At(5) {
			t.Fatalf("%s: fn saw checkpoint %v, want 5", c.name, seen)
		}
		if d, _ := get(t, s, "k"); d.N != 1 {
			t.Fatalf("%s: change survived: n = %d", c.name, d.N)
		}
		if cp, _ := s.Checkpoint(ctx, "one"); cp != eventstore.At(5) {
			t.Fatalf("%s: checkpoint moved to %v", c.name, cp)
		}
	}
	put(t, s, "two", 9, nil)
	if cp, _ := s.Checkpoint(ctx, "one"); cp != eventstore.At(5) {
		t.Fatalf("another consumer's update moved checkpoint to %v", cp)
	}
	err := s.View(ctx, func(r projections.Reader) error {
		cp, err := r.Checkpoint(ctx, "one")
		if err == nil && cp != eventstore.At(5) {
			err = fmt.Errorf("checkpoint in a snapshot = %v, want 5", cp)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pair := eventstore.Position{Commit: 1 << 40, Prepare: 1<<40 - 7}
	err = s.Update(ctx, "pair", func(projections.Tx, eventstore.Position) (eventstore.Position, error) { return pair, nil })
	if cp, _ := s.Checkpoint(ctx, "pair"); err != nil || cp != pair {
		t.Fatalf("pair checkpoint = %v (err %v), want %v", cp, err, pair)
	}
}

// testMany: GetMany and ScanMany (at once on a Batched store, one by one
// on others) read what Get and Scan read, through the live generations as
// the service reads them, and a callback may read the same snapshot.
// scanPages reads pages at once (projections.ScanPages), handing each
// document to fn, and fails unless the pages gave want ("<page> <key>"):
// the pages in order, each in key order.
func scanPages(ctx context.Context, r projections.Reader, pages []projections.TablePage, fn func(string, []byte) error, want ...string) error {
	var seen []string
	err := projections.ScanPages(ctx, r, pages, func(i int, key string, doc []byte) error {
		seen = append(seen, fmt.Sprintf("%d %s", i, key))
		return fn(key, doc)
	})
	if err == nil && !slices.Equal(seen, want) {
		err = fmt.Errorf("pages gave %q, want %q (pages in order, each in key order)", seen, want)
	}
	return err
}

func testMany(t *testing.T, h Harness) {
	s, docs := seeded(t, h)
	type read struct {
		name string
		run  func(r projections.Reader, fn func(string, []byte) error) error
		want []string
	}
	ctx := context.Background()
	cases := []read{
		{"get many, some missing", func(r projections.Reader, fn func(string, []byte) error) error {
			return projections.GetMany(ctx, r, "docs", []string{"a/2", "zz", "a", "a/é", "b/"}, fn)
		}, []string{"a", "a/2", "a/é"}},
		{"get none", func(r projections.Reader, fn func(string, []byte) error) error {
			return projections.GetMany(ctx, r, "docs", nil, fn)
		}, nil},
		{"scan many prefixes", func(r projections.Reader, fn func(string, []byte) error) error {
			return projections.ScanMany(ctx, r, "docs", []string{"b/", "a/", "zz/", "c/"}, fn)
		}, []string{"a/1", "a/2", "a/3", "a/é", "b/1", "c/\U0010FFFF"}},
		{"a table that is not there", func(r projections.Reader, fn func(string, []byte) error) error {
			return projections.ScanMany(ctx, r, "nothing", []string{"a/"}, fn)
		}, nil},
		{"get from several tables", func(r projections.Reader, fn func(string, []byte) error) error {
			return projections.GetTables(ctx, r, []projections.TableKeys{
				{Table: "docs", Keys: []string{"a/2", "zz"}},
				{Table: "nothing", Keys: []string{"a/1"}},
				{Table: "more", Keys: []string{"a/3", "a/2"}},
			}, func(table, key string, doc []byte) error {
				if want := map[string]string{"a/2": "docs", "a/3": "more"}[key]; table != want {
					return fmt.Errorf("%s came from table %q", key, table)
				}
				return fn(key, doc)
			})
		}, []string{"a/2", "a/3"}},
		{"get and scan at once", func(r projections.Reader, fn func(string, []byte) error) error {
			keys := []projections.TableKeys{{Table: "docs", Keys: []string{"a/2", "zz"}}, {Table: "more", Keys: []string{"a/3"}}}
			var order []string
			err := projections.GetAndScan(ctx, r, keys, projections.TableKeys{Table: "docs", Keys: []string{"c/", "b/", "zz/"}},
				func(table, key string, doc []byte) error {
					if want := map[string]string{"a/2": "docs", "a/3": "more"}[key]; table != want {
						return fmt.Errorf("%s came from table %q", key, table)
					}
					return fn(key, doc)
				},
				func(key string, doc []byte) error {
					order = append(order, key)
					return fn(key, doc)
				})
			if err == nil && !slices.IsSorted(order) {
				err = fmt.Errorf("scanned out of key order: %q", order)
			}
			return err
		}, []string{"a/2", "a/3", "b/1", "c/\U0010FFFF"}},
		{"the first of each page", func(r projections.Reader, fn func(string, []byte) error) error {
			pages := []projections.Page{{Prefix: "a/"}, {Prefix: "a/", After: "a/2"}, {Prefix: "zz/"}, {Prefix: "b/", Limit: 5}, {Prefix: "a/", After: "a/é"}, {Prefix: "c/", After: "c/"}}
			want := map[int]string{0: "a/1", 1: "a/3", 3: "b/1", 5: "c/\U0010FFFF"}
			seen := map[int]bool{}
			return projections.FirstOfEach(ctx, r, "docs", pages, func(i int, key string, doc []byte) error {
				if want[i] != key || seen[i] {
					return fmt.Errorf("page %d (%+v) gave %q", i, pages[i], key)
				}
				seen[i] = true
				return fn(key, doc)
			})
		}, []string{"a/1", "a/3", "b/1", "c/\U0010FFFF"}},
		{"pages of several tables at once", func(r projections.Reader, fn func(string, []byte) error) error {
			pages := []projections.TablePage{
				{Table: "docs", Page: projections.Page{Prefix: "a/", Limit: 2}},
				{Table: "more", Page: projections.Page{Prefix: "a/"}},
				{Table: "nothing", Page: projections.Page{Prefix: "a/"}},
				{Table: "docs", Page: projections.Page{Prefix: "a/", After: "a/2"}},
				{Table: "docs", Page: projections.Page{Prefix: "c/"}},
			}
			return scanPages(ctx, r, pages, fn, "0 a/1", "0 a/2", "1 a/3", "3 a/3", "3 a/é", "4 c/\U0010FFFF")
		}, []string{"a/1", "a/2", "a/3", "a/3", "a/é", "c/\U0010FFFF"}},
		{"whole prefixes of one table at once, nested and repeated", func(r projections.Reader, fn func(string, []byte) error) error {
			pages := []projections.TablePage{
				{Table: "docs", Page: projections.Page{Prefix: "a/"}},
				{Table: "docs", Page: projections.Page{Prefix: "b/", Limit: 1}},
				{Table: "docs", Page: projections.Page{Prefix: "a/"}},
				{Table: "docs", Page: projections.Page{Prefix: "zz/"}},
				{Table: "more", Page: projections.Page{Prefix: "a/"}},
				{Table: "docs", Page: projections.Page{Prefix: "a"}},
				{Table: "docs", Page: projections.Page{Prefix: "c/"}},
			}
			return scanPages(ctx, r, pages, fn, "0 a/1", "0 a/2", "0 a/3", "0 a/é", "1 b/1", "2 a/1", "2 a/2", "2 a/3", "2 a/é", "4 a/3",
				"5 a", "5 a/1", "5 a/2", "5 a/3", "5 a/é", "5 ab/1", "6 c/\U0010FFFF")
		}, []string{"a", "a/1", "a/1", "a/1", "a/2", "a/2", "a/2", "a/3", "a/3", "a/3", "a/3", "a/é", "a/é", "a/é", "ab/1", "b/1", "c/\U0010FFFF"}},
		{"scan only, at once", func(r projections.Reader, fn func(string, []byte) error) error {
			return projections.GetAndScan(ctx, r, nil, projections.TableKeys{Table: "docs", Keys: []string{"b/"}},
				func(_, key string, doc []byte) error { return fn(key, doc) }, fn)
		}, []string{"b/1"}},
	}
	// "more" holds a/3 as docs does.
	err := s.Update(ctx, "more", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
		return eventstore.At(1), tx.Put(ctx, "more", "a/3", docs["a/3"])
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, live := range []bool{false, true} {
		store := s
		if live {
			store = projections.Generational(s)
		}
		for _, c := range cases {
			var got []string
			// kept: the documents handed by a reader that says they are
			// the caller's (projections.Owning), kept as they came.
			kept := map[string][][]byte{}
			err := store.View(ctx, func(r projections.Reader) error {
				owned := projections.DocsOwned(r)
				return c.run(r, func(k string, raw []byte) error {
					var d doc
					if err := json.Unmarshal(raw, &d); err != nil || d != docs[k] {
						return fmt.Errorf("%s: %s holds %s", c.name, k, raw)
					}
					if owned {
						kept[k] = append(kept[k], raw)
					}
					var again doc
					if found, err := r.Get(ctx, "docs", "b/1", &again); err != nil || !found {
						return fmt.Errorf("get inside: %v %v", found, err)
					}
					got = append(got, k)
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("%s (live generations %v): %q, want %q", c.name, live, got, c.want)
			}
			// What an owning reader handed is still whole once the view
			// has read more, and is over.
			for k, raws := range kept {
				for _, raw := range raws {
					if want, _ := json.Marshal(docs[k]); string(raw) != string(want) {
						t.Fatalf("%s (live generations %v): %s, kept, became %s", c.name, live, k, raw)
					}
				}
			}
		}
	}
	// In a transaction, they see its own writes.
	got := map[string]doc{}
	var gotKeys, scanned, firsts []string
	err = s.Update(ctx, "many", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		if err := tx.Put(ctx, "docs", "a/new", doc{N: 99}); err != nil {
			return cp, err
		}
		if err := tx.Delete(ctx, "docs", "a/1"); err != nil {
			return cp, err
		}
		// The first of each page before anything else flushed them.
		err := projections.FirstOfEach(ctx, tx, "docs", []projections.Page{{Prefix: "a/"}, {Prefix: "a/", After: "a/3"}}, func(_ int, k string, _ []byte) error {
			firsts = append(firsts, k)
			return nil
		})
		if err != nil {
			return cp, err
		}
		err = projections.GetMany(ctx, tx, "docs", []string{"a/new", "a/1", "a/2"}, func(k string, raw []byte) error {
			var d doc
			err := json.Unmarshal(raw, &d)
			got[k] = d
			return err
		})
		if err != nil {
			return cp, err
		}
		// Read and scanned at once, too.
		keys := []projections.TableKeys{{Table: "docs", Keys: []string{"a/new", "a/1"}}}
		err = projections.GetAndScan(ctx, tx, keys, projections.TableKeys{Table: "docs", Keys: []string{"a/"}},
			func(_, k string, _ []byte) error { gotKeys = append(gotKeys, k); return nil },
			func(k string, _ []byte) error { scanned = append(scanned, k); return nil })
		if err != nil {
			return cp, err
		}
		return cp, projections.ErrStopUpdate
	})
	if err != nil || len(got) != 2 || got["a/new"] != (doc{N: 99}) || got["a/2"] != docs["a/2"] {
		t.Fatalf("get many in a transaction that put a/new and deleted a/1: %v (err %v)", got, err)
	}
	if !slices.Equal(gotKeys, []string{"a/new"}) || !slices.Equal(scanned, []string{"a/2", "a/3", "a/new", "a/é"}) {
		t.Fatalf("get and scan in a transaction that put a/new and deleted a/1: read %q, scanned %q", gotKeys, scanned)
	}
	if !slices.Equal(firsts, []string{"a/2", "a/new"}) {
		t.Fatalf("first of each page in a transaction that put a/new and deleted a/1: %q, want a/2 and a/new", firsts)
	}
}

// seeded is a new store holding, in table docs, keys that try the edges of
// prefixes and key order: a prefix of another, one past the end of a
// prefix, a non-ASCII one and one ending in the last code point.
func seeded(t *testing.T, h Harness) (projections.Store, map[string]doc) {
	s := open(t, h)
	keys := []string{"a/1", "a/2", "a/3", "a/é", "ab/1", "b/1", "a", "c/\U0010FFFF"}
	docs := map[string]doc{}
	for i, k := range keys {
		docs[k] = doc{N: i}
	}
	put(t, s, "c", 1, docs)
	return s, docs
}

func testScan(t *testing.T, h Harness) {
	s, _ := seeded(t, h)
	cases := []struct {
		name string
		page projections.Page
		want []string
	}{
		{"prefix", projections.Page{Prefix: "a/"}, []string{"a/1", "a/2", "a/3", "a/é"}},
		{"prefix after", projections.Page{Prefix: "a/", After: "a/1"}, []string{"a/2", "a/3", "a/é"}},
		{"prefix limit", projections.Page{Prefix: "a/", Limit: 2}, []string{"a/1", "a/2"}},
		{"after and limit", projections.Page{Prefix: "a/", After: "a/2", Limit: 1}, []string{"a/3"}},
		{"no prefix", projections.Page{}, []string{"a", "a/1", "a/2", "a/3", "a/é", "ab/1", "b/1", "c/\U0010FFFF"}},
		{"the highest character after the prefix", projections.Page{Prefix: "c/"}, []string{"c/\U0010FFFF"}},
		{"nothing", projections.Page{Prefix: "z"}, nil},
		{"after everything", projections.Page{Prefix: "a/", After: "a/z"}, []string{"a/é"}},
	}
	// A scan's callback may read the same snapshot.
	err := s.View(context.Background(), func(r projections.Reader) error {
		return r.Scan(context.Background(), "docs", projections.Page{Prefix: "a/"}, func(k string, _ []byte) error {
			var d doc
			if found, err := r.Get(context.Background(), "docs", "b/1", &d); err != nil || !found || d.N != 5 {
				return fmt.Errorf("get inside scan: %+v %v %v", d, found, err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var got []string
		err := s.View(context.Background(), func(r projections.Reader) error {
			return r.Scan(context.Background(), "docs", c.page, func(k string, _ []byte) error {
				got = append(got, k)
				return nil
			})
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, c.want) {
			t.Fatalf("%s: keys = %q, want %q", c.name, got, c.want)
		}
	}
}

func testConcurrent(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := s.Update(ctx, "counter", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
				var d doc
				if _, err := tx.Get(ctx, "docs", "counter", &d); err != nil {
					return cp, err
				}
				d.N++
				return eventstore.At(cp.Commit + 1), tx.Put(ctx, "docs", "counter", d)
			})
			if err != nil {
				t.Errorf("update: %v", err)
			}
		})
	}
	wg.Wait()
	d, _ := get(t, s, "counter")
	cp, _ := s.Checkpoint(ctx, "counter")
	if d.N != n || cp != eventstore.At(n) {
		t.Fatalf("counter = %d at checkpoint %v, want %d at %d", d.N, cp, n, n)
	}
}

// testConcurrentConsumers checks updates of several consumers at once,
// each consumer's one after the other, as the runner's projections make
// them (a store may commit those that meet in one transaction): each
// commits or fails alone, one that the store refuses to write among them.
func testConcurrentConsumers(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	const consumers, updates, refused = 6, 15, 7
	_, ahead := s.(projections.Ahead)
	var wg sync.WaitGroup
	for c := range consumers {
		wg.Go(func() {
			name := fmt.Sprint("consumer", c)
			for n := 1; n <= updates; n++ {
				err := s.Update(ctx, name, func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
					var d doc
					if _, err := tx.Get(ctx, "docs", name, &d); err != nil {
						return cp, err
					}
					d.N++
					if c == 0 && n == refused {
						err := tx.Put(ctx, "docs", name, d)
						if ahead {
							// A key the store refuses when it commits.
							return eventstore.At(cp.Commit + 1), errors.Join(err, tx.Put(ctx, "docs", "", d))
						}
						return cp, errors.Join(err, errors.New("refused"))
					}
					return eventstore.At(cp.Commit + 1), tx.Put(ctx, "docs", name, d)
				})
				if refusedOne := c == 0 && n == refused; (err != nil) != refusedOne {
					t.Errorf("%s, update %d: %v", name, n, err)
				}
			}
		})
	}
	wg.Wait()
	for c := range consumers {
		name, want := fmt.Sprint("consumer", c), updates
		if c == 0 {
			want-- // the refused update wrote nothing
		}
		d, _ := get(t, s, name)
		cp, err := s.Checkpoint(ctx, name)
		if err != nil || d.N != want || cp != eventstore.At(uint64(want)) {
			t.Errorf("%s = %d at checkpoint %v (%v), want %d at %d", name, d.N, cp, err, want, want)
		}
	}
}

// testEach checks projections.UpdateEach: each update as if alone and in
// order, whether the store commits them together or not. One that fails
// after a scan (which puts a transaction's writes where a scan sees them)
// or panics leaves nothing, and the others commit.
func testEach(t *testing.T, h Harness) {
	ctx := context.Background()
	boom := errors.New("boom")
	write := func(key string, n int, to uint64, fail error) projections.Update {
		return projections.Update{Consumer: key, Fn: func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			if err := tx.Put(ctx, "docs", key, doc{N: n}); err != nil {
				return cp, err
			}
			if err := tx.Scan(ctx, "docs", projections.Page{}, func(string, []byte) error { return nil }); err != nil {
				return cp, err
			}
			return eventstore.At(to), fail
		}}
	}
	// after reads a document committed before the call. (What another
	// update of the same call writes, an update may or may not see: a
	// Grouped store may apply them at once.)
	after := func(key, of string, to uint64) projections.Update {
		return projections.Update{Consumer: key, Fn: func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			var d doc
			if ok, err := tx.Get(ctx, "docs", of, &d); err != nil || !ok {
				return cp, fmt.Errorf("%s: %v found %v", of, err, ok)
			}
			return eventstore.At(to), tx.Put(ctx, "docs", key, doc{N: d.N + 1})
		}}
	}
	panics := projections.Update{Consumer: "panics", Fn: func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		if err := tx.Put(ctx, "docs", "panics", doc{N: 1}); err != nil {
			return cp, err
		}
		panic("projection bug")
	}}
	cases := []struct {
		name      string
		updates   []projections.Update
		errs      []error
		panics    bool
		committed map[string]int    // document (and consumer) → n
		untouched []string          // neither document nor checkpoint
		positions map[string]uint64 // consumer → checkpoint
	}{
		{
			name:      "all commit, in order",
			updates:   []projections.Update{write("a", 1, 3, nil), after("b", "seed", 4), write("c", 7, 5, nil)},
			errs:      []error{nil, nil, nil},
			committed: map[string]int{"a": 1, "b": 2, "c": 7},
			positions: map[string]uint64{"a": 3, "b": 4, "c": 5},
		},
		{
			name:      "one fails after its writes reached a scan",
			updates:   []projections.Update{write("a", 1, 3, nil), write("b", 1, 4, boom), after("c", "seed", 5)},
			errs:      []error{nil, boom, nil},
			committed: map[string]int{"a": 1, "c": 2},
			untouched: []string{"b"},
			positions: map[string]uint64{"a": 3, "c": 5},
		},
		{
			name:      "one stops",
			updates:   []projections.Update{write("a", 1, 3, projections.ErrStopUpdate), write("b", 5, 4, nil)},
			errs:      []error{nil, nil},
			committed: map[string]int{"b": 5},
			untouched: []string{"a"},
			positions: map[string]uint64{"b": 4},
		},
		{
			name:      "one panics",
			updates:   []projections.Update{write("a", 1, 3, nil), panics},
			panics:    true,
			committed: map[string]int{"a": 1},
			untouched: []string{"panics"},
			positions: map[string]uint64{"a": 3},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t, h)
			put(t, s, "seeder", 1, map[string]doc{"seed": {N: 1}})
			var errs []error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				errs = projections.UpdateEach(ctx, s, c.updates)
				return nil
			}()
			if (panicked != nil) != c.panics {
				t.Fatalf("panicked: %v", panicked)
			}
			if !c.panics {
				if len(errs) != len(c.errs) {
					t.Fatalf("errors = %v, want %v", errs, c.errs)
				}
				for i := range errs {
					if !errors.Is(errs[i], c.errs[i]) || (errs[i] == nil) != (c.errs[i] == nil) {
						t.Fatalf("errors = %v, want %v", errs, c.errs)
					}
				}
			}
			for key, n := range c.committed {
				if d, ok := get(t, s, key); !ok || d.N != n {
					t.Errorf("%s = %+v %v, want n %d", key, d, ok, n)
				}
			}
			for _, key := range c.untouched {
				if d, ok := get(t, s, key); ok {
					t.Errorf("%s was written: %+v", key, d)
				}
				if cp, _ := s.Checkpoint(ctx, key); !cp.IsZero() {
					t.Errorf("%s's checkpoint moved to %v", key, cp)
				}
			}
			for consumer, at := range c.positions {
				if cp, _ := s.Checkpoint(ctx, consumer); cp != eventstore.At(at) {
					t.Errorf("%s's checkpoint = %v, want %d", consumer, cp, at)
				}
			}
		})
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("this implementation's harness cannot reopen its storage")
	}
	s := h.New(t)
	put(t, s, "c", 7, map[string]doc{"kept": {N: 7}})
	s = h.Reopen(t, s)
	t.Cleanup(func() { _ = s.Close() })
	if d, ok := get(t, s, "kept"); !ok || d.N != 7 {
		t.Fatalf("after reopen: %+v %v", d, ok)
	}
	if cp, _ := s.Checkpoint(context.Background(), "c"); cp != eventstore.At(7) {
		t.Fatalf("checkpoint after reopen = %v", cp)
	}
}

// testPrefetch: documents read ahead (projections.Prefetch, which a store
// may implement or not) read in the transaction exactly as without it:
// present ones with their documents, absent ones absent, the
// transaction's own writes before and after winning, and through the
// live generations' names too.
func testPrefetch(t *testing.T, h Harness) {
	s, docs := seeded(t, h)
	ctx := context.Background()
	for _, live := range []bool{false, true} {
		store := s
		if live {
			store = projections.Generational(s)
		}
		consumer := fmt.Sprint("ahead-", live)
		err := store.Update(ctx, consumer, func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			if err := tx.Put(ctx, "docs", "a/1", doc{N: 100}); err != nil {
				return eventstore.Position{}, err
			}
			err := projections.Prefetch(ctx, tx, []projections.TableKeys{
				{Table: "docs", Keys: []string{"a/1", "a/2", "a/2", "zz", "b/"}},
				{Table: "nothing", Keys: []string{"a/1"}},
			})
			if err != nil {
				return eventstore.Position{}, err
			}
			if err := tx.Delete(ctx, "docs", "a/2"); err != nil {
				return eventstore.Position{}, err
			}
			cases := []struct {
				table, key string
				want       *doc
			}{
				{"docs", "a/1", &doc{N: 100}}, // written before
				{"docs", "a/2", nil},          // deleted after
				{"docs", "a/3", ptr(docs["a/3"])},
				{"docs", "a/é", ptr(docs["a/é"])},
				{"docs", "zz", nil},
				{"nothing", "a/1", nil},
			}
			for _, c := range cases {
				var got doc
				found, err := tx.Get(ctx, c.table, c.key, &got)
				if err != nil {
					return eventstore.Position{}, err
				}
				if found != (c.want != nil) || (found && got != *c.want) {
					t.Errorf("live %v: %s/%s read ahead: found %v %+v, want %+v", live, c.table, c.key, found, got, c.want)
				}
			}
			return eventstore.At(1), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// shared is a document with parts that a projection could change in
// place: a list, a map, a pointer.
type shared struct {
	Tags  []string       `json:"tags"`
	Seen  map[string]int `json:"seen,omitempty"`
	Last  *doc           `json:"last,omitempty"`
	Empty []int          `json:"empty,omitempty"`
}

// testCopies: a transaction hands out and keeps copies. Changing a value
// after putting it, or a value read, changes no document, in the
// transaction or after it; and a document reads back as its JSON would.
func testCopies(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	want := `{"tags":["a","b"],"seen":{"x":1},"last":{"n":1}}`
	check := func(r projections.Reader, when string) error {
		var got shared
		if found, err := r.Get(ctx, "copies", "k", &got); err != nil || !found {
			return fmt.Errorf("%s: get = %v, %v", when, found, err)
		}
		if raw, _ := json.Marshal(got); string(raw) != want {
			return fmt.Errorf("%s: the document is %s, want %s", when, raw, want)
		}
		if got.Empty != nil {
			return fmt.Errorf("%s: an empty list under omitempty read back as %#v, not nil", when, got.Empty)
		}
		got.Tags[0], got.Seen["x"], got.Last.N = "changed", 9, 9 // not put back
		return nil
	}
	err := s.Update(ctx, "copies", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
		v := shared{Tags: []string{"a", "b"}, Seen: map[string]int{"x": 1}, Last: &doc{N: 1}, Empty: []int{}}
		if err := tx.Put(ctx, "copies", "k", v); err != nil {
			return eventstore.Position{}, err
		}
		v.Tags[1], v.Seen["y"], v.Last.N = "changed", 2, 2 // after the put
		for _, when := range []string{"read in the transaction", "read again"} {
			if err := check(tx, when); err != nil {
				return eventstore.Position{}, err
			}
		}
		return eventstore.At(1), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(r projections.Reader) error { return check(r, "read after the commit") }); err != nil {
		t.Fatal(err)
	}
}

// testScanOwnWrites: a scan inside a transaction sees the documents as the
// transaction left them (put, overwritten, deleted, among the committed
// ones), in key order, with every prefix, after and limit, as a map of
// the documents would answer; checked over random writes and pages.
func testScanOwnWrites(t *testing.T, h Harness) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 13))
	keys := []string{"a", "a/1", "a/2", "a/3", "a/é", "ab/1", "b/0", "b/1", "b/2", "c/\U0010FFFF", "c/x", "d"}
	prefixes := []string{"", "a", "a/", "b/", "c/", "z"}
	for round := range 20 {
		s := open(t, h)
		model := map[string]doc{}
		committed := map[string]doc{}
		for _, k := range keys {
			if rng.IntN(2) == 0 {
				committed[k] = doc{N: rng.IntN(100)}
				model[k] = committed[k]
			}
		}
		if len(committed) > 0 {
			put(t, s, "seed", 1, committed)
		}
		err := s.Update(ctx, "scans", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			for step := range 30 {
				k := keys[rng.IntN(len(keys))]
				switch rng.IntN(3) {
				case 0:
					d := doc{N: 1000 + step}
					if err := tx.Put(ctx, "docs", k, d); err != nil {
						return cp, err
					}
					model[k] = d
				case 1:
					if err := tx.Delete(ctx, "docs", k); err != nil {
						return cp, err
					}
					delete(model, k)
				default:
					page := projections.Page{Prefix: prefixes[rng.IntN(len(prefixes))], Limit: rng.IntN(4)}
					if rng.IntN(2) == 0 {
						page.After = keys[rng.IntN(len(keys))]
					}
					var want []string
					for _, k := range slices.Sorted(maps.Keys(model)) {
						if strings.HasPrefix(k, page.Prefix) && (page.After == "" || k > page.After) && (page.Limit == 0 || len(want) < page.Limit) {
							want = append(want, fmt.Sprintf("%s=%d", k, model[k].N))
						}
					}
					// A scan, and the same page twice at once.
					var got, twice []string
					err := tx.Scan(ctx, "docs", page, func(k string, raw []byte) error {
						var d doc
						err := json.Unmarshal(raw, &d)
						got = append(got, fmt.Sprintf("%s=%d", k, d.N))
						return err
					})
					if err == nil {
						both := []projections.TablePage{{Table: "docs", Page: page}, {Table: "docs", Page: page}}
						err = projections.ScanPages(ctx, tx, both, func(i int, k string, raw []byte) error {
							var d doc
							err := json.Unmarshal(raw, &d)
							twice = append(twice, fmt.Sprintf("%d %s=%d", i, k, d.N))
							return err
						})
					}
					if err != nil {
						return cp, err
					}
					var wantTwice []string
					for i := range 2 {
						for _, w := range want {
							wantTwice = append(wantTwice, fmt.Sprintf("%d %s", i, w))
						}
					}
					if !slices.Equal(got, want) || !slices.Equal(twice, wantTwice) {
						return cp, fmt.Errorf("round %d, step %d: scan %+v = %q, and twice at once %q, want %q", round, step, page, got, twice, want)
					}
				}
			}
			return cp, projections.ErrStopUpdate
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testAhead: groups of updates one after the other through UpdateEachAhead
// (applied while the group before commits, where the store is Ahead) give
// what one update after the other gives. Each update reads what its
// consumer's update in the group before wrote: a document put, one
// deleted, its checkpoint. An update after the groups reads them all. On
// an Ahead store, an update whose consumer's update before it failed, in
// its fn or at its commit, fails too (it read what was not written), and
// so does every later one of that consumer.
func testAhead(t *testing.T, h Harness) {
	// Each group applied while the one before commits, or once it has
	// committed (or failed): the same outcome.
	for _, waitEach := range []bool{false, true} {
		t.Run(fmt.Sprintf("waiting for each %v", waitEach), func(t *testing.T) { testAheadWaiting(t, h, waitEach) })
	}
}

func testAheadWaiting(t *testing.T, h Harness, waitEach bool) {
	s := open(t, h)
	ctx := context.Background()
	_, ahead := s.(projections.Ahead)
	var seen []string // what each fn read
	var mu sync.Mutex
	// read: the documents of consumer c as c's update sees them.
	read := func(tx projections.Tx, c string) string {
		var out []string
		err := tx.Scan(ctx, "ahead", projections.Page{Prefix: c + "/"}, func(k string, raw []byte) error {
			var d doc
			err := json.Unmarshal(raw, &d)
			out = append(out, fmt.Sprintf("%s=%d", k, d.N))
			return err
		})
		var d doc
		found, gerr := tx.Get(ctx, "ahead", c+"/1", &d)
		return fmt.Sprintf("%v, %s/1 %v, %v", out, c, found, errors.Join(err, gerr))
	}
	// points: the same, by point reads only (Get, GetMany), which a store
	// may answer from what the update before wrote, not yet committed.
	points := func(tx projections.Tx) string {
		var d doc
		found, err := tx.Get(ctx, "ahead", "points/total", &d)
		var many []string
		merr := projections.GetMany(ctx, tx, "ahead", []string{"points/x", "points/y"}, func(k string, raw []byte) error {
			var d doc
			err := json.Unmarshal(raw, &d)
			many = append(many, fmt.Sprintf("%s=%d", k, d.N))
			return err
		})
		return fmt.Sprintf("total %v %d, %v, %v", found, d.N, many, errors.Join(err, merr))
	}
	boom := errors.New("boom")
	consumers := []string{"plain", "fails", "stops", "points"}
	if ahead {
		consumers = append(consumers, "unwritable")
	}
	group := func(n int) []projections.Update {
		var us []projections.Update
		for _, c := range consumers {
			us = append(us, projections.Update{Consumer: c, Fn: func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
				var r string
				if c == "points" {
					r = points(tx)
				} else {
					r = read(tx, c)
				}
				mu.Lock()
				seen = append(seen, fmt.Sprintf("%d %s from %d: %s", n, c, cp.Commit, r))
				mu.Unlock()
				switch {
				case c == "fails" && n == 2:
					return cp, boom
				case c == "stops" && n == 2:
					// Written, then rolled back: no one reads it.
					return cp, errors.Join(tx.Put(ctx, "ahead", "stops/1", doc{N: 99}), projections.ErrStopUpdate)
				case c == "points":
					err := tx.Put(ctx, "ahead", "points/total", doc{N: n})
					switch n {
					case 1:
						err = errors.Join(err, tx.Put(ctx, "ahead", "points/x", doc{N: n}))
					case 2:
						err = errors.Join(err, tx.Delete(ctx, "ahead", "points/x"), tx.Put(ctx, "ahead", "points/y", doc{N: n}))
					}
					return eventstore.At(uint64(n)), err
				case c == "unwritable" && n == 2:
					// A key the store refuses when it commits.
					return eventstore.At(uint64(n)), tx.Put(ctx, "ahead", "", doc{N: n})
				}
				if err := tx.Put(ctx, "ahead", fmt.Sprintf("%s/%d", c, n), doc{N: n}); err != nil {
					return cp, err
				}
				if err := tx.Delete(ctx, "ahead", fmt.Sprintf("%s/%d", c, n-1)); err != nil || n == 1 {
					return eventstore.At(uint64(n)), err
				}
				return eventstore.At(uint64(n)), nil
			}})
		}
		return us
	}
	var waits []func() []error
	for n := 1; n <= 4; n++ {
		wait := projections.UpdateEachAhead(ctx, s, group(n))
		if waitEach {
			errs := wait()
			wait = func() []error { return errs }
		}
		waits = append(waits, wait)
	}
	var errs []map[string]error
	for _, wait := range waits {
		es := map[string]error{}
		for i, err := range wait() {
			es[consumers[i]] = err
		}
		errs = append(errs, es)
	}
	// What each consumer holds after the groups, as an update and a view
	// read it.
	holds := func(c string) string {
		var out string
		err := s.Update(ctx, c, func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			out = fmt.Sprintf("from %d: %s", cp.Commit, read(tx, c))
			return cp, projections.ErrStopUpdate
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// plain ran in every group, each from where the one before left it,
	// whether committed yet or not.
	for n := 1; n <= 4; n++ {
		want := fmt.Sprintf("%d plain from %d: [plain/%d=%d], plain/1 %v, <nil>", n, n-1, n-1, n-1, n == 2)
		if n == 1 {
			want = "1 plain from 0: [], plain/1 false, <nil>"
		}
		if !slices.Contains(seen, want) {
			t.Errorf("no %q among what the fns read: %q", want, seen)
		}
		if errs[n-1]["plain"] != nil {
			t.Errorf("group %d: plain failed: %v", n, errs[n-1]["plain"])
		}
	}
	if got, want := holds("plain"), "from 4: [plain/4=4], plain/1 false, <nil>"; got != want {
		t.Errorf("plain after the groups: %s, want %s", got, want)
	}
	for n, want := range []string{"total false 0, [], <nil>", "total true 1, [points/x=1], <nil>", "total true 2, [points/y=2], <nil>", "total true 3, [points/y=2], <nil>"} {
		if want := fmt.Sprintf("%d points from %d: %s", n+1, n, want); !slices.Contains(seen, want) {
			t.Errorf("no %q among what the fns read: %q", want, seen)
		}
		if errs[n]["points"] != nil {
			t.Errorf("group %d: points failed: %v", n+1, errs[n]["points"])
		}
	}
	if got, want := holds("points"), "from 4: [points/total=4 points/y=2], points/1 false, <nil>"; got != want {
		t.Errorf("points after the groups: %s, want %s", got, want)
	}
	if !errors.Is(errs[1]["fails"], boom) || errs[0]["fails"] != nil {
		t.Errorf("fails: %v", errs)
	}
	// stops rolled its second group back: the third read the first's.
	if want := "3 stops from 1: [stops/1=1], stops/1 true, <nil>"; !slices.Contains(seen, want) {
		t.Errorf("no %q among what the fns read: %q", want, seen)
	}
	if got, want := holds("stops"), "from 4: [stops/1=1 stops/4=4], stops/1 true, <nil>"; got != want || errs[1]["stops"] != nil {
		t.Errorf("stops after the groups: %s, want %s (%v)", got, want, errs)
	}
	if !ahead {
		// One group after the other: the third reads what the first
		// committed.
		if got, want := holds("fails"), "from 4: [fails/1=1 fails/4=4], fails/1 true, <nil>"; errs[2]["fails"] != nil || errs[3]["fails"] != nil || got != want {
			t.Errorf("fails after the groups: %s, want %s (%v)", got, want, errs)
		}
		return
	}
	for _, c := range []string{"fails", "unwritable"} {
		if errs[0][c] != nil || errs[1][c] == nil || errs[2][c] == nil || errs[3][c] == nil {
			t.Errorf("%s failed in group 2, and so must every group after: %v", c, errs)
		}
		if got, want := holds(c), fmt.Sprintf("from 1: [%s/1=1], %s/1 true, <nil>", c, c); got != want {
			t.Errorf("%s after the groups: %s, want %s", c, got, want)
		}
	}
}

// testManyVersioned: a transaction that writes many documents new to
// their keys in a versioned table (on PostgreSQL, by COPY) stamps each,
// and a later one that replaces one of them after a snapshot keeps it as
// a version under that stamp.
func testManyVersioned(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	const prefix, many = "p/1/docs/", 600
	at := eventstore.At
	key := func(i int) string { return fmt.Sprintf("many/%03d", i) }
	steps := []struct {
		v    projections.Versions
		puts []int
		n    int
	}{
		{projections.Versions{At: at(2), Into: "versions", Prefix: prefix}, nil, 1},
		{projections.Versions{At: at(4), Keep: at(3), Legacy: at(1), Into: "versions", Prefix: prefix}, []int{7}, 2},
	}
	for i, st := range steps {
		err := s.Update(ctx, "c", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			if err := projections.Version(tx, "docs", st.v); err != nil {
				return eventstore.Position{}, err
			}
			if st.puts == nil {
				for j := range many {
					if err := tx.Put(ctx, "docs", key(j), projections.Fresh{V: doc{N: st.n}}); err != nil {
						return eventstore.Position{}, err
					}
				}
			}
			for _, j := range st.puts {
				if err := tx.Put(ctx, "docs", key(j), doc{N: st.n}); err != nil {
					return eventstore.Position{}, err
				}
			}
			return at(uint64(2*i + 1)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.View(ctx, func(r projections.Reader) error {
		versions := map[string]string{}
		if err := r.Scan(ctx, "versions", projections.Page{}, func(k string, d []byte) error {
			versions[k] = string(d)
			return nil
		}); err != nil {
			return err
		}
		if want := map[string]string{projections.VersionKey(prefix, key(7), at(2)): `{"n":1}`}; !maps.Equal(versions, want) {
			t.Errorf("versions: %q, want %q", versions, want)
		}
		sr, err := projections.StampedReader(r)
		if err != nil {
			return err
		}
		stamped := 0
		err = sr.ScanStamped(ctx, "docs", projections.Page{}, func(k string, _ []byte, stamp eventstore.Position) error {
			want := at(2)
			if k == key(7) {
				want = at(4)
			}
			if stamp != want {
				return fmt.Errorf("%s stamped %v, want %v", k, stamp, want)
			}
			stamped++
			return nil
		})
		if err == nil && stamped != many {
			err = fmt.Errorf("%d documents stamped, want %d", stamped, many)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testVersions: a table declared versioned stamps what a transaction
// writes, and keeps as a version what it replaces or deletes if a snapshot
// still sees it (stamped at or before Keep; unstamped as Legacy), with a
// tombstone for what it deletes, and nothing for what it creates or
// changes again; stamps read back, and a write without a declaration
// stamps nothing, and a table that no snapshot ever saw keeps nothing.
func testVersions(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	const prefix = "p/1/docs/"
	at := func(n uint64) eventstore.Position { return eventstore.At(n) }
	versioned := func(stamp, keep uint64) projections.Versions {
		v := projections.Versions{At: at(stamp), Legacy: at(1), Into: "versions", Prefix: prefix}
		if keep > 0 {
			v.Keep = at(keep)
		}
		return v
	}
	type op struct {
		key  string
		n    int  // the document's n
		del  bool // delete instead
		scan bool // scan the table first (PostgreSQL flushes)
		new  bool // put as projections.Fresh
	}
	steps := []struct {
		name string
		v    *projections.Versions
		ops  []op
	}{
		{"unversioned", nil, []op{{key: "legacy"}, {key: "legacy2"}}},
		{"no snapshot yet", ptr(versioned(2, 0)), []op{{key: "a", n: 1}, {key: "b\x01x", n: 1}, {key: "c", n: 1}, {key: "d", n: 1}, {key: "legacy2", del: true}}},
		{"after a snapshot at 3", ptr(versioned(4, 3)), []op{
			{key: "a", n: 2}, {key: "b\x01x", n: 2}, {key: "c", del: true}, {key: "legacy", n: 2}, {key: "e", n: 1}, {key: "f", n: 1, new: true},
			{key: "d", n: 2}, {key: "d", n: 3, scan: true},
		}},
		{"written since the snapshot", ptr(versioned(6, 3)), []op{{key: "a", n: 3}, {key: "b\x01x", del: true}}},
		// No snapshot, and none of the format before: no tombstone.
		{"never snapshotted", &projections.Versions{At: at(8), Into: "versions", Prefix: prefix}, []op{{key: "e", del: true}}},
	}
	for i, st := range steps {
		err := s.Update(ctx, "c", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			if st.v != nil {
				if err := projections.Version(tx, "docs", *st.v); err != nil {
					return eventstore.Position{}, err
				}
			}
			for _, o := range st.ops {
				if o.scan {
					if err := tx.Scan(ctx, "docs", projections.Page{}, func(string, []byte) error { return nil }); err != nil {
						return eventstore.Position{}, err
					}
				}
				var err error
				switch {
				case o.del:
					err = tx.Delete(ctx, "docs", o.key)
				case o.new:
					err = tx.Put(ctx, "docs", o.key, projections.Fresh{V: doc{N: o.n}})
				default:
					err = tx.Put(ctx, "docs", o.key, doc{N: o.n})
				}
				if err != nil {
					return eventstore.Position{}, err
				}
			}
			return at(uint64(2*i + 1)), nil
		})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	key := projections.VersionKey
	want := map[string]string{
		key(prefix, "legacy2", at(2)): "null",
		key(prefix, "a", at(2)):       `{"n":1}`,
		key(prefix, "b\x01x", at(2)):  `{"n":1}`,
		key(prefix, "b\x01x", at(6)):  "null",
		key(prefix, "c", at(2)):       `{"n":1}`,
		key(prefix, "c", at(4)):       "null",
		key(prefix, "d", at(2)):       `{"n":1}`,
		key(prefix, "legacy", at(1)):  `{"n":0}`,
	}
	wantStamps := map[string]eventstore.Position{"a": at(6), "d": at(4), "f": at(4), "legacy": at(4)}
	err := s.View(ctx, func(r projections.Reader) error {
		got := map[string]string{}
		err := r.Scan(ctx, "versions", projections.Page{}, func(k string, d []byte) error {
			got[k] = string(d)
			return nil
		})
		if err != nil {
			return err
		}
		if !maps.Equal(got, want) {
			t.Errorf("versions:\n got %q\nwant %q", got, want)
		}
		sr, err := projections.StampedReader(r)
		if err != nil {
			return err
		}
		stamps := map[string]eventstore.Position{}
		err = sr.ScanStamped(ctx, "docs", projections.Page{}, func(k string, d []byte, at eventstore.Position) error {
			var v doc
			stamps[k] = at
			return json.Unmarshal(d, &v)
		})
		if err != nil {
			return err
		}
		if !maps.Equal(stamps, wantStamps) {
			t.Errorf("stamps scanned: %v, want %v", stamps, wantStamps)
		}
		one := map[string]eventstore.Position{}
		err = sr.GetStamped(ctx, "docs", []string{"a", "c", "legacy", "zz"}, func(k string, d []byte, at eventstore.Position) error {
			var v doc
			one[k] = at
			if err := json.Unmarshal(d, &v); err != nil || (k == "a" && v.N != 3) {
				return fmt.Errorf("%s reads %s: %v", k, d, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if w := map[string]eventstore.Position{"a": at(6), "legacy": at(4)}; !maps.Equal(one, w) {
			t.Errorf("stamps got: %v, want %v", one, w)
		}
		// Stamps and the newest versions, read at once.
		one = map[string]eventstore.Position{}
		firsts := map[int]string{}
		err = projections.ReadStampedFirsts(ctx, r, []projections.TableKeys{{Table: "docs", Keys: []string{"a", "c", "legacy"}}},
			[]projections.TablePage{
				{Table: "versions", Page: projections.Page{Prefix: prefix + "c\x01"}},
				{Table: "versions", Page: projections.Page{Prefix: prefix + "zz\x01"}},
				{Table: "versions", Page: projections.Page{Prefix: prefix + "b\x02\x01x\x01", After: key(prefix, "b\x01x", at(6))}},
			},
			func(table, k string, _ []byte, at eventstore.Position) error {
				one[table+"/"+k] = at
				return nil
			},
			func(i int, k string, d []byte) error {
				firsts[i] = k + "=" + string(d)
				return nil
			})
		if err != nil {
			return err
		}
		if w := map[string]eventstore.Position{"docs/a": at(6), "docs/legacy": at(4)}; !maps.Equal(one, w) {
			t.Errorf("stamps read with versions: %v, want %v", one, w)
		}
		if w := map[int]string{0: key(prefix, "c", at(4)) + "=null", 2: key(prefix, "b\x01x", at(2)) + `={"n":1}`}; !maps.Equal(firsts, w) {
			t.Errorf("first versions: %v, want %v", firsts, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Read as documents, stamped ones are as put; a write without a
	// declaration leaves none.
	if d, ok := get(t, s, "d"); !ok || d.N != 3 {
		t.Fatalf("d reads %+v %v", d, ok)
	}
	put(t, s, "c", 9, map[string]doc{"a": {N: 4}})
	err = s.View(ctx, func(r projections.Reader) error {
		sr, err := projections.StampedReader(r)
		if err != nil {
			return err
		}
		return sr.GetStamped(ctx, "docs", []string{"a"}, func(k string, d []byte, at eventstore.Position) error {
			if !at.IsZero() || string(d) != `{"n":4}` {
				t.Errorf("after a write without versions, a reads %s stamped %v", d, at)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
