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
	open := func(t *testing.T, url, schema string) projections.Store {
		s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		cfgs[s] = opened{url, schema}
		return s
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) projections.Store {
			url, schema := pgtest.Schema(t)
			return open(t, url, schema)
		},
		Reopen: func(t *testing.T, old projections.Store) projections.Store {
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
