package postgres_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
	"github.com/shareledger/shareledger/projections/storetest"
)

// The store passes the conformance suite over each protocol a connection
// string can choose: the extended one (pgx's default), whose documents
// come in the binary format, and the simple one (for poolers that need
// it), whose documents come escaped as text.
func TestConformance(t *testing.T) {
	for _, mode := range []string{"", "simple_protocol"} {
		t.Run("mode="+cmp.Or(mode, "default"), func(t *testing.T) {
			type opened struct{ url, schema string }
			cfgs := map[projections.Store]opened{}
			open := func(t testing.TB, url, schema string) projections.Store {
				s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
				if err != nil {
					t.Fatal(err)
				}
				cfgs[s] = opened{url, schema}
				return s
			}
			storetest.Run(t, storetest.Harness{
				New: func(t testing.TB) projections.Store {
					url, schema := pgtest.Schema(t)
					if mode != "" {
						url = withParam(url, "default_query_exec_mode", mode)
					}
					return open(t, url, schema)
				},
				Reopen: func(t testing.TB, old projections.Store) projections.Store {
					_ = old.Close()
					c := cfgs[old]
					return open(t, c.url, c.schema)
				},
			})
		})
	}
}

// withParam is url with a query parameter added.
func withParam(url, name, value string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + name + "=" + value
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := postgres.Config{Schema: `bad"name`}.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"URL is required", "invalid schema"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// DATABASE_URL=... go test -run '^$' -bench CatchUp ./projections/postgres/
func BenchmarkCatchUp(b *testing.B) {
	b.Run("raw", func(b *testing.B) { storetest.BenchmarkCatchUp(b, storetest.Pebble, openBench) })
	// As the service writes: through the live generations, read in every
	// transaction.
	b.Run("generational", func(b *testing.B) {
		storetest.BenchmarkCatchUp(b, storetest.Pebble, func(b testing.TB) projections.Store { return projections.Generational(openBench(b)) })
	})
}

// openBench opens a store in a fresh schema for a benchmark.
func openBench(b testing.TB) projections.Store {
	url, schema := pgtest.Schema(b)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkRunnerCatchUp is the catch-up as the service runs it (a
// projections.Runner), beside BenchmarkCatchUp in the same run, through
// the live generations as the service writes.
//
//	DATABASE_URL=... go test -run '^$' -bench 'CatchUp|Ceiling' -benchtime 3x ./projections/postgres/
func BenchmarkRunnerCatchUp(b *testing.B) {
	storetest.BenchmarkRunnerCatchUp(b, storetest.Pebble, func(b testing.TB) projections.Store { return projections.Generational(openBench(b)) })
}

// BenchmarkCeiling is the raw engine beside BenchmarkCatchUp, in the same
// run: documents of the size the catch-up writes, loaded with COPY into a
// table shaped as the store's, 1,500 rows a transaction.
//
//	DATABASE_URL=... go test -run '^$' -bench 'CatchUp|Ceiling' ./projections/postgres/
func BenchmarkCeiling(b *testing.B) {
	ctx := context.Background()
	doc := []byte(`{"id":"d-000000","serial":"SN-000000","name":"Rover","source":"shared","owner":{"id":"rent00","organization":"Rent00"},"shared":true,"activeAccounts":["build00"],"credentials":"","projects":[{"id":"p-000","name":"Site"}],"updatedAt":"2026-03-01T09:00:00Z"}`)
	const records, perTx = 120_000, 1_500
	for range b.N {
		b.StopTimer()
		url, schema := pgtest.Schema(b)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		table := pgx.Identifier{schema, "raw"}
		if _, err := conn.Exec(ctx, `CREATE TABLE `+table.Sanitize()+` (tbl text NOT NULL, key text COLLATE "C" NOT NULL, doc bytea NOT NULL, PRIMARY KEY (tbl, key))`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for start := 0; start < records; start += perTx {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				_, err := tx.CopyFrom(ctx, table, []string{"tbl", "key", "doc"}, pgx.CopyFromSlice(perTx, func(i int) ([]any, error) {
					return []any{"devices.mine", fmt.Sprintf("build%02d/d-%06d", (start+i)%20, start+i), doc}, nil
				}))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = conn.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestDocumentsOfTheFirstSchemaStayReadable: read models written by a
// version whose documents were jsonb read the same once the store, opened
// by this version, keeps documents as the bytes written.
func TestDocumentsOfTheFirstSchemaStayReadable(t *testing.T) {
	ctx := context.Background()
	url, schema := pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{schema}.Sanitize()
	// The first schema, as migration 001 made it, with documents in it.
	for _, sql := range []string{
		`CREATE TABLE ` + ident + `.rm_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO ` + ident + `.rm_migrations (name) VALUES ('migrations/001_documents.sql')`,
		`CREATE TABLE ` + ident + `.rm_documents (tbl text NOT NULL, key text COLLATE "C" NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (tbl, key))`,
		`CREATE TABLE ` + ident + `.rm_checkpoints (consumer text PRIMARY KEY, commit_pos bigint NOT NULL, prepare_pos bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO ` + ident + `.rm_documents VALUES ('docs', 'a', '{"name": "Zoë", "n": [1, 2], "nested": {"ok": true}}'), ('docs', 'b', '"just text"')`,
		`INSERT INTO ` + ident + `.rm_checkpoints VALUES ('p', 7, 7)`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type doc struct {
		Name   string
		N      []int
		Nested struct{ OK bool }
	}
	var a doc
	var b string
	err = s.View(ctx, func(r projections.Reader) error {
		if found, err := r.Get(ctx, "docs", "a", &a); err != nil || !found {
			return fmt.Errorf("a: %v %v", found, err)
		}
		if found, err := r.Get(ctx, "docs", "b", &b); err != nil || !found {
			return fmt.Errorf("b: %v %v", found, err)
		}
		return nil
	})
	if err != nil || a.Name != "Zoë" || len(a.N) != 2 || !a.Nested.OK || b != "just text" {
		t.Fatalf("after the upgrade: %+v %q (%v)", a, b, err)
	}
	if cp, err := s.Checkpoint(ctx, "p"); err != nil || cp.Commit != 7 {
		t.Fatalf("checkpoint after the upgrade: %v %v", cp, err)
	}
}

// A view reads one snapshot, whichever read it begins with (the
// transaction begins in that read's round trip): a change committed after
// its first read is not seen by its later ones. Views that fail, or that
// read nothing, give their connection back: more of them than the pool
// holds all finish.
func TestViewReadsOneSnapshotWhateverItReadsFirst(t *testing.T) {
	url, schema := pgtest.Schema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	n := 0
	set := func(t *testing.T, v int) {
		t.Helper()
		n++
		err := s.Update(ctx, "c", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
			return eventstore.At(uint64(n)), tx.Put(ctx, "docs", "k", map[string]int{"v": v})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	value := func(r projections.Reader) (int, error) {
		var d map[string]int
		_, err := r.Get(ctx, "docs", "k", &d)
		return d["v"], err
	}
	ignore := func(string, []byte) error { return nil }
	firsts := []struct {
		name string
		read func(r projections.Reader) error
	}{
		{"get", func(r projections.Reader) error { _, err := value(r); return err }},
		{"scan", func(r projections.Reader) error { return r.Scan(ctx, "docs", projections.Page{Prefix: "k"}, ignore) }},
		{"checkpoint", func(r projections.Reader) error { _, err := r.Checkpoint(ctx, "c"); return err }},
		{"many", func(r projections.Reader) error {
			return projections.GetMany(ctx, r, "docs", []string{"k", "x"}, ignore)
		}},
		{"tables", func(r projections.Reader) error {
			return projections.GetTables(ctx, r, []projections.TableKeys{{Table: "docs", Keys: []string{"k"}}, {Table: "other", Keys: []string{"y"}}},
				func(string, string, []byte) error { return nil })
		}},
		{"scans", func(r projections.Reader) error {
			return projections.ScanMany(ctx, r, "docs", []string{"k", "x"}, ignore)
		}},
		{"tables and scans", func(r projections.Reader) error {
			return projections.GetAndScan(ctx, r, []projections.TableKeys{{Table: "docs", Keys: []string{"k"}}},
				projections.TableKeys{Table: "docs", Keys: []string{"k"}}, func(string, string, []byte) error { return nil }, ignore)
		}},
		{"firsts", func(r projections.Reader) error {
			return projections.FirstOfEach(ctx, r, "docs", []projections.Page{{Prefix: "k"}, {Prefix: "x"}},
				func(int, string, []byte) error { return nil })
		}},
	}
	for i, f := range firsts {
		t.Run(f.name, func(t *testing.T) {
			set(t, 10*i)
			err := s.View(ctx, func(r projections.Reader) error {
				if err := f.read(r); err != nil {
					return err
				}
				set(t, 10*i+1) // commits: a writer does not wait for a reader
				got, err := value(r)
				if err == nil && got != 10*i {
					err = fmt.Errorf("read %d after the first read, want %d as of it", got, 10*i)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("failed and empty views give their connection back", func(t *testing.T) {
		boom := errors.New("boom")
		for i := range 40 {
			err := s.View(ctx, func(r projections.Reader) error {
				switch i % 4 {
				case 0:
					return boom // before any read
				case 1:
					_, err := value(r)
					if err == nil {
						err = boom
					}
					return err
				case 2: // a document that does not decode
					var v int
					_, err := r.Get(ctx, "docs", "k", &v)
					return err
				}
				return nil
			})
			if want := i%4 != 3; (err != nil) != want {
				t.Fatalf("view %d: err = %v, want an error: %v", i, err, want)
			}
		}
		if got, err := viewValue(ctx, s, value); err != nil || got != 10*len(firsts)-9 {
			t.Fatalf("after failed views: %d, %v", got, err)
		}
	})
}

func viewValue(ctx context.Context, s projections.Store, value func(projections.Reader) (int, error)) (int, error) {
	var got int
	err := s.View(ctx, func(r projections.Reader) error {
		var err error
		got, err = value(r)
		return err
	})
	return got, err
}

// A document put as projections.Fresh is written with a plain INSERT: a
// key that holds a document after all fails the whole transaction, its
// checkpoint and other writes with it, rather than losing either
// document silently.
func TestAFreshDocumentOverOneThereFailsItsTransaction(t *testing.T) {
	// Among a few fresh documents (a plain INSERT) and among many (COPY).
	for _, many := range []int{0, 600} {
		t.Run(fmt.Sprintf("among %d more", many), func(t *testing.T) {
			ctx := context.Background()
			s := openBench(t)
			defer s.Close()
			write := func(to uint64, docs map[string]any) error {
				return s.Update(ctx, "c", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
					for _, k := range slices.Sorted(maps.Keys(docs)) {
						if err := tx.Put(ctx, "docs", k, docs[k]); err != nil {
							return eventstore.Position{}, err
						}
					}
					return eventstore.At(to), nil
				})
			}
			if err := write(1, map[string]any{"a": 1}); err != nil {
				t.Fatal(err)
			}
			docs := map[string]any{"a": projections.Fresh{V: 2}, "b": 2}
			for i := range many {
				docs[fmt.Sprintf("more/%03d", i)] = projections.Fresh{V: 2}
			}
			err := write(2, docs)
			if err == nil || !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("a fresh document over one there: %v, want a duplicate key", err)
			}
			var a, b int
			var foundB, foundMore bool
			err = s.View(ctx, func(r projections.Reader) error {
				if _, err := r.Get(ctx, "docs", "a", &a); err != nil {
					return err
				}
				var err error
				if foundB, err = r.Get(ctx, "docs", "b", &b); err != nil {
					return err
				}
				foundMore, err = r.Get(ctx, "docs", "more/000", &b)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if cp, err := s.Checkpoint(ctx, "c"); err != nil || a != 1 || foundB || foundMore || cp != eventstore.At(1) {
				t.Fatalf("after the failed transaction: a %d, b found %v, more found %v, checkpoint %v (%v); want it all as before", a, foundB, foundMore, cp, err)
			}
		})
	}
}
