package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/replay"
	"github.com/shareledger/shareledger/replay/replaytest"
)

// scripted is a projection that counts the events it applies and, at some
// counts, puts or deletes documents under keys chosen to trouble the
// snapshots' versions: keys that hold the separator bytes, keys that are
// prefixes of others, documents deleted and created again.
type scripted struct{}

const (
	scriptedDocs  = "scripted.docs"
	scriptedCount = "scripted.count"
)

// script: at the n-th event, these keys take these values ("" deletes).
var script = map[int]map[string]string{
	1:  {"a": "1", "a\x01b": "1", "a/b": "1", "b\x02": "1"},
	9:  {"a": "2", "a\x01b": "", "a\x02": "1"},
	17: {"a": "", "b": "1", "b\x02": "2"},
	25: {"a": "3", "a\x01b": "2"},
	33: {"a/b": "", "a\x02": "2", "c": "1"},
	41: {"a": "", "a\x01b": "", "a\x02": "", "b": "", "b\x02": "", "c": ""},
	49: {"a/b": "again"},
}

// expected is what scripted holds after n events.
func expected(n int) map[string]string {
	docs := map[string]string{}
	for i := 1; i <= n; i++ {
		for k, v := range script[i] {
			if v == "" {
				delete(docs, k)
			} else {
				docs[k] = v
			}
		}
	}
	return docs
}

func (scripted) Name() string     { return "scripted" }
func (scripted) Tables() []string { return []string{scriptedDocs, scriptedCount} }
func (scripted) Apply(ctx context.Context, tx projections.Tx, _ projections.Envelope) error {
	var n int
	if _, err := tx.Get(ctx, scriptedCount, "n", &n); err != nil {
		return err
	}
	n++
	for _, k := range slices.Sorted(maps.Keys(script[n])) {
		var err error
		if v := script[n][k]; v == "" {
			err = tx.Delete(ctx, scriptedDocs, k)
		} else {
			err = tx.Put(ctx, scriptedDocs, k, v)
		}
		if err != nil {
			return err
		}
	}
	return tx.Put(ctx, scriptedCount, "n", n)
}

// Every snapshot answers what the projection held at its position, whether
// the live projection took it or a rebuild did, on every store: read by
// key and by scans with prefixes and cursors, the documents changed since
// from their versions and the others from the live table.
func TestSnapshotVersionsAnswerEveryMoment(t *testing.T) {
	ctx := context.Background()
	ps := []replay.Tabled{scripted{}}
	for _, st := range stores {
		for _, by := range []string{"live", "rebuild"} {
			t.Run(st.name+"/"+by, func(t *testing.T) {
				f := newFixture(t, st.open)
				snaps := &replay.Snapshotter{Every: 1}
				live := snaps.Note(scripted{})
				for p := range 4 {
					f.pairs(t, p, 1, 1) // 26 events a pair
					if by == "live" {
						// A run, and so a snapshot, every four events.
						if _, err := projections.CatchUp(ctx, f.es, f.live, catalog.New(), live, eventstore.Position{}, 4); err != nil {
							t.Fatal(err)
						}
					}
				}
				if by == "rebuild" {
					rb := replay.Rebuilder{Events: f.es, Store: f.raw, Registry: catalog.New(), Page: 4, SnapshotEvery: 4, Snapshotted: names(ps)}
					if err := rb.Run(ctx, ps); err != nil {
						t.Fatal(err)
					}
				}
				checkEverySnapshot(t, f, ps, 20)
			})
		}
	}
}

