package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

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
// the live snapshotter took it (comparing with the one before) or a rebuild
// did (writing what it changed), on every store: read by key and by scans
// with prefixes and cursors.
func TestSnapshotVersionsAnswerEveryMoment(t *testing.T) {
	ctx := context.Background()
	ps := []replay.Tabled{scripted{}}
	for _, st := range stores {
		for _, by := range []string{"snapshotter comparing", "snapshotter noting", "rebuild", "rebuild bounded by documents"} {
			t.Run(st.name+"/"+by, func(t *testing.T) {
				f := newFixture(t, st.open)
				snaps := &replay.Snapshotter{Events: f.es, Store: f.raw, Projections: ps, Every: 1}
				live := ps
				if by == "snapshotter noting" {
					live = []replay.Tabled{snaps.Note(scripted{})}
				}
				for p := range 4 {
					f.pairs(t, p, 1, 1) // 26 events a pair
					if by != "rebuild" {
						catchUp(t, f.es, f.live, live)
						if err := snaps.Once(ctx); err != nil {
							t.Fatal(err)
						}
					}
				}
				if strings.HasPrefix(by, "rebuild") {
					rb := replay.Rebuilder{Events: f.es, Store: f.raw, Registry: catalog.New(), Page: 4, SnapshotEvery: 4, Snapshotted: names(ps)}
					if by == "rebuild bounded by documents" {
						// Never by the count of events: a snapshot is
						// taken once three documents changed since the
						// last one.
						rb.SnapshotEvery, rb.SnapshotDocs = 1000, 3
					}
					if err := rb.Run(ctx, ps); err != nil {
						t.Fatal(err)
					}
				}
				h := &replay.History{Events: f.es, Store: f.raw, Registry: catalog.New(), Projections: ps}
				all, err := h.Snapshots(ctx)
				if err != nil || len(all) < 4 {
					t.Fatalf("snapshots: %+v, %v", all, err)
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
					checkScripted(t, then.Store, expected(n), fmt.Sprintf("snapshot after event %d", n))
				}
			})
		}
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
// full copy, before versioned snapshots) gets a versioned one at once,
// without waiting for Every more events: the old one answers nothing.
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
	snaps := &replay.Snapshotter{Events: f.es, Store: f.raw, Projections: ps, Every: 1000}
	if err := snaps.Once(ctx); err != nil {
		t.Fatal(err)
	}
	h := &replay.History{Events: f.es, Store: f.raw, Registry: catalog.New(), Projections: ps}
	all, err := h.Snapshots(ctx)
	if err != nil || len(all) != 1 || all[0].Format != replay.VersionedFormat {
		t.Fatalf("snapshots after the first look: %+v, %v", all, err)
	}
	then, err := h.At(ctx, replay.Moment{Position: head})
	if err != nil || then.Replayed != 0 {
		t.Fatalf("an answer at the snapshot replayed %d events: %v", then.Replayed, err)
	}
	checkScripted(t, then.Store, expected(replaytest.EventsPerPair(1)), "the new snapshot")
}
