package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Snapshots of projection state live in the read-model store beside the
// models: a list of what was taken, and the versions of the documents.
//
// A snapshot is an entry, written by the projection in the transaction of
// the run of events that reaches it (versioned). Its documents are the
// live ones stamped at or before its position, and, for those changed
// since, the versions their writes kept, copy-on-write
// (projections.Versions). The versions are keyed by document and then by
// position, newest first, so that the document as it stood at any
// snapshot is one ordered look-up, however many snapshots came before: a
// point-in-time answer reads the documents it needs, by key, and never
// loads a whole snapshot; and a document is kept once per snapshot that
// saw it change, nothing when it is created.
//
// Snapshots of the format before (VersionedFormat) were copies of what
// changed between two snapshots, written after them; they answer as they
// did, from their versions alone, and are dropped with their generation.
const (
	SnapshotsTable = "_snapshots"         // projection/generation/position -> Snapshot
	VersionsTable  = "_snapshot_versions" // projection/generation/table/key 0x01 ^position. -> document, or null when deleted
	// HeadsTable holds, per projection, the latest snapshot of its live
	// generation, which every live run reads (versioned).
	HeadsTable = "_snapshot_heads"
	// NewestFirstTable indexes the CopyOnWriteFormat snapshots newest
	// first, by position (p/projection/generation/^position.) and by time
	// (t/projection/generation/^time.), so that the newest one at or
	// before a moment is one ordered look-up, however many were taken.
	NewestFirstTable = "_snapshots_newest_first"
	// SnapshotDocsTable held the documents of snapshots of the first
	// format (every document of a full snapshot, a full one every 16);
	// they are no longer read, and are dropped with their generation.
	SnapshotDocsTable = "_snapshot_docs"
)

// Formats of snapshots. Snapshots of the first format (zero) are ignored.
const (
	// VersionedFormat marks the snapshots whose documents are all in
	// VersionsTable.
	VersionedFormat = 2
	// CopyOnWriteFormat marks those whose documents are the live ones
	// stamped at or before them, and the versions kept for the others.
	CopyOnWriteFormat = 3
)

// Snapshot says what one snapshot holds: a projection's tables in one
// generation, as they stood at Position, whose event was recorded at Time.
type Snapshot struct {
	Projection string              `json:"projection"`
	Generation int                 `json:"generation"`
	Position   eventstore.Position `json:"position"`
	Time       time.Time           `json:"time"`
	// Documents counts the versions a snapshot of VersionedFormat wrote.
	Documents int       `json:"documents"`
	Taken     time.Time `json:"taken"`
	// Base is the key of the snapshot a VersionedFormat one holds the
	// changes since (empty: it holds every document); Depth counts the
	// snapshots of changes since the full one.
	Base   string `json:"base,omitempty"`
	Depth  int    `json:"depth"`
	Format int    `json:"format,omitempty"`
	// Legacy is, in a CopyOnWriteFormat snapshot, the stamp that stands for
	// documents written without one (projections.Versions.Legacy).
	Legacy eventstore.Position `json:"legacy,omitzero"`
}

// answers says whether a snapshot of this format answers questions.
func (s Snapshot) answers() bool {
	return s.Format == VersionedFormat || s.Format == CopyOnWriteFormat
}

// deleted marks a document a snapshot deletes.
var deleted = []byte(projections.Tombstone)

func (s Snapshot) key() string {
	return fmt.Sprintf("%s/%d/%020d.%020d", s.Projection, s.Generation, s.Position.Commit, s.Position.Prepare)
}

// putSnapshot writes a CopyOnWriteFormat snapshot's entry and its
// newest-first index.
func putSnapshot(ctx context.Context, tx projections.Tx, s Snapshot) error {
	if err := tx.Put(ctx, SnapshotsTable, s.key(), s); err != nil {
		return err
	}
	if err := tx.Put(ctx, NewestFirstTable, byPosition(s.Projection, s.Generation)+projections.InvertedPosition(s.Position)+".", s); err != nil {
		return err
	}
	return tx.Put(ctx, NewestFirstTable, byTime(s.Projection, s.Generation)+invertedTime(s.Time)+".", s)
}

