package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Snapshots of projection state live in the read-model store beside the
// models: a list of what was taken, and the versions of the documents.
//
// A projection's first snapshot in a generation holds every document; each
// later one holds only the documents that changed since the one before (a
// deleted document as a tombstone). The versions are keyed by document
// and then by position, newest first, so that the document as it stood at
// any snapshot is one ordered look-up, however many snapshots came before:
// a point-in-time answer reads the documents it needs, by key, and never
// loads a whole snapshot, and the snapshots together hold each version of
// a document once instead of a full copy every so often. The live
// snapshotter writes a snapshot after the fact (takeSnapshot); a rebuild
// writes each in the transaction of the page that reaches it.
const (
	SnapshotsTable = "_snapshots"         // projection/generation/position -> Snapshot
	VersionsTable  = "_snapshot_versions" // projection/generation/table/key 0x01 ^position. -> document, or null when deleted
	// SnapshotDocsTable held the documents of snapshots of the first
	// format (every document of a full snapshot, a full one every 16);
	// they are no longer read, and are dropped with their generation.
	SnapshotDocsTable = "_snapshot_docs"
)

// VersionedFormat marks the snapshots whose documents are in VersionsTable.
// Snapshots of the first format (zero) are ignored: the next snapshot of
// the projection is a full one.
const VersionedFormat = 2

// Snapshot says what one snapshot holds: a projection's tables in one
// generation, as they stood at Position, whose event was recorded at Time.
type Snapshot struct {
	Projection string              `json:"projection"`
	Generation int                 `json:"generation"`
	Position   eventstore.Position `json:"position"`
	Time       time.Time           `json:"time"`
	// Documents counts the versions the snapshot wrote.
	Documents int       `json:"documents"`
	Taken     time.Time `json:"taken"`
	// Base is the key of the snapshot this one holds the changes since
	// (empty: it holds every document); Depth counts the snapshots of
	// changes since the full one.
	Base   string `json:"base,omitempty"`
	Depth  int    `json:"depth"`
	Format int    `json:"format,omitempty"`
}

// deleted marks a document a snapshot deletes.
var deleted = json.RawMessage("null")

