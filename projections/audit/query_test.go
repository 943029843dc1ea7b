package audit_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/memory"
)

// A device's history reads its filings whether they hold their entry's
// position (as written before 2026-12-03) or leave it to their key (as
// written since): the same entries, in log order, across pages, for the
// accounts entitled to them only.
func TestHistoryReadsFilingsOfBothLayouts(t *testing.T) {
	ctx := context.Background()
	store := memory.New(nil)
	at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
	var positions []eventstore.Position
	for i := range 8 {
		r := eventstore.Record{Stream: "partnership-acme+rentco", Revision: uint64(i), Position: eventstore.Position{Commit: uint64(100 + i), Prepare: uint64(100 + i)}}
		r.ID, r.Type, r.Version = fmt.Sprintf("e%d", i), "DesignSentToDevice", 1
		r.Data = []byte(`{"device":"d1","account":"rentco","project":"site","design":"deck.dxf"}`)
		r.Meta.Time, r.Meta.User, r.Meta.Account = at, "bob@rentco.test", "rentco"
		positions = append(positions, r.Position)
		err := store.Update(ctx, audit.Name, func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			if err := (audit.Projection{}).Apply(ctx, tx, projections.Envelope{Record: r}); err != nil {
				return cp, err
			}
			if i%2 == 0 {
				// As written before: the filing holds its position.
				pos := audit.PositionKey(r.Position)
				return r.Position, tx.Put(ctx, audit.Filed, audit.Key("device", "d1")+pos, audit.Filing{At: pos, Accounts: []string{"acme", "rentco"}})
			}
			return r.Position, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		account domain.AccountID
		want    int
	}{{"rentco", 8}, {"acme", 8}, {"other", 0}} {
		t.Run(string(c.account), func(t *testing.T) {
			var got []eventstore.Position
			err := store.View(ctx, func(r projections.Reader) error {
				page := projections.Page{Limit: 3}
				for {
					entries, next, err := audit.Query{R: r}.History(ctx, "device", "d1", c.account, page, nil)
					if err != nil {
						return err
					}
					for _, e := range entries {
						got = append(got, e.Position)
					}
					if next == "" {
						return nil
					}
					page.After = next
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := positions[:c.want]; !slices.Equal(got, want) {
				t.Fatalf("history %v, want %v", got, want)
			}
		})
	}
}
