package projections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shareledger/shareledger/eventstore"
)

// Reader reads read-model documents: JSON values under string keys, grouped
// in tables, scanned in key order.
type Reader interface {
	// Get decodes the document at table/key into v; false if there is none.
	Get(ctx context.Context, table, key string, v any) (bool, error)
	// Scan calls fn with the documents of table whose keys start with
	// page.Prefix and sort after page.After, in key order, at most
	// page.Limit of them (0: all).
	Scan(ctx context.Context, table string, page Page, fn func(key string, doc []byte) error) error
	// Checkpoint is the position a consumer had committed in this snapshot.
	Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error)
}

// Page selects a run of keys.
type Page struct {
	Prefix string
	After  string
	Limit  int
}

// Encoded is a document already encoded as JSON, which Put stores as it
// is: a projection that writes the same document under several keys (the
// audit index files an event under each entity it names) encodes it once.
// It must be valid JSON; Encode checks nothing more for it.
type Encoded []byte

// Fresh is a document put under a key that the caller knows holds none
// (its key names a position written with the checkpoint, say): a store
// may write it more cheaply, and PostgreSQL does, with a plain INSERT
// where a Put is an upsert (nearly a third less of the server's work
// a row, docs/benchmarks.md). Put(ctx, table, key, Fresh{V: v}) is
// otherwise Put(ctx, table, key, v). Where the key does hold a document,
// PostgreSQL fails the transaction; the other stores replace it.
type Fresh struct{ V any }

// Encode is how stores turn what Put is given into a document.
func Encode(v any) ([]byte, error) {
	if f, ok := v.(Fresh); ok {
		v = f.V
	}
	if d, ok := v.(Encoded); ok {
		return d, nil
	}
	return json.Marshal(v)
}

// Tx changes read-model documents inside one transaction.
type Tx interface {
	Reader
	Put(ctx context.Context, table, key string, v any) error
	Delete(ctx context.Context, table, key string) error
}

// Store is the read-model storage port. A consumer's changes and its
// checkpoint commit in one transaction, so that a crash never applies an
// event twice or skips one.
type Store interface {
	// Update runs fn in one transaction with the consumer's checkpoint; fn
	// returns the new checkpoint, which commits with its changes.
	Update(ctx context.Context, consumer string, fn func(tx Tx, checkpoint eventstore.Position) (eventstore.Position, error)) error
	// Checkpoint is the position a consumer has committed.
	Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error)
	// View runs fn on a consistent snapshot. fn must not call the Store
	// itself: embedded stores may deadlock on a nested transaction.
	View(ctx context.Context, fn func(r Reader) error) error
	Close() error
}

// Update is one consumer's update, for a Grouped store.
type Update struct {
	Consumer string
	Fn       func(Tx, eventstore.Position) (eventstore.Position, error)
}

// Grouped is a Store that applies the updates of several consumers
// together, each with its own checkpoint and each failing alone, as if
// each had been its own Update: the embedded store commits them in one
// transaction (a pass that applies a page of events to several projections
// commits once), PostgreSQL runs them at once, each in a transaction of its
// own (so that neither the server nor this process waits on the other
// for each in turn). The consumers own distinct tables
// (projections never read each other's): each update reads the models as
// committed before the group, and its own writes, and may not see what
// the group's other updates write, so that a store may apply them at once.
type Grouped interface {
	UpdateEach(ctx context.Context, us []Update) []error
}

// UpdateEach applies us, each as its own Update; a Grouped store applies
// them together (Grouped). The error of each is at its index.
func UpdateEach(ctx context.Context, store Store, us []Update) []error {
	if len(us) == 0 {
		return nil
	}
	if g, ok := store.(Grouped); ok {
		return g.UpdateEach(ctx, us)
	}
	errs := make([]error, len(us))
	for i, u := range us {
		errs[i] = store.Update(ctx, u.Consumer, u.Fn)
	}
	return errs
}

// Ahead is a Grouped store that applies a group of updates while the group
// before it commits: a rebuild's page is applied as the page before it is
// written, where one after the other each waits for the other. Each update
// of the group reads, through its transaction, what the update of the same
// consumer in the group before wrote, committed or not yet (nothing of one
// that stopped, ErrStopUpdate); the groups commit in order. If an update
// fails, in its fn or at its commit, every later update of its consumer
// fails too: it read what was not written.
//
// The live projections do not use it: a reader after an update expects the
// update committed, so Update returns once its own update has committed
// (a store may apply it ahead of others' commits, and commit it with
// them), and UpdateEach waits for the groups ahead first. An update that
// is over, committed or failed, when Update is called again is not read
// from and does not fail the next.
type Ahead interface {
	Grouped
	// UpdateEachAhead applies us and returns once they are applied (their
	// fns have returned); their commit follows in the background, after the
	// group before. wait returns their errors once they are committed or
	// have failed.
	UpdateEachAhead(ctx context.Context, us []Update) (wait func() []error)
}

// UpdateEachAhead applies us while the group before commits where store is
// Ahead; on any other store, it applies and commits them (UpdateEach)
// before it returns.
func UpdateEachAhead(ctx context.Context, store Store, us []Update) (wait func() []error) {
	if a, ok := store.(Ahead); ok && len(us) > 0 {
		return a.UpdateEachAhead(ctx, us)
	}
	errs := UpdateEach(ctx, store, us)
	return func() []error { return errs }
}

// ErrStopUpdate, returned by an Update's fn, rolls the transaction back
// without an error: nothing was left to do.
var ErrStopUpdate = errors.New("nothing to update")

// MaxKeyPart is the longest part of a read-model key that is kept as it is.
// Commands bound every identifier they accept (domain.MaxID, MaxEmail), but
// the log is forever and may hold events appended before those bounds: a
// longer part is folded (see KeyPart), so no key exceeds what every store
// holds (bbolt refuses keys over 32 KiB, a PostgreSQL index entry over about
// 2.7 KB) whatever an event carries.
const MaxKeyPart = 256

// KeyPart is one part of a read-model key: s itself when it is at most
// MaxKeyPart bytes of valid UTF-8 and holds no '/' (the separator of parts)
// and no NUL (which PostgreSQL's text cannot hold); otherwise a
// readable head of s and a hash of all of it, which is as unique as s. A
// projection that must know the original value keeps it in the document,
// never parses it back out of a key.
func KeyPart(s string) string {
	if len(s) <= MaxKeyPart && plainPart(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	head := strings.Map(func(r rune) rune {
		if r == '/' || r == utf8.RuneError || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s[:min(len(s), 64)])
	return head + "~" + hex.EncodeToString(sum[:16])
}

// plainPart says whether s is valid UTF-8 without '/' or NUL: one pass
// over its bytes (neither byte occurs inside a multi-byte character), and
// a check of its encoding only if it is not ASCII.
func plainPart(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '/' || c == 0:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// Key joins key parts with '/', each made safe by KeyPart.
func Key(parts ...string) string {
	var buf [8]string
	safe, n := buf[:0], len(parts)
	for _, p := range parts {
		safe = append(safe, KeyPart(p))
		n += len(safe[len(safe)-1])
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range safe {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}

// SetMember is the id that a document of a set (a table whose keys name its
// members) stands for: the id the document holds, since a folded key part
// (KeyPart) cannot be read back; or, for a document written before sets
// held their ids (the JSON true), the rest of its key after prefix.
func SetMember(key, prefix string, doc []byte) (string, error) {
	if len(doc) > 0 && doc[0] == '"' {
		var id string
		err := json.Unmarshal(doc, &id)
		return id, err
	}
	return strings.TrimPrefix(key, prefix), nil
}
