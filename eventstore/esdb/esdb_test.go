package esdb_test

import (
	"context"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	rmtest "github.com/shareledger/shareledger/projections/storetest"
	"path/filepath"
	"testing"
	"time"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/eventstore/esdb"
	"github.com/shareledger/shareledger/eventstore/esdb/esdbtest"
	"github.com/shareledger/shareledger/eventstore/storetest"
)

func TestConformanceAgainstTheProtocolDouble(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t testing.TB) eventstore.Store {
			d := esdbtest.Start(t)
			d.SystemEvent(t) // a real server's log starts with system events
			s, err := esdb.Open(esdb.Config{URL: d.URL()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		StreamIDsOnly: true,
		NoGuards:      true,
	})
}

// A subscription survives the server dropping every connection: it
// resumes after the last event it delivered, missing and repeating none.
func TestSubscriptionResumesAfterADrop(t *testing.T) {
	d := esdbtest.Start(t)
	s, err := esdb.Open(esdb.Config{URL: d.URL(), EventTypes: []string{"Kept"}, Retry: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan eventstore.Record, 100)
	go func() {
		_ = s.Subscribe(ctx, eventstore.Position{}, func(_ context.Context, b []eventstore.Record) error {
			for _, r := range b {
				got <- r
			}
			return nil
		})
	}()
	appendOne := func(typ string) {
		t.Helper()
		for {
			_, err := s.Append(ctx, "kept", eventstore.Any(), storetest.Events(typ, 1)...)
			if err == nil {
				return
			}
			// The client reconnects on the next call after a drop.
			if ctx.Err() != nil {
				t.Fatal(err)
			}
		}
	}
	expect := func(rev uint64) {
		t.Helper()
		select {
		case r := <-got:
			if r.Revision != rev || r.Type != "Kept" {
				t.Fatalf("received %s@%d, want Kept@%d", r.Type, r.Revision, rev)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no event %d", rev)
		}
	}
	appendOne("Kept")
	appendOne("Skipped") // filtered out on the server
	expect(0)
	d.Restart(t)
	appendOne("Kept")
	expect(2)
	appendOne("Kept")
	expect(3)
}

func doubleStore(b testing.TB) eventstore.Store {
	d := esdbtest.Start(b)
	s, err := esdb.Open(esdb.Config{URL: d.URL()})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// Appends through the real client to the in-process double: the adapter's
// and client's own cost, not a server's (see the real-server benchmark).
//
//	go test -run '^$' -bench . ./eventstore/esdb/
func BenchmarkAppendToTheDouble(b *testing.B) {
	storetest.BenchmarkAppend(b, storetest.Harness{New: doubleStore})
}

// Catch-up reading $all through the client from the double.
func BenchmarkCatchUpFromTheDouble(b *testing.B) {
	rmtest.BenchmarkCatchUp(b, doubleStore, func(b testing.TB) projections.Store {
		s, err := rmbolt.Open(filepath.Join(b.TempDir(), "rm.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// TestLookupReadsOnlyItsWindow: with no index of event ids, Lookup reads a
// stream's last LookupWindow events and no more, so its cost does not grow
// with the stream; an event further back is not found.
func TestLookupReadsOnlyItsWindow(t *testing.T) {
	d := esdbtest.Start(t)
	s, err := esdb.Open(esdb.Config{URL: d.URL(), LookupWindow: 50})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	evs := storetest.Events("E", 120)
	if _, err := s.Append(ctx, "win-1", eventstore.NoStream(), evs...); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		index int
		found bool
	}{
		{"the last event", 119, true},
		{"the oldest within the window", 70, true},
		{"just outside the window", 69, false},
		{"the first event", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, found, err := s.Lookup(ctx, "win-1", evs[tt.index].ID)
			if err != nil || found != tt.found || (found && rec.Revision != uint64(tt.index)) {
				t.Fatalf("found %v at %d (err %v), want found %v", found, rec.Revision, err, tt.found)
			}
		})
	}
}