func byPosition(projection string, generation int) string {
	return "p/" + snapshotPrefix(projection, generation)
}

func byTime(projection string, generation int) string {
	return "t/" + snapshotPrefix(projection, generation)
}

func invertedTime(t time.Time) string { return fmt.Sprintf("%016x", ^uint64(t.UnixNano())) }

// newestAt is the newest CopyOnWriteFormat snapshot of a projection's
// generation at or before m (found false: none): one ordered look-up in
// NewestFirstTable by position, one by time, the older of the two (the
// log's times follow its order).
func newestAt(ctx context.Context, r projections.Reader, projection string, gen int, m Moment) (Snapshot, bool, error) {
	look := func(prefix, after string) (s Snapshot, found bool, err error) {
		err = r.Scan(ctx, NewestFirstTable, projections.Page{Prefix: prefix, After: after, Limit: 1}, func(_ string, d []byte) error {
			found = true
			return json.Unmarshal(d, &s)
		})
		return s, found, err
	}
	if m.Position.IsZero() && m.Time.IsZero() {
		return look(byPosition(projection, gen), "")
	}
	var out Snapshot
	found := false
	if !m.Position.IsZero() {
		p := byPosition(projection, gen)
		s, ok, err := look(p, p+projections.InvertedPosition(m.Position))
		if err != nil || !ok {
			return Snapshot{}, false, err
		}
		out, found = s, true
	}
	if !m.Time.IsZero() {
		t := byTime(projection, gen)
		s, ok, err := look(t, t+invertedTime(m.Time))
		if err != nil || !ok {
			return Snapshot{}, false, err
		}
		if !found || s.Position.Less(out.Position) {
			out, found = s, true
		}
	}
	return out, found, nil
}

// legacyAt is the newest snapshot of the format before copy-on-write at or
// before m (found false: none), read from the list, which no longer grows
// before them: the scan stops at the first copy-on-write one.
func legacyAt(ctx context.Context, r projections.Reader, projection string, gen int, m Moment) (out Snapshot, found bool, err error) {
	err = r.Scan(ctx, SnapshotsTable, projections.Page{Prefix: snapshotPrefix(projection, gen)}, func(_ string, d []byte) error {
		var s Snapshot
		if err := json.Unmarshal(d, &s); err != nil {
			return err
		}
		if s.Format == CopyOnWriteFormat {
			return errLegacyDone
		}
		if s.answers() && m.includesSnapshot(s) {
			out, found = s, true
		}
		return nil
	})
	if errors.Is(err, errLegacyDone) {
		err = nil
	}
	return out, found, err
}

var errLegacyDone = errors.New("past the snapshots of the format before")

func snapshotPrefix(projection string, generation int) string {
	return fmt.Sprintf("%s/%d/", projection, generation)
}

// generationOf reads the live generation of a projection.
func generationOf(ctx context.Context, r projections.Reader, name string) (projections.Generation, error) {
	var g projections.Generation
	_, err := r.Get(ctx, projections.GenerationsTable, name, &g)
	return g, err
}

func versionsPrefix(projection string, generation int, table string) string {
	return snapshotPrefix(projection, generation) + table + "/"
}

// versions reads one table of a projection's snapshots as it stood at a
// snapshot's position. At a CopyOnWriteFormat snapshot (live set), a
// document stood as the live table holds it if it is stamped at or before
// the position, and otherwise as its newest version at or before it; at a
// VersionedFormat one, as that version.
type versions struct {
	prefix string // versionsPrefix
	at     eventstore.Position
	inv    string // projections.InvertedPosition(at)
	live   string // the table in its generation (empty: VersionedFormat)
	legacy eventstore.Position
}

