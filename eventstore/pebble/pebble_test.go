package pebble_test

import (
	"path/filepath"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/eventstore/pebble"
	"github.com/shareledger/shareledger/eventstore/storetest"
)

func harness() storetest.Harness {
	paths := map[eventstore.Store]string{}
	open := func(t testing.TB, path string) eventstore.Store {
		s, err := pebble.Open(pebble.Config{Dir: path})
		if err != nil {
			t.Fatal(err)
		}
		paths[s] = path
		return s
	}
	return storetest.Harness{
		New: func(t testing.TB) eventstore.Store {
			return open(t, filepath.Join(t.TempDir(), "events"))
		},
		Reopen: func(t testing.TB, old eventstore.Store) eventstore.Store {
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, paths[old])
		},
		Contiguous: true,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

// go test -run '^$' -bench Append -benchtime 3s ./eventstore/pebble/
func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, harness()) }
