package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/memory"
)

// Snapshots of projection state live in the read-model store beside the
// models: a list of what was taken, and the documents of each.
const (
	SnapshotsTable    = "_snapshots"     // projection/generation/position -> Snapshot
	SnapshotDocsTable = "_snapshot_docs" // projection/generation/position/table/key -> document
)

// Snapshot says what one snapshot holds: a projection's tables in one
// generation, as they stood at Position, whose event was recorded at Time.
type Snapshot struct {
	Projection string              `json:"projection"`
	Generation int                 `json:"generation"`
	Position   eventstore.Position `json:"position"`
	Time       time.Time           `json:"time"`
	Documents  int                 `json:"documents"`
	Taken      time.Time           `json:"taken"`
	// Base is the key of the snapshot this one holds the changes since
	// (empty: it holds every document); Depth counts the changes on top
	// of a full snapshot.
	Base  string `json:"base,omitempty"`
	Depth int    `json:"depth"`
}

// maxDepth bounds a chain of change snapshots: every so many, a full one,
// so that loading a snapshot reads one full one and at most this many
// changes.
const maxDepth = 16

// deleted marks a document a change snapshot deletes.
var deleted = json.RawMessage("null")

// plan says what a snapshot holds: everything (zero plan), the documents
// changed since base (changed, as a rebuild knows them), or the documents
// that differ from base's (prev, as the live snapshotter finds them).
type plan struct {
	base    *Snapshot
	changed map[string]map[string]bool
	prev    *memory.Layer
}

func (s Snapshot) key() string {
	return fmt.Sprintf("%s/%d/%020d.%020d", s.Projection, s.Generation, s.Position.Commit, s.Position.Prepare)
}

func snapshotPrefix(projection string, generation int) string {
	return fmt.Sprintf("%s/%d/", projection, generation)
}

// generationOf reads the live generation of a projection.
func generationOf(ctx context.Context, r projections.Reader, name string) (projections.Generation, error) {
	var g projections.Generation
	_, err := r.Get(ctx, projections.GenerationsTable, name, &g)
	return g, err
}

// takeSnapshot copies p's tables of generation gen, as consumer's
// checkpoint had them, into the snapshot tables: all of them, or what
// changed since the plan's base. It reads one consistent view and writes
// in chunks; the list entry goes last, so a snapshot cut short is never
// used. timeAt tells when the event at a position was recorded.
func takeSnapshot(ctx context.Context, store projections.Store, p Tabled, gen int, consumer string, pl plan, timeAt func(eventstore.Position) (time.Time, error)) (Snapshot, error) {
	snap := Snapshot{Projection: p.Name(), Generation: gen}
	if pl.base != nil {
		snap.Base, snap.Depth = pl.base.key(), pl.base.Depth+1
	}
	type doc struct {
		key string
		raw json.RawMessage
	}
	var docs []doc
	err := store.View(ctx, func(r projections.Reader) error {
		var err error
		if snap.Position, err = r.Checkpoint(ctx, consumer); err != nil {
			return err
		}
		for _, t := range p.Tables() {
			table := projections.TableIn(t, gen)
			if pl.changed != nil {
				for k := range pl.changed[t] {
					var d json.RawMessage
					found, err := r.Get(ctx, table, k, &d)
					if err != nil {
						return err
					}
					if !found {
						d = deleted
					}
					docs = append(docs, doc{t + "/" + k, d})
				}
				continue
			}
			seen := map[string]bool{}
			err := r.Scan(ctx, table, projections.Page{}, func(k string, d []byte) error {
				if pl.prev != nil {
					seen[k] = true
					if old, ok := pl.prev.Doc(t, k); ok && bytes.Equal(old, d) {
						return nil
					}
				}
				docs = append(docs, doc{t + "/" + k, append(json.RawMessage(nil), d...)})
				return nil
			})
			if err != nil {
				return err
			}
			if pl.prev != nil {
				pl.prev.Each(t, func(k string, _ []byte) {
					if !seen[k] {
						docs = append(docs, doc{t + "/" + k, deleted})
					}
				})
			}
		}
		return nil
	})
	if err != nil || snap.Position.IsZero() {
		return snap, err
	}
	if snap.Time, err = timeAt(snap.Position); err != nil {
		return snap, err
	}
	prefix := snap.key() + "/"
	for len(docs) > 0 {
		n := min(len(docs), 2000)
		chunk := docs[:n]
		docs = docs[n:]
		err := store.Update(ctx, "_snapshots", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			for _, d := range chunk {
				if err := tx.Put(ctx, SnapshotDocsTable, prefix+d.key, d.raw); err != nil {
					return cp, err
				}
			}
			return cp, nil
		})
		if err != nil {
			return snap, fmt.Errorf("snapshot %s: %w", p.Name(), err)
		}
		snap.Documents += n
	}
	snap.Taken = time.Now().UTC()
	err = store.Update(ctx, "_snapshots", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		return cp, tx.Put(ctx, SnapshotsTable, snap.key(), snap)
	})
	return snap, err
}

// snapshotsOf lists the snapshots of a projection's generation, oldest
// first.
func snapshotsOf(ctx context.Context, r projections.Reader, projection string, gen int) ([]Snapshot, error) {
	var out []Snapshot
	err := r.Scan(ctx, SnapshotsTable, projections.Page{Prefix: snapshotPrefix(projection, gen)}, func(_ string, d []byte) error {
		var s Snapshot
		if err := json.Unmarshal(d, &s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// liveSnapshots reads a projection's live generation and its snapshots,
// oldest first.
func liveSnapshots(ctx context.Context, r projections.Reader, projection string) (projections.Generation, []Snapshot, error) {
	g, err := generationOf(ctx, r, projection)
	if err != nil {
		return g, nil, err
	}
	all, err := snapshotsOf(ctx, r, projection, g.Number)
	return g, all, err
}

// dropSnapshots deletes every snapshot of a projection's generation.
func dropSnapshots(ctx context.Context, store projections.Store, projection string, gen int) error {
	prefix := snapshotPrefix(projection, gen)
	return errors.Join(drop(ctx, store, SnapshotsTable, prefix), drop(ctx, store, SnapshotDocsTable, prefix))
}

// drop deletes the documents of table under prefix, a chunk per
// transaction, so that dropping a large model never holds one huge
// transaction.
func drop(ctx context.Context, store projections.Store, table, prefix string) error {
	for {
		n := 0
		err := store.Update(ctx, "_gc", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			var keys []string
			err := tx.Scan(ctx, table, projections.Page{Prefix: prefix, Limit: 2000}, func(k string, _ []byte) error {
				keys = append(keys, k)
				return nil
			})
			if err != nil {
				return cp, err
			}
			for _, k := range keys {
				if err := tx.Delete(ctx, table, k); err != nil {
					return cp, err
				}
			}
			n = len(keys)
			if n == 0 {
				return cp, projections.ErrStopUpdate
			}
			return cp, nil
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// splitDocKey splits a snapshot document key after its prefix into table
// and key.
func splitDocKey(rest string) (table, key string, ok bool) {
	return strings.Cut(rest, "/")
}
