package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/memory"
)

// An index built before 2026-12-03 (third) stored each entry as the API
// shows it, filed each event under each entity with the accounts that may
// see it (Filed: a row a filing, holding its position or leaving it to
// its key, or a row of a run), and marked each entity an account saw
// (Seen). A history reads those
// filings, then those filed since for the account (FiledFor), as one
// history: the same entries, in log order, across pages, for the
// accounts entitled to them only; and an entity is known to an account
// by either.
func TestHistoryReadsTheIndexBuiltBefore(t *testing.T) {
	ctx := context.Background()
	store := memory.New(nil)
	at := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
	const before = 5 // events 0 to 4 were indexed before
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
			if i >= before {
				return r.Position, nil
			}
			// As the index wrote it before: its entry, and filings
			// and marks where it now files it for each account.
			pos := audit.PositionKey(r.Position)
			var filedFor []string
			if err := tx.Scan(ctx, audit.FiledFor, projections.Page{}, func(key string, _ []byte) error {
				if strings.HasSuffix(key, "/"+pos) {
					filedFor = append(filedFor, key)
				}
				return nil
			}); err != nil {
				return cp, err
			}
			for _, k := range filedFor {
				if err := tx.Delete(ctx, audit.FiledFor, k); err != nil {
					return cp, err
				}
			}
			// Its entry as the API shows it, summary and all.
			var e audit.Entry
			if _, err := tx.Get(ctx, audit.Entries, pos, &e); err != nil {
				return cp, err
			}
			if err := tx.Put(ctx, audit.Entries, pos, e); err != nil {
				return cp, err
			}
			device := audit.Key("device", "d1")
			var filing any = audit.Filing{Accounts: []string{"acme", "rentco"}}
			switch i {
			case 0, 2: // a filing that holds its position
				filing = audit.Filing{At: pos, Accounts: []string{"acme", "rentco"}}
			case 1: // one another account saw too, which has nothing since
				filing = audit.Filing{Accounts: []string{"acme", "oldco", "rentco"}}
				if err := tx.Put(ctx, audit.Seen, audit.SeenKey(device, "oldco"), true); err != nil {
					return cp, err
				}
			case 3: // filed with the next one's, in a run
				return r.Position, nil
			case 4:
				filing = projections.Encoded(`{"runs":[{"accounts":["acme","rentco"],"at":["103","104"]}]}`)
			}
			for _, put := range []struct {
				table, key string
				doc        any
			}{{audit.Filed, device + pos, filing}, {audit.Seen, audit.SeenKey(device, "acme"), true}, {audit.Seen, audit.SeenKey(device, "rentco"), true}} {
				if err := tx.Put(ctx, put.table, put.key, put.doc); err != nil {
					return cp, err
				}
			}
			return r.Position, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		account domain.AccountID
		want    []eventstore.Position
	}{{"rentco", positions}, {"acme", positions}, {"oldco", positions[1:2]}, {"other", nil}} {
		t.Run(string(c.account), func(t *testing.T) {
			for _, limit := range []int{0, 1, 3, 5} {
				var got []eventstore.Position
				err := store.View(ctx, func(r projections.Reader) error {
					known, err := audit.Query{R: r}.Knows(ctx, "device", "d1", c.account)
					if err != nil || known != (len(c.want) > 0) {
						t.Fatalf("known %v (%v), want %v", known, err, len(c.want) > 0)
					}
					page := projections.Page{Limit: limit}
					for {
						entries, next, err := audit.Query{R: r}.History(ctx, "device", "d1", c.account, page, nil)
						if err != nil {
							return err
						}
						for _, e := range entries {
							got = append(got, e.Position)
							if want := "bob@rentco.test (rentco): DesignSentToDevice device=d1 project=site design=deck.dxf"; e.Summary != want || e.EventID != fmt.Sprintf("e%d", e.Position.Commit-100) {
								t.Fatalf("entry %s: summary %q, want %q", e.EventID, e.Summary, want)
							}
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
				if !slices.Equal(got, c.want) {
					t.Fatalf("pages of %d: history %v, want %v", limit, got, c.want)
				}
			}
		})
	}
}

// counting is a Reader that counts the documents it reads.
type counting struct {
	projections.Reader
	docs int
}

func (c *counting) Get(ctx context.Context, table, key string, v any) (bool, error) {
	ok, err := c.Reader.Get(ctx, table, key, v)
	if ok {
		c.docs++
	}
	return ok, err
}

func (c *counting) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	return c.Reader.Scan(ctx, table, page, func(key string, doc []byte) error {
		c.docs++
		return fn(key, doc)
	})
}

// What an account may see of an entity costs the same however much else
// the entity's history holds: a partner's history of a device its owner
// used 3,000 times before sharing it reads the partner's own filings and
// entries, not the owner's.
func TestHistoryReadsOnlyWhatTheAccountMaySee(t *testing.T) {
	ctx := context.Background()
	for _, owned := range []int{0, 3000} {
		store := memory.New(nil)
		var n uint64
		record := func(stream, data string) eventstore.Record {
			n++
			r := eventstore.Record{Stream: stream, Revision: n, Position: eventstore.Position{Commit: n, Prepare: n}}
			r.ID, r.Type, r.Version, r.Data = fmt.Sprintf("e%d", n), "DeviceUsed", 1, []byte(data)
			r.Meta.Time, r.Meta.Account = time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC), "acme"
			return r
		}
		var log []eventstore.Record
		for range owned {
			log = append(log, record("device-d1", `{"device":"d1"}`))
		}
		for range 3 {
			log = append(log, record("partnership-acme+rentco", `{"device":"d1","partner":"rentco"}`))
		}
		for run := range slices.Chunk(log, 500) {
			err := store.Update(ctx, audit.Name, func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
				g := (audit.Projection{}).Gather()
				for _, r := range run {
					if err := g.Apply(ctx, tx, projections.Envelope{Record: r}); err != nil {
						return cp, err
					}
				}
				return run[len(run)-1].Position, g.Flush(ctx, tx)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		err := store.View(ctx, func(r projections.Reader) error {
			c := &counting{Reader: r}
			entries, next, err := audit.Query{R: c}.History(ctx, "device", "d1", "rentco", projections.Page{Limit: 10}, nil)
			if err != nil {
				return err
			}
			if len(entries) != 3 || next != "" || entries[0].EventID != fmt.Sprintf("e%d", owned+1) {
				t.Fatalf("after %d of the owner's events: %d entries, next %q", owned, len(entries), next)
			}
			if c.docs > 4 { // a row of filings, three entries
				t.Errorf("after %d of the owner's events, the partner's history read %d documents", owned, c.docs)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