func versionsOf(s Snapshot, table string) versions {
	v := versions{prefix: versionsPrefix(s.Projection, s.Generation, table), at: s.Position, inv: projections.InvertedPosition(s.Position)}
	if s.Format == CopyOnWriteFormat {
		v.live, v.legacy = projections.TableIn(table, s.Generation), s.Legacy
	}
	return v
}

// stood says whether a live document stamped at stood at the position.
func (v versions) stood(at eventstore.Position) bool {
	if at.IsZero() {
		at = v.legacy
	}
	return !v.at.Less(at)
}

// doc is the document at key as it stood: one look-up of the live
// document and one ordered look-up of its versions, at once (one round
// trip on PostgreSQL).
func (v versions) doc(ctx context.Context, r projections.Reader, key string) (out []byte, found bool, err error) {
	err = readAsOf(ctx, r, []versionsKeys{{v, "", []string{key}}}, func(_, _ string, d []byte) error {
		out, found = append([]byte(nil), d...), true
		return nil
	})
	return out, found, err
}

// versionsKeys are keys to read of one table as it stood.
type versionsKeys struct {
	v     versions
	table string // for fn
	keys  []string
}

// readAsOf calls fn with the documents at the keys of each table that
// stood at its snapshot, read at once: the live documents with their
// stamps (at a CopyOnWriteFormat snapshot) and the newest version at or
// before the snapshot of every key (projections.ReadStampedFirsts, one
// round trip on PostgreSQL), the live one winning if it stood.
func readAsOf(ctx context.Context, r projections.Reader, reads []versionsKeys, fn func(table, key string, doc []byte) error) error {
	var gets []projections.TableKeys
	var firsts []projections.TablePage
	type keyOf struct{ read, key int }
	var of []keyOf                              // of each first
	liveKeys := map[string]map[string][]keyOf{} // live table -> key -> where it is read
	for i, rd := range reads {
		if len(rd.keys) == 0 {
			continue
		}
		if rd.v.live != "" {
			gets = append(gets, projections.TableKeys{Table: rd.v.live, Keys: rd.keys})
			if liveKeys[rd.v.live] == nil {
				liveKeys[rd.v.live] = map[string][]keyOf{}
			}
			for j, k := range rd.keys {
				liveKeys[rd.v.live][k] = append(liveKeys[rd.v.live][k], keyOf{i, j})
			}
		}
		for j, k := range rd.keys {
			head := rd.v.prefix + projections.EscapeVersionKey(k) + "\x01"
			firsts = append(firsts, projections.TablePage{Table: VersionsTable, Page: projections.Page{Prefix: head, After: head + rd.v.inv, Limit: 1}})
			of = append(of, keyOf{i, j})
		}
	}
	if len(firsts) == 0 {
		return nil
	}
	stood := map[keyOf][]byte{}
	err := projections.ReadStampedFirsts(ctx, r, gets, firsts,
		func(table, key string, doc []byte, at eventstore.Position) error {
			for _, k := range liveKeys[table][key] {
				if reads[k.read].v.stood(at) {
					stood[k] = doc
				}
			}
			return nil
		},
		func(n int, _ string, doc []byte) error {
			if _, ok := stood[of[n]]; ok {
				return nil // the live document stood
			}
			stood[of[n]] = doc
			return nil
		})
	if err != nil {
		return err
	}
	for _, k := range of {
		doc, ok := stood[k]
		if !ok || bytes.Equal(doc, deleted) {
			continue
		}
		if err := fn(reads[k.read].table, reads[k.read].keys[k.key], doc); err != nil {
			return err
		}
	}
	return nil
}

// eachChunk is how many live documents each reads at a time.
const eachChunk = 512