// plan says what a live snapshot holds: everything (no base), the
// documents changed since base (changed, as the live projections noted
// them), or the documents that differ from base's (compare). A rebuild
// writes its snapshots itself, with its pages (shadow.snapshot).
type plan struct {
	base    *Snapshot
	changed map[string]map[string]bool
	compare bool
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

// Keys of VersionsTable. A document's key is escaped so that it never holds
// the separator 0x01 (0x01 and 0x02 become 0x02 0x01 and 0x02 0x02, which
// keeps the keys' order); the position after it is inverted, so that the
// newest version comes first, in fixed-width hex, and ends in '.', so that
// "after the key and position p" finds the first version at or before p.
var (
	escapeKey   = strings.NewReplacer("\x02", "\x02\x02", "\x01", "\x02\x01")
	unescapeKey = strings.NewReplacer("\x02\x02", "\x02", "\x02\x01", "\x01")
)

const versionSuffix = 1 + 32 + 1 // 0x01, the inverted position, '.'

func versionsPrefix(projection string, generation int, table string) string {
	return snapshotPrefix(projection, generation) + table + "/"
}

func invertedPosition(p eventstore.Position) string {
	return fmt.Sprintf("%016x%016x", ^p.Commit, ^p.Prepare)
}

func versionKey(tablePrefix, key string, at eventstore.Position) string {
	return tablePrefix + escapeKey.Replace(key) + "\x01" + invertedPosition(at) + "."
}

// versions reads one table of a projection's snapshots as it stood at a
// snapshot's position.
type versions struct {
	prefix string // versionsPrefix
	at     eventstore.Position
	inv    string // invertedPosition(at)
}

func versionsAt(projection string, generation int, table string, at eventstore.Position) versions {
	return versions{prefix: versionsPrefix(projection, generation, table), at: at, inv: invertedPosition(at)}
}

// doc is the document at key as it stood: the first version at or before
// the position, one ordered look-up.
func (v versions) doc(ctx context.Context, r projections.Reader, key string) ([]byte, bool, error) {
	head := v.prefix + escapeKey.Replace(key) + "\x01"
	var out []byte
	err := r.Scan(ctx, VersionsTable, projections.Page{Prefix: head, After: head + v.inv, Limit: 1}, func(_ string, d []byte) error {
		out = append([]byte(nil), d...)
		return nil
	})
	if err != nil || out == nil || bytes.Equal(out, deleted) {
		return nil, false, err
	}
	return out, true, nil
}

// docs is doc for many keys at once (projections.FirstOfEach: one query
// on PostgreSQL): fn is called with those that stood.
func (v versions) docs(ctx context.Context, r projections.Reader, keys []string, fn func(key string, doc []byte) error) error {
	pages := make([]projections.Page, len(keys))
	for i, k := range keys {
		head := v.prefix + escapeKey.Replace(k) + "\x01"
		pages[i] = projections.Page{Prefix: head, After: head + v.inv}
	}
	return projections.FirstOfEach(ctx, r, VersionsTable, pages, func(i int, _ string, d []byte) error {
		if bytes.Equal(d, deleted) {
			return nil
		}
		return fn(keys[i], d)
	})
}

// each calls fn with the documents whose keys start with prefix and sort
// after after, as they stood, in key order. It reads every version of
// those documents, newest first, and skips those after the position.
func (v versions) each(ctx context.Context, r projections.Reader, prefix, after string, fn func(key string, doc []byte) error) error {
	page := projections.Page{Prefix: v.prefix + escapeKey.Replace(prefix)}
	if after != "" {
		page.After = v.prefix + escapeKey.Replace(after) + "\x01g" // past every version of after
	}
	var done string
	started := false
	return r.Scan(ctx, VersionsTable, page, func(k string, d []byte) error {
		body := k[len(v.prefix):]
		if len(body) < versionSuffix || body[len(body)-versionSuffix] != 0x01 {
			return fmt.Errorf("snapshot versions: malformed key %q", k)
		}
		key := unescapeKey.Replace(body[:len(body)-versionSuffix])
		if started && key == done {
			return nil // an older version of a document already answered
		}
		if body[len(body)-versionSuffix+1:len(body)-1] < v.inv {
			return nil // a version after the position
		}
		done, started = key, true
		if bytes.Equal(d, deleted) {
			return nil
		}
		return fn(key, d)
	})
}

// snapshotReadChunk is how many changed documents a snapshot reads at once.
const snapshotReadChunk = 1000

// takeSnapshot copies p's tables of generation gen, as consumer's
// checkpoint had them, into versions at the checkpoint: all of them, or
// what changed since the plan's base. It reads one consistent view and
// writes in chunks; the list entry goes last, so a snapshot cut short is
// never used (its versions are at a position no listed snapshot has, and
// a look-up at a listed one finds the versions before them). timeAt tells
// when the event at a position was recorded.
func takeSnapshot(ctx context.Context, store projections.Store, p Tabled, gen int, consumer string, pl plan, timeAt func(eventstore.Position) (time.Time, error)) (Snapshot, error) {
	snap := Snapshot{Projection: p.Name(), Generation: gen, Format: VersionedFormat}
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
			vp := versionsPrefix(p.Name(), gen, t)
			if pl.changed != nil {
				// The changed documents, read many at once (one round
				// trip per chunk on PostgreSQL); a key not found was
				// deleted.
				keys := slices.Sorted(maps.Keys(pl.changed[t]))
				for len(keys) > 0 {
					chunk := keys[:min(len(keys), snapshotReadChunk)]
					keys = keys[len(chunk):]
					found := make(map[string]bool, len(chunk))
					err := projections.GetMany(ctx, r, table, chunk, func(k string, d []byte) error {
						found[k] = true
						docs = append(docs, doc{versionKey(vp, k, snap.Position), append(json.RawMessage(nil), d...)})
						return nil
					})
					if err != nil {
						return err
					}
					for _, k := range chunk {
						if !found[k] {
							docs = append(docs, doc{versionKey(vp, k, snap.Position), deleted})
						}
					}
				}
				continue
			}
			// What the base held, by a hash of each document: the live
			// tables are compared with it and only what differs is kept.
			var before map[string]uint64
			if pl.compare && pl.base != nil {
				before = map[string]uint64{}
				err := versionsAt(p.Name(), gen, t, pl.base.Position).each(ctx, r, "", "", func(k string, d []byte) error {
					before[k] = hash(d)
					return nil
				})
				if err != nil {
					return err
				}
			}
			err := r.Scan(ctx, table, projections.Page{}, func(k string, d []byte) error {
				if before != nil {
					h, ok := before[k]
					delete(before, k)
					if ok && h == hash(d) {
						return nil
					}
				}
				docs = append(docs, doc{versionKey(vp, k, snap.Position), append(json.RawMessage(nil), d...)})
				return nil
			})
			if err != nil {
				return err
			}
			for k := range before {
				docs = append(docs, doc{versionKey(vp, k, snap.Position), deleted})
			}
		}
		return nil
	})
	if err != nil || snap.Position.IsZero() {
		return snap, err
	}
	if pl.base != nil && !pl.base.Position.Less(snap.Position) {
		return Snapshot{}, nil // nothing new since the base
	}
	if snap.Time, err = timeAt(snap.Position); err != nil {
		return snap, err
	}
	slices.SortFunc(docs, func(a, b doc) int { return strings.Compare(a.key, b.key) })
	for len(docs) > 0 {
		n := min(len(docs), 2000)
		chunk := docs[:n]
		docs = docs[n:]
		err := store.Update(ctx, "_snapshots", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
			for _, d := range chunk {
				// As the store held it: JSON already, not encoded again.
				if err := tx.Put(ctx, VersionsTable, d.key, projections.Encoded(d.raw)); err != nil {
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

// hash is a document's FNV-1a hash, to compare it with its version.
func hash(d []byte) uint64 {
	h := fnv.New64a()
	h.Write(d)
	return h.Sum64()
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
	return errors.Join(drop(ctx, store, SnapshotsTable, prefix), drop(ctx, store, VersionsTable, prefix), drop(ctx, store, SnapshotDocsTable, prefix))
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
