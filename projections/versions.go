package projections

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/shareledger/shareledger/eventstore"
)

// Versions is how a transaction keeps the past of a table whose moments
// are snapshotted, copy-on-write: every document it writes is stamped with
// At, and a document it replaces or deletes whose stamp is at or before
// Keep (the latest snapshot) is first kept as a version under that stamp,
// since some snapshot still sees it; a document it deletes also leaves a
// tombstone at At (Tombstones). A document created, or changed again
// before the next snapshot, costs nothing more than its write: the live
// table is the snapshots' newest state, and the versions hold only what
// was replaced since (docs/benchmarks.md).
//
// The document at key as it stood at a snapshot S is then the live one if
// its stamp is at or before S, and otherwise the newest version at or
// before S (none, or a tombstone: there was none).
type Versions struct {
	// At stamps what the transaction writes: a position after its
	// consumer's checkpoint when it began, and at or before the one it
	// commits (the first event it applies).
	At eventstore.Position
	// Keep is the latest snapshot's position; zero keeps nothing.
	Keep eventstore.Position
	// Legacy stands for the stamp of a document written without one.
	Legacy eventstore.Position
	// Into is the table of the versions, and Prefix their keys' prefix:
	// VersionKey(Prefix, key, stamp).
	Into, Prefix string
}

// Versioning is a transaction that keeps versions (every store's).
type Versioning interface {
	// Version declares how table's documents are versioned for the rest
	// of the transaction, before its first write to the table.
	Version(table string, v Versions) error
}

// Declared is what a store's transaction keeps of the Versions declared
// in it; embedded, it makes the transaction Versioning.
type Declared struct{ versions map[string]Versions }

// Version implements Versioning.
func (d *Declared) Version(table string, v Versions) error {
	if d.versions == nil {
		d.versions = map[string]Versions{}
	}
	d.versions[table] = v
	return nil
}

// Versions is how table's documents are versioned, if declared.
func (d *Declared) Versions(table string) (Versions, bool) {
	v, ok := d.versions[table]
	return v, ok
}

// Version declares, in tx, how table's documents are versioned.
func Version(tx Tx, table string, v Versions) error {
	vt, ok := tx.(Versioning)
	if !ok {
		return fmt.Errorf("versions of %s: %T keeps none", table, tx)
	}
	if !v.Keep.Less(v.At) && !v.Keep.IsZero() {
		return fmt.Errorf("versions of %s: the stamp %v is not after the snapshot %v", table, v.At, v.Keep)
	}
	return vt.Version(table, v)
}

// Saves says whether a document stamped at (zero: Legacy) is kept as a
// version when replaced, and under which stamp.
func (v Versions) Saves(at eventstore.Position) (eventstore.Position, bool) {
	if at.IsZero() {
		at = v.Legacy
	}
	return at, !v.Keep.IsZero() && !v.Keep.Less(at)
}

// Tombstones says whether a document deleted leaves a tombstone: not
// while no snapshot sees this table's documents (no Keep) and none of the
// format before holds versions of them (no Legacy), so that a table never
// snapshotted keeps nothing.
func (v Versions) Tombstones() bool { return !v.Keep.IsZero() || !v.Legacy.IsZero() }

// Stamped reads documents with their stamps (Versions.At; zero: written
// without one). Every store's reader is one.
type Stamped interface {
	// GetStamped calls fn with the documents at keys that exist.
	GetStamped(ctx context.Context, table string, keys []string, fn func(key string, doc []byte, at eventstore.Position) error) error
	// ScanStamped is Scan with the stamps.
	ScanStamped(ctx context.Context, table string, page Page, fn func(key string, doc []byte, at eventstore.Position) error) error
}

// StampedReader is r's Stamped, or an error.
func StampedReader(r Reader) (Stamped, error) {
	s, ok := r.(Stamped)
	if !ok {
		return nil, fmt.Errorf("%T reads no stamps", r)
	}
	return s, nil
}

