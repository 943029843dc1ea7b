package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/eventstore/bolt"
	"github.com/shareledger/shareledger/eventstore/storetest"
)

func TestConformance(t *testing.T) {
	paths := map[eventstore.Store]string{}
	open := func(t *testing.T, path string) eventstore.Store {
		s, err := bolt.Open(bolt.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		paths[s] = path
		return s
	}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) eventstore.Store {
			return open(t, filepath.Join(t.TempDir(), "events.db"))
		},
		Reopen: func(t *testing.T, old eventstore.Store) eventstore.Store {
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, paths[old])
		},
		Contiguous: true,
	})
}
