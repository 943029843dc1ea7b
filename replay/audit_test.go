package replay_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/replay"
)

// The audit index gathers a run's filings into a row an entity, so what it
// writes depends on how the log was cut into runs. What it means must not:
// the index built one event at a time (a row a filing, as before), in one
// run of the whole log, and in runs cut at random compare equal by their
// filings (as Verify compares them), and every entity's history reads the
// same from each, for each account, page by page and filtered.
func TestTheAuditIndexMeansTheSameHoweverTheLogIsCut(t *testing.T) {
	reg := catalog.New()
	p := audit.Projection{}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, st.open)
			f.pairs(t, 0, 2, 40)
			recs, err := f.es.ReadAll(ctx, eventstore.Position{}, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			single, whole, cut := st.open(t), st.open(t), st.open(t)
			if _, err := projections.CatchUp(ctx, f.es, single, reg, p, eventstore.Position{}, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := projections.CatchUp(ctx, f.es, whole, reg, p, eventstore.Position{}, len(recs)); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 13))
			for at := 0; at < len(recs); {
				at = min(len(recs), at+1+rng.IntN(90))
				if _, err := projections.CatchUp(ctx, f.es, cut, reg, p, recs[at-1].Position, 1+rng.IntN(40)); err != nil {
					t.Fatal(err)
				}
			}
			tables := p.Tables()
			rows := func(s projections.Store) (n int) {
				_ = s.View(ctx, func(r projections.Reader) error {
					return r.Scan(ctx, audit.FiledFor, projections.Page{}, func(string, []byte) error { n++; return nil })
				})
				return n
			}
			if a, b := rows(single), rows(whole); b*3 > a {
				t.Fatalf("one run wrote %d rows of filings, one event at a time %d: not gathered", b, a)
			}
			if diffs, _ := replay.Compare(ctx, single, whole, tables); len(diffs) == 0 {
				t.Fatal("the rows compare equal as they are: nothing here needs unpacking")
			}
			// An index as it was built before 2026-12-03 (third) means
			// the same: its entries as the API shows them, each event
			// filed under each entity it names with the accounts that may
			// see it (audit.Filed), and the marks of who saw what
			// (audit.Seen).
			asBefore := st.open(t)
			if _, err := projections.CatchUp(ctx, f.es, asBefore, reg, p, eventstore.Position{}, len(recs)); err != nil {
				t.Fatal(err)
			}
			err = asBefore.Update(ctx, p.Name(), func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
				var shown []audit.Entry
				if err := tx.Scan(ctx, audit.Entries, projections.Page{}, func(_ string, doc []byte) error {
					var e audit.Entry
					err := json.Unmarshal(doc, &e)
					shown = append(shown, e)
					return err
				}); err != nil {
					return cp, err
				}
				for _, e := range shown {
					if err := tx.Put(ctx, audit.Entries, audit.PositionKey(e.Position), e); err != nil {
						return cp, err
					}
				}
				filings := map[string][]string{} // entity/position -> accounts
				var rows []string
				if err := tx.Scan(ctx, audit.FiledFor, projections.Page{}, func(key string, doc []byte) error {
					rows = append(rows, key)
					return p.Unpack(audit.FiledFor, key, doc, func(_, key string, _ []byte) error {
						parts := strings.Split(key, "/")
						filings[parts[0]+"/"+parts[2]] = append(filings[parts[0]+"/"+parts[2]], parts[1])
						return nil
					})
				}); err != nil {
					return cp, err
				}
				for _, k := range rows {
					if err := tx.Delete(ctx, audit.FiledFor, k); err != nil {
						return cp, err
					}
				}
				for k, accounts := range filings {
					entity := k[:strings.IndexByte(k, '/')+1]
					slices.Sort(accounts)
					if err := tx.Put(ctx, audit.Filed, k, audit.Filing{Accounts: accounts}); err != nil {
						return cp, err
					}
					for _, a := range accounts {
						if err := tx.Put(ctx, audit.Seen, audit.SeenKey(entity, a), true); err != nil {
							return cp, err
						}
					}
				}
				return cp, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diffs, _ := replay.Compare(ctx, whole, asBefore, []string{audit.Entries}); len(diffs) != len(recs) {
				t.Fatalf("%d of %d entries stored differently", len(diffs), len(recs))
			}
			for name, s := range map[string]projections.Store{"one run": whole, "random runs": cut, "built before": asBefore} {
				diffs, err := replay.Compare(ctx, single, s, tables, p)
				if err != nil {
					t.Fatal(err)
				}
				for i, d := range diffs {
					if i == 3 {
						t.Fatalf("%s: %d differences in all", name, len(diffs))
					}
					t.Errorf("%s: %s %s: one at a time %s, here %s", name, d.Table, d.Key, d.Live, d.Rebuilt)
				}
			}

			// Every entity the index knows, as kind and id.
			var entities [][2]string
			err = single.View(ctx, func(r projections.Reader) error {
				return r.Scan(ctx, audit.FiledFor, projections.Page{}, func(key string, _ []byte) error {
					kind, id, _ := strings.Cut(key[:strings.IndexByte(key, '/')], ":")
					if n := len(entities); n == 0 || entities[n-1] != [2]string{kind, id} {
						entities = append(entities, [2]string{kind, id})
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			history := func(s projections.Store, kind, id string, acc domain.AccountID, limit int, keep func(*audit.Entry) bool) (got []string) {
				t.Helper()
				err := s.View(ctx, func(r projections.Reader) error {
					page := projections.Page{Limit: limit}
					for {
						entries, next, err := audit.Query{R: r}.History(ctx, kind, id, acc, page, keep)
						if err != nil {
							return err
						}
						if limit > 0 && len(entries) > limit {
							t.Fatalf("a page of %d holds %d", limit, len(entries))
						}
						for _, e := range entries {
							got = append(got, e.EventID)
						}
						if next == "" {
							return nil
						}
						if len(got) > len(recs) || next <= page.After {
							t.Fatalf("%s:%s for %s in pages of %d: the cursor went from %q to %q after %d entries", kind, id, acc, limit, page.After, next, len(got))
						}
						page.After = next
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			// What an account may see of an entity, from the entries
			// themselves: those that name it and list the account.
			var all []audit.Entry
			err = single.View(ctx, func(r projections.Reader) error {
				return r.Scan(ctx, audit.Entries, projections.Page{}, func(_ string, doc []byte) error {
					var e audit.Entry
					err := json.Unmarshal(doc, &e)
					all = append(all, e)
					return err
				})
			})
			if err != nil || len(all) != len(recs) {
				t.Fatalf("%d entries of %d events: %v", len(all), len(recs), err)
			}
			seeing := func(kind, id string, acc domain.AccountID) (want []string) {
				for _, e := range all {
					payload, err := audit.PayloadOf(e.Data)
					if err != nil {
						t.Fatal(err)
					}
					if slices.Contains(audit.EntitiesOf(e.Type, e.Stream, payload), audit.Entity{Kind: kind, ID: id}) && slices.Contains(e.Accounts, string(acc)) {
						want = append(want, e.EventID)
					}
				}
				return want
			}
			designs := func(e *audit.Entry) bool { return strings.Contains(e.Type, "Design") }
			for i, en := range entities {
				limits := []int{0, 7}
				if i%5 == 0 {
					limits = append(limits, 1, 2)
				}
				for _, acc := range []domain.AccountID{"rent0", "build0", "rent1", "outsider"} {
					if got, want := history(single, en[0], en[1], acc, 0, nil), seeing(en[0], en[1], acc); !slices.Equal(got, want) {
						t.Fatalf("%s:%s for %s: %v, want %v", en[0], en[1], acc, got, want)
					}
					for _, limit := range limits {
						for _, keep := range []func(*audit.Entry) bool{nil, designs} {
							want := history(single, en[0], en[1], acc, 0, keep)
							for name, s := range map[string]projections.Store{"one at a time": single, "one run": whole, "random runs": cut} {
								if got := history(s, en[0], en[1], acc, limit, keep); !slices.Equal(got, want) {
									t.Fatalf("%s:%s for %s in pages of %d, %s: %v, want %v", en[0], en[1], acc, limit, name, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}