// each calls fn with the documents whose keys start with prefix and sort
// after after, as they stood, in key order. At a CopyOnWriteFormat
// snapshot it reads the live documents a chunk at a time and, beside each
// chunk, the versions of the keys it spans, which answer for the documents
// changed since and those deleted since.
func (v versions) each(ctx context.Context, r projections.Reader, prefix, after string, fn func(key string, doc []byte) error) error {
	if v.live == "" {
		return v.eachVersion(ctx, r, prefix, after, "", fn)
	}
	sr, err := projections.StampedReader(r)
	if err != nil {
		return err
	}
	type liveDoc struct {
		key   string
		doc   []byte
		stood bool
	}
	for {
		var chunk []liveDoc
		err := sr.ScanStamped(ctx, v.live, projections.Page{Prefix: prefix, After: after, Limit: eachChunk}, func(k string, d []byte, at eventstore.Position) error {
			chunk = append(chunk, liveDoc{k, append([]byte(nil), d...), v.stood(at)})
			return nil
		})
		if err != nil {
			return err
		}
		upto := "" // the end of the chunk's span (empty: the rest)
		if len(chunk) == eachChunk {
			upto = chunk[len(chunk)-1].key
		}
		i := 0
		emitLive := func(before string, all bool) error {
			for ; i < len(chunk) && (all || chunk[i].key < before); i++ {
				if chunk[i].stood {
					if err := fn(chunk[i].key, chunk[i].doc); err != nil {
						return err
					}
				}
			}
			return nil
		}
		err = v.eachVersion(ctx, r, prefix, after, upto, func(k string, d []byte) error {
			if err := emitLive(k, false); err != nil {
				return err
			}
			if i < len(chunk) && chunk[i].key == k {
				stood := chunk[i].stood
				i++
				if stood {
					return fn(k, chunk[i-1].doc)
				}
			}
			if d == nil {
				return nil // deleted by then
			}
			return fn(k, d)
		})
		if err != nil {
			return err
		}
		if err := emitLive("", true); err != nil {
			return err
		}
		if upto == "" {
			return nil
		}
		after = upto
	}
}

// errPast stops a scan of versions past the keys it was to read.
var errPast = errors.New("past the span")

// eachVersion calls fn with the newest version at or before the position
// of each document whose key starts with prefix, sorts after after and,
// unless upto is empty, not after upto, in key order; doc is nil for a
// tombstone where the snapshot is CopyOnWriteFormat (each needs them), and
// such documents are left out at a VersionedFormat one. It reads every
// version of those documents, newest first, and skips those after the
// position.
func (v versions) eachVersion(ctx context.Context, r projections.Reader, prefix, after, upto string, fn func(key string, doc []byte) error) error {
	page := projections.Page{Prefix: v.prefix + projections.EscapeVersionKey(prefix)}
	if after != "" {
		page.After = v.prefix + projections.EscapeVersionKey(after) + "\x01g" // past every version of after
	}
	var done string
	started := false
	err := r.Scan(ctx, VersionsTable, page, func(k string, d []byte) error {
		body := k[len(v.prefix):]
		if len(body) < projections.VersionSuffix || body[len(body)-projections.VersionSuffix] != 0x01 {
			return fmt.Errorf("snapshot versions: malformed key %q", k)
		}
		key := projections.UnescapeVersionKey(body[:len(body)-projections.VersionSuffix])
		if started && key == done {
			return nil // an older version of a document already answered
		}
		if upto != "" && key > upto {
			return errPast
		}
		if body[len(body)-projections.VersionSuffix+1:len(body)-1] < v.inv {
			return nil // a version after the position
		}
		done, started = key, true
		if bytes.Equal(d, deleted) {
			if v.live != "" {
				return fn(key, nil)
			}
			return nil
		}
		return fn(key, d)
	})
	if errors.Is(err, errPast) {
		return nil
	}
	return err
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
	return errors.Join(drop(ctx, store, SnapshotsTable, prefix), drop(ctx, store, VersionsTable, prefix), drop(ctx, store, SnapshotDocsTable, prefix),
		drop(ctx, store, NewestFirstTable, byPosition(projection, gen)), drop(ctx, store, NewestFirstTable, byTime(projection, gen)))
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