// checkEverySnapshot checks that each of at least least snapshots of the
// scripted projection answers what it held then, without replaying.
func checkEverySnapshot(t *testing.T, f fixture, ps []replay.Tabled, least int) {
	t.Helper()
	ctx := context.Background()
	h := &replay.History{Events: f.es, Store: f.raw, Registry: catalog.New(), Projections: ps}
	all, err := h.Snapshots(ctx)
	if err != nil || len(all) < least {
		t.Fatalf("snapshots: %d, %v", len(all), err)
	}
	recs, err := f.es.ReadAll(ctx, eventstore.Position{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		n := slices.IndexFunc(recs, func(r eventstore.Record) bool { return r.Position == s.Position }) + 1
		then, err := h.At(ctx, replay.Moment{Position: s.Position})
		if err != nil {
			t.Fatal(err)
		}
		if then.Replayed != 0 {
			t.Errorf("at snapshot %v: replayed %d events, want none", s.Position, then.Replayed)
		}
		checkScripted(t, then.Store, expected(n), fmt.Sprintf("snapshot (format %d) after event %d", s.Format, n))
	}
}

func checkScripted(t *testing.T, s projections.Store, want map[string]string, at string) {
	t.Helper()
	ctx := context.Background()
	err := s.View(ctx, func(r projections.Reader) error {
		for _, k := range []string{"a", "a\x01b", "a/b", "a\x02", "b", "b\x02", "c", "zz"} {
			var v string
			found, err := r.Get(ctx, scriptedDocs, k, &v)
			if err != nil {
				return err
			}
			if w, ok := want[k]; found != ok || v != w {
				t.Errorf("%s: %q reads %q (found %v), want %q (%v)", at, k, v, found, w, ok)
			}
		}
		for _, page := range []projections.Page{{}, {Prefix: "a"}, {After: "a"}, {After: "a\x01b", Limit: 2}, {Prefix: "b", Limit: 1}} {
			got := map[string]string{}
			var order []string
			err := r.Scan(ctx, scriptedDocs, page, func(k string, d []byte) error {
				var v string
				order = append(order, k)
				got[k] = v
				return json.Unmarshal(d, &v)
			})
			if err != nil {
				return err
			}
			var keys []string
			for _, k := range slices.Sorted(maps.Keys(want)) {
				if len(k) >= len(page.Prefix) && k[:len(page.Prefix)] == page.Prefix && k > page.After {
					keys = append(keys, k)
				}
			}
			if page.Limit > 0 && len(keys) > page.Limit {
				keys = keys[:page.Limit]
			}
			if !slices.Equal(order, keys) {
				t.Errorf("%s: scan %+v gave %q, want %q", at, page, order, keys)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A projection whose newest snapshot was written in the first format (a
// full copy, before versioned snapshots) gets a copy-on-write one at the
// end of its next run, without waiting for Every more events: the old one
// answers nothing.
func TestALegacySnapshotIsReplacedAtOnce(t *testing.T) {
	ctx := context.Background()
	ps := []replay.Tabled{scripted{}}
	f := newFixture(t, stores[0].open)
	f.pairs(t, 0, 1, 1)
	catchUp(t, f.es, f.live, ps)
	head := f.g.Head
	legacy := replay.Snapshot{Projection: "scripted", Position: head, Time: f.g.Now(), Documents: 1}
	err := f.raw.Update(ctx, "_snapshots", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		return cp, tx.Put(ctx, replay.SnapshotsTable, fmt.Sprintf("scripted/0/%020d.%020d", head.Commit, head.Prepare), legacy)
	})
	if err != nil {
		t.Fatal(err)
	}
	f.pairs(t, 1, 1, 1)
	snaps := &replay.Snapshotter{Every: 1000}
	catchUp(t, f.es, f.live, []replay.Tabled{snaps.Note(scripted{})})
	h := &replay.History{Events: f.es, Store: f.raw, Registry: catalog.New(), Projections: ps}
	all, err := h.Snapshots(ctx)
	if err != nil || len(all) != 2 || all[1].Format != replay.CopyOnWriteFormat || all[1].Position != f.g.Head {
		t.Fatalf("snapshots after the next run: %+v, %v", all, err)
	}
	then, err := h.At(ctx, replay.Moment{Position: f.g.Head})
	if err != nil || then.Replayed != 0 {
		t.Fatalf("an answer at the snapshot replayed %d events: %v", then.Replayed, err)
	}
	checkScripted(t, then.Store, expected(2*replaytest.EventsPerPair(1)), "the new snapshot")
}

// A store whose snapshots were written in the format before copy-on-write
// (every document changed between two snapshots copied into versions at
// the second, and documents written without a stamp) goes on: its old
// snapshots answer as they did, and the new ones, taken by a live
// projection that now changes and deletes documents that no stamp dates,
// answer too.
func TestSnapshotsOfTheFormatBeforeStillAnswer(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			ps := []replay.Tabled{scripted{}}
			f := newFixture(t, st.open)
			// The first pair's 26 events, applied as before: a snapshot of
			// the format before after the 12th, another at the end.
			f.pairs(t, 0, 1, 1)
			recs, err := f.es.ReadAll(ctx, eventstore.Position{}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var before map[string]map[string][]byte
			for _, n := range []int{12, len(recs)} {
				if _, err := projections.CatchUp(ctx, f.es, f.live, catalog.New(), scripted{}, recs[n-1].Position, 1000); err != nil {
					t.Fatal(err)
				}
				before = writeVersionedSnapshot(t, f, recs[n-1], before)
			}
			// Then live, copy-on-write, a run every four events.
			snaps := &replay.Snapshotter{Every: 1}
			live := snaps.Note(scripted{})
			for p := 1; p < 4; p++ {
				f.pairs(t, p, 1, 1)
				if _, err := projections.CatchUp(ctx, f.es, f.live, catalog.New(), live, eventstore.Position{}, 4); err != nil {
					t.Fatal(err)
				}
			}
			checkEverySnapshot(t, f, ps, 10)
		})
	}
}

// writeVersionedSnapshot writes a snapshot of scripted at rec as the
// format before copy-on-write had it: every document as a version at its
// position, a tombstone for each one in the snapshot before (before) that
// is gone, and its entry. It returns the documents.
func writeVersionedSnapshot(t *testing.T, f fixture, rec eventstore.Record, before map[string]map[string][]byte) map[string]map[string][]byte {
	t.Helper()
	ctx := context.Background()
	docs := map[string]map[string][]byte{}
	err := f.raw.View(ctx, func(r projections.Reader) error {
		for _, table := range (scripted{}).Tables() {
			docs[table] = map[string][]byte{}
			err := r.Scan(ctx, table, projections.Page{}, func(k string, d []byte) error {
				docs[table][k] = append([]byte(nil), d...)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := replay.Snapshot{Projection: "scripted", Position: rec.Position, Time: rec.Meta.Time, Format: replay.VersionedFormat}
	err = f.raw.Update(ctx, "_snapshots", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		for table, kv := range docs {
			for k, d := range kv {
				if err := tx.Put(ctx, replay.VersionsTable, projections.VersionKey("scripted/0/"+table+"/", k, rec.Position), projections.Encoded(d)); err != nil {
					return cp, err
				}
			}
			for k := range before[table] {
				if _, ok := kv[k]; !ok {
					if err := tx.Put(ctx, replay.VersionsTable, projections.VersionKey("scripted/0/"+table+"/", k, rec.Position), projections.Tombstone); err != nil {
						return cp, err
					}
				}
			}
		}
		return cp, tx.Put(ctx, replay.SnapshotsTable, fmt.Sprintf("scripted/0/%020d.%020d", rec.Position.Commit, rec.Position.Prepare), snap)
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// A point-in-time answer finds its snapshot with one ordered look-up: it
// never reads the list of snapshots, which grows with the log, whether
// asked by position or by time.
func TestAnAnswerFindsItsSnapshotWithoutTheList(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, stores[0].open)
	live := (&replay.Snapshotter{Every: 1}).Note(scripted{})
	for p := range 4 {
		f.pairs(t, p, 1, 1)
		if _, err := projections.CatchUp(ctx, f.es, f.live, catalog.New(), live, eventstore.Position{}, 4); err != nil {
			t.Fatal(err)
		}
	}
	counted := &listCounting{Store: f.raw}
	ps := []replay.Tabled{scripted{}}
	h := &replay.History{Events: f.es, Store: counted, Registry: catalog.New(), Projections: ps}
	all, err := (&replay.History{Events: f.es, Store: f.raw, Registry: catalog.New(), Projections: ps}).Snapshots(ctx)
	if err != nil || len(all) < 20 {
		t.Fatalf("snapshots: %d, %v", len(all), err)
	}
	for _, s := range []replay.Snapshot{all[0], all[len(all)/2], all[len(all)-1]} {
		for _, m := range []replay.Moment{{Position: s.Position}, {Time: s.Time}, {Position: s.Position, Time: s.Time.Add(time.Hour)}} {
			then, err := h.At(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if then.Position != s.Position || then.Replayed != 0 {
				t.Errorf("at %+v: answered at %v after replaying %d events, want the snapshot at %v", m, then.Position, then.Replayed, s.Position)
			}
		}
	}
	if n := counted.lists.Load(); n != 0 {
		t.Errorf("the answers read the list of snapshots %d times", n)
	}
}

// listCounting is a store that counts the scans of the list of snapshots.
type listCounting struct {
	projections.Store
	lists atomic.Int64
}

func (c *listCounting) View(ctx context.Context, fn func(projections.Reader) error) error {
	return c.Store.View(ctx, func(r projections.Reader) error { return fn(countingReader{r, c}) })
}

type countingReader struct {
	projections.Reader
	c *listCounting
}

func (r countingReader) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	if table == replay.SnapshotsTable {
		r.c.lists.Add(1)
	}
	return r.Reader.Scan(ctx, table, page, fn)
}

func (r countingReader) GetStamped(ctx context.Context, table string, keys []string, fn func(string, []byte, eventstore.Position) error) error {
	return r.Reader.(projections.Stamped).GetStamped(ctx, table, keys, fn)
}

func (r countingReader) ScanStamped(ctx context.Context, table string, page projections.Page, fn func(string, []byte, eventstore.Position) error) error {
	return r.Reader.(projections.Stamped).ScanStamped(ctx, table, page, fn)
}
