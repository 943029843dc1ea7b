package bolt_test

import (
	"path/filepath"
	"testing"

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
	storetest.BenchmarkCatchUp(b, storetest.Pebble, func(b testing.TB) projections.Store {
		s, err := bolt.Open(filepath.Join(b.TempDir(), "rm.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
