package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
	"github.com/shareledger/shareledger/projections/storetest"
)

func TestConformance(t *testing.T) {
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
			return open(t, url, schema)
		},
		Reopen: func(t testing.TB, old projections.Store) projections.Store {
			_ = old.Close()
			c := cfgs[old]
			return open(t, c.url, c.schema)
		},
	})
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
	open := func(b testing.TB) projections.Store {
		url, schema := pgtest.Schema(b)
		s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("raw", func(b *testing.B) { storetest.BenchmarkCatchUp(b, storetest.Pebble, open) })
	// As the service writes: through the live generations, read in every
	// transaction.
	b.Run("generational", func(b *testing.B) {
		storetest.BenchmarkCatchUp(b, storetest.Pebble, func(b testing.TB) projections.Store { return projections.Generational(open(b)) })
	})
}
