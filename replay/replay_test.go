package replay_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/memory"
	"github.com/shareledger/shareledger/projections/partners"
	rmpostgres "github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
	"github.com/shareledger/shareledger/projections/rights"
	"github.com/shareledger/shareledger/projections/storetest"
	"github.com/shareledger/shareledger/projections/team"
	"github.com/shareledger/shareledger/replay"
	"github.com/shareledger/shareledger/replay/replaytest"
)

// stores are the read-model stores every test here runs on.
var stores = []struct {
	name string
	open func(t testing.TB) projections.Store
}{
	{"embedded", func(t testing.TB) projections.Store {
		s, err := rmbolt.Open(filepath.Join(t.TempDir(), "rm.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"postgres", func(t testing.TB) projections.Store {
		url, schema := pgtest.Schema(t)
		s, err := rmpostgres.Open(context.Background(), rmpostgres.Config{URL: url, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// fixture is an event log, a raw read-model store and the live view of
// it, and a generator of events from 1 March 2026 on, a minute apart.
type fixture struct {
	es        eventstore.Store
	raw, live projections.Store
	g         *replaytest.Generator
}

func newFixture(t testing.TB, open func(testing.TB) projections.Store) fixture {
	es := storetest.Pebble(t)
	raw := open(t)
	return fixture{es: es, raw: raw, live: projections.Generational(raw),
		g: &replaytest.Generator{Events: es, Start: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Step: time.Minute}}
}

// pairs appends the histories of n pairs of companies from the first on.
func (f fixture) pairs(t testing.TB, first, n, devices int) {
	t.Helper()
	for p := first; p < first+n; p++ {
		if err := f.g.Pair(context.Background(), p, devices); err != nil {
			t.Fatal(err)
		}
	}
}

func modelled() []replay.Tabled {
	return []replay.Tabled{directory.Projection{}, devices.Projection{}, partners.Projection{}, rights.Projection{}, team.Projection{}}
}

func names(ps []replay.Tabled) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return out
}

func tablesOf(ps []replay.Tabled) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Tables()...)
	}
	return out
}

func catchUp(t *testing.T, es eventstore.Store, live projections.Store, ps []replay.Tabled) {
	t.Helper()
	for _, p := range ps {
		if _, err := projections.CatchUp(context.Background(), es, live, catalog.New(), p, eventstore.Position{}, 200); err != nil {
			t.Fatal(err)
		}
	}
}

// copyOf copies the documents of tables into a memory store.
func copyOf(t *testing.T, s projections.Store, tables []string) projections.Store {
	t.Helper()
	ctx := context.Background()
	docs := map[string]map[string][]byte{}
	err := s.View(ctx, func(r projections.Reader) error {
		for _, table := range tables {
			docs[table] = map[string][]byte{}
			if err := r.Scan(ctx, table, projections.Page{}, func(k string, d []byte) error {
				docs[table][k] = append([]byte(nil), d...)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return memory.New(memory.NewLayer(docs, nil))
}

func noDifference(t *testing.T, want, got projections.Store, tables []string) {
	t.Helper()
	diffs, err := replay.Compare(context.Background(), want, got, tables)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range diffs {
		if i == 5 {
			t.Errorf("... %d differences in all", len(diffs))
			break
		}
		t.Errorf("%s/%s: want %s, got %s", d.Table, d.Key, d.Live, d.Rebuilt)
	}
}

// A point-in-time answer equals what the live projections held when they
// stood at that position, asked by position or by time, between
// snapshots or on none.
func TestPointInTimeEqualsTheLiveStateThen(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, st.open)
			es, raw, live, g := f.es, f.raw, f.live, f.g
			ps := modelled()
			tables := tablesOf(ps)
			start := g.Start
			h := &replay.History{Events: es, Store: raw, Registry: catalog.New(), Projections: ps}
			snaps := &replay.Snapshotter{Every: 100}
			running := make([]replay.Tabled, len(ps))
			for i, p := range ps {
				running[i] = snaps.Note(p)
			}
			type moment struct {
				pos   eventstore.Position
				time  time.Time
				state projections.Store
			}
			var then []moment
			for p := range 6 {
				f.pairs(t, p, 1, 6)
				catchUp(t, es, live, running)
				then = append(then, moment{g.Head, g.Now().Add(-time.Minute), copyOf(t, live, tables)})
			}
			all, err := h.Snapshots(ctx)
			if err != nil || len(all) < len(ps) {
				t.Fatalf("snapshots: %v, %v", all, err)
			}
			for _, s := range all {
				if s.Format != replay.CopyOnWriteFormat {
					t.Errorf("snapshot %+v is not copy-on-write", s)
				}
			}
			// A fresh history loads every snapshot from the store.
			h = &replay.History{Events: es, Store: raw, Registry: catalog.New(), Projections: ps}
			total := g.Count()
			for i, m := range then {
				for _, by := range []struct {
					name string
					at   replay.Moment
				}{
					{"position", replay.Moment{Position: m.pos}},
					{"time", replay.Moment{Time: m.time.Add(30 * time.Second)}},
				} {
					t.Run(fmt.Sprintf("after pair %d by %s", i, by.name), func(t *testing.T) {
						got, err := h.At(ctx, by.at)
						if err != nil {
							t.Fatal(err)
						}
						if got.Position != m.pos || !got.Time.Equal(m.time) {
							t.Errorf("resolved to %v at %v, want %v at %v", got.Position, got.Time, m.pos, m.time)
						}
						noDifference(t, m.state, got.Store, tables)
						if i == len(then)-1 && got.Replayed >= total {
							t.Errorf("replayed %d of %d events: the snapshots went unused", got.Replayed, total)
						}
					})
				}
			}
			t.Run("before the first event", func(t *testing.T) {
				got, err := h.At(ctx, replay.Moment{Time: start.Add(-time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				if !got.Position.IsZero() || got.Replayed != 0 {
					t.Errorf("resolved to %v after %d events, want nothing", got.Position, got.Replayed)
				}
				noDifference(t, memory.New(nil), got.Store, tables)
			})
		})
	}
}

// A rebuild writes a new generation while readers and the live
// projections go on; readers never see a half-built model, and after the
// swap the model equals a fresh replay and the old generation is gone.
func TestBlueGreenRebuildUnderConcurrentReadsAndWrites(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, st.open)
			es, raw, live, g := f.es, f.raw, f.live, f.g
			ps := modelled()
			f.pairs(t, 0, 8, 5)
			catchUp(t, es, live, ps)

			// Partnerships and accounts are only ever added: a reader
			// that saw fewer than before saw a half-built model.
			count := func(r projections.Reader, table string) int {
				n := 0
				if err := r.Scan(ctx, table, projections.Page{}, func(string, []byte) error { n++; return nil }); err != nil {
					t.Error(err)
				}
				return n
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var reads atomic.Int64
			for range 3 {
				wg.Go(func() {
					seenPartners, seenAccounts := 0, 0
					for {
						select {
						case <-stop:
							return
						default:
						}
						err := live.View(ctx, func(r projections.Reader) error {
							np, na := count(r, partners.Table), count(r, directory.Accounts)
							if np < seenPartners || na < seenAccounts {
								return fmt.Errorf("a reader saw %d partners and %d accounts after %d and %d", np, na, seenPartners, seenAccounts)
							}
							seenPartners, seenAccounts = np, na
							return nil
						})
						if err != nil {
							t.Error(err)
							return
						}
						reads.Add(1)
					}
				})
			}
			// The live projections and new commands go on throughout; the
			// live projections keep the versions the snapshots need.
			snaps := &replay.Snapshotter{Every: 150}
			running := make([]replay.Tabled, len(ps))
			for i, p := range ps {
				running[i] = snaps.Note(p)
			}
			wg.Go(func() {
				for p := 8; ; p++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := g.Pair(ctx, p, 2); err != nil {
						t.Error(err)
						return
					}
					for _, proj := range running {
						if _, err := projections.CatchUp(ctx, es, live, catalog.New(), proj, eventstore.Position{}, 50); err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
			rb := replay.Rebuilder{Events: es, Store: raw, Registry: catalog.New(), Page: 25, SnapshotEvery: 150, Snapshotted: names(ps)}
			err := rb.Run(ctx, ps)
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if reads.Load() == 0 {
				t.Fatal("no reads ran during the rebuild")
			}
			catchUp(t, es, live, running)
			scratch := memory.New(nil)
			catchUp(t, es, scratch, ps)
			noDifference(t, scratch, live, tablesOf(ps))

			err = raw.View(ctx, func(r projections.Reader) error {
				for _, p := range ps {
					var gen projections.Generation
					if _, err := r.Get(ctx, projections.GenerationsTable, p.Name(), &gen); err != nil {
						return err
					}
					if gen.Number != 1 {
						t.Errorf("%s is live in generation %d, want 1", p.Name(), gen.Number)
					}
					for _, table := range p.Tables() {
						if n := count(r, table); n != 0 {
							t.Errorf("generation 0 of %s still holds %d documents", table, n)
						}
					}
				}
				states, err := replay.Rebuilds(ctx, r)
				if len(states) != len(ps) {
					t.Errorf("rebuild states: %+v", states)
				}
				for _, s := range states {
					if s.State != replay.Swapped || s.Snapshots == 0 {
						t.Errorf("%s: state %s with %d snapshots, want swapped with some", s.Projection, s.State, s.Snapshots)
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			// Point-in-time answers use the new generation's snapshots.
			h := &replay.History{Events: es, Store: raw, Registry: catalog.New(), Projections: ps}
			got, err := h.At(ctx, replay.Moment{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Replayed >= g.Count() {
				t.Errorf("replayed %d of %d events: the rebuild's snapshots went unused", got.Replayed, g.Count())
			}
			noDifference(t, scratch, got.Store, tablesOf(ps))
		})
	}
}

// failing fails on its nth event.
type failing struct {
	replay.Tabled
	n     int
	count *int
}

func (f failing) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	*f.count++
	if *f.count == f.n {
		return errors.New("planted failure")
	}
	return f.Tabled.Apply(ctx, tx, e)
}

// A rebuild that fails leaves the live model as it was, says why, and
// leaves nothing of the new generation behind.
func TestAFailedRebuildLeavesTheLiveModel(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, st.open)
			es, raw, live := f.es, f.raw, f.live
			ps := []replay.Tabled{devices.Projection{}}
			f.pairs(t, 0, 4, 5)
			catchUp(t, es, live, ps)
			before := copyOf(t, live, tablesOf(ps))
			n := 0
			rb := replay.Rebuilder{Events: es, Store: raw, Registry: catalog.New(), Page: 10}
			err := rb.Run(ctx, []replay.Tabled{failing{Tabled: devices.Projection{}, n: 60, count: &n}})
			if err == nil || !strings.Contains(err.Error(), "planted failure") {
				t.Fatalf("rebuild: %v, want the planted failure", err)
			}
			noDifference(t, before, live, tablesOf(ps))
			err = raw.View(ctx, func(r projections.Reader) error {
				var gen projections.Generation
				if _, err := r.Get(ctx, projections.GenerationsTable, devices.Name, &gen); err != nil || gen.Number != 0 {
					t.Errorf("live generation %d (%v), want 0", gen.Number, err)
				}
				for _, table := range devices.Projection.Tables(devices.Projection{}) {
					if err := r.Scan(ctx, projections.TableIn(table, 1), projections.Page{}, func(k string, _ []byte) error {
						t.Errorf("generation 1 of %s left %s behind", table, k)
						return nil
					}); err != nil {
						return err
					}
				}
				states, err := replay.Rebuilds(ctx, r)
				if len(states) != 1 || states[0].State != replay.Failed || !strings.Contains(states[0].Error, "planted failure") {
					t.Errorf("rebuild state %+v, want failed with the reason", states)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			// The next rebuild goes through.
			if err := rb.Run(ctx, ps); err != nil {
				t.Fatal(err)
			}
			noDifference(t, before, live, tablesOf(ps))
		})
	}
}