// Keys of versions. A document's key is escaped so that it never holds
// the separator 0x01 (0x01 and 0x02 become 0x02 0x01 and 0x02 0x02, which
// keeps the keys' order); the position after it is inverted, so that the
// newest version comes first, in fixed-width hex, and ends in '.', so that
// "after the key and position p" finds the first version at or before p.
var (
	escapeKey   = strings.NewReplacer("\x02", "\x02\x02", "\x01", "\x02\x01")
	unescapeKey = strings.NewReplacer("\x02\x02", "\x02", "\x02\x01", "\x01")
)

// VersionSuffix is the length of what follows a document's escaped key in
// a version's: 0x01, the inverted position, '.'.
const VersionSuffix = 1 + 32 + 1

// EscapeVersionKey escapes a document's key as version keys hold it.
func EscapeVersionKey(key string) string { return escapeKey.Replace(key) }

// UnescapeVersionKey is EscapeVersionKey undone.
func UnescapeVersionKey(key string) string { return unescapeKey.Replace(key) }

// InvertedPosition is p as version keys hold it.
func InvertedPosition(p eventstore.Position) string {
	return fmt.Sprintf("%016x%016x", ^p.Commit, ^p.Prepare)
}

// InvertedBytes is p inverted, as 16 bytes, big-endian: hex-encoded, it
// is InvertedPosition(p), and bytes compare as the positions do, reversed.
func InvertedBytes(p eventstore.Position) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), ^p.Commit)
	return binary.BigEndian.AppendUint64(b, ^p.Prepare)
}

// FromInvertedBytes is InvertedBytes undone (zero for anything not 16
// bytes long).
func FromInvertedBytes(b []byte) eventstore.Position {
	if len(b) != 16 {
		return eventstore.Position{}
	}
	return eventstore.Position{Commit: ^binary.BigEndian.Uint64(b[:8]), Prepare: ^binary.BigEndian.Uint64(b[8:])}
}

// VersionKey is the key of key's version at position at.
func VersionKey(prefix, key string, at eventstore.Position) string {
	return prefix + escapeKey.Replace(key) + "\x01" + InvertedPosition(at) + "."
}

// Tombstone is the version of a document deleted.
var Tombstone = Encoded("null")

// StampedFirsts is a reader that reads documents with their stamps and
// the first document of each of some pages at once: on PostgreSQL in one
// round trip, where a point-in-time answer, which needs both for every
// document it reads (the live one and, if it changed since, its version),
// took two.
type StampedFirsts interface {
	StampedFirsts(ctx context.Context, gets []TableKeys, firsts []TablePage,
		got func(table, key string, doc []byte, at eventstore.Position) error, first func(i int, key string, doc []byte) error) error
}

// ReadStampedFirsts calls got with the documents at gets that exist and
// their stamps, and first with the first document of each of firsts (a
// page's Limit is taken as 1) and the page's index: at once where r is a
// StampedFirsts, else one read after the other.
func ReadStampedFirsts(ctx context.Context, r Reader, gets []TableKeys, firsts []TablePage,
	got func(table, key string, doc []byte, at eventstore.Position) error, first func(i int, key string, doc []byte) error) error {
	if sf, ok := r.(StampedFirsts); ok {
		return sf.StampedFirsts(ctx, gets, firsts, got, first)
	}
	if len(gets) > 0 {
		sr, err := StampedReader(r)
		if err != nil {
			return err
		}
		for _, g := range gets {
			err := sr.GetStamped(ctx, g.Table, g.Keys, func(k string, d []byte, at eventstore.Position) error { return got(g.Table, k, d, at) })
			if err != nil {
				return err
			}
		}
	}
	pages := make([]TablePage, len(firsts))
	for i, p := range firsts {
		p.Limit = 1
		pages[i] = p
	}
	return ScanPages(ctx, r, pages, first)
}
