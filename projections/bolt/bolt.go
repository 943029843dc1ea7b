// Package bolt is the embedded read-model store: one bbolt file beside the
// event log, a bucket per table and one for checkpoints.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

var checkpoints = []byte("_checkpoints")

// Store is a bbolt-backed read-model store.
//
// It is Grouped: bbolt has one writer, and each commit writes its pages
// and syncs the file twice, so a pass that applies a page of events to
// several projections (a catch-up, a rebuild) applies them one after the
// other in one transaction and commits once. Each keeps its own checkpoint
// and fails alone: an update that fails leaves nothing of its own in the
// transaction, and the others commit without it. The live projections
// commit on their own: grouping their concurrent updates was measured
// slower over HTTP (docs/benchmarks.md), the larger commits holding up the
// event log's syncs on the same disk.
type Store struct{ db *bbolt.DB }

// update is one consumer's update in a group.
type update struct {
	consumer string
	fn       func(projections.Tx, eventstore.Position) (eventstore.Position, error)
	done     bool
	err      error
	panicked any
}

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open read models %s (is another shareledger using it?): %w", path, err)
	}
	return &Store{db: db}, nil
}

// Size is how many bytes of the file the read models take.
func (s *Store) Size() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Update implements projections.Store.
func (s *Store) Update(ctx context.Context, consumer string, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	return s.UpdateEach(ctx, []projections.Update{{Consumer: consumer, Fn: fn}})[0]
}

// UpdateEach implements projections.Grouped.
func (s *Store) UpdateEach(ctx context.Context, us []projections.Update) []error {
	group := make([]*update, len(us))
	for i, u := range us {
		group[i] = &update{consumer: u.Consumer, fn: u.Fn}
	}
	s.commit(slices.Clone(group)) // commit shortens its slice as updates fail
	errs := make([]error, len(group))
	for i, u := range group {
		if u.panicked != nil {
			panic(u.panicked)
		}
		errs[i] = u.err
	}
	return errs
}

// errRedo rolls back a group's transaction so that it is done again
// without the update that failed after writing to it.
var errRedo = errors.New("redo the group without a failed update")

// commit applies group in one transaction and marks every update done.
func (s *Store) commit(group []*update) {
	for len(group) > 0 {
		var spoiler *update
		err := s.db.Update(func(btx *bbolt.Tx) error {
			cp, err := btx.CreateBucketIfNotExists(checkpoints)
			if err != nil {
				return err
			}
			appended := map[string]bool{}
			for _, u := range group {
				t := &tx{reader: reader{btx}, pending: map[docKey]*pending{}, appended: appended}
				next, panicked, err := run(u, t, readPosition(cp.Get([]byte(u.consumer))))
				if err == nil {
					if err = t.flush(); err == nil {
						err = cp.Put([]byte(u.consumer), writePosition(next))
					}
					t.wrote = true
				}
				if err == nil && panicked == nil {
					continue
				}
				if errors.Is(err, projections.ErrStopUpdate) {
					err = nil
				}
				u.err, u.panicked = err, panicked
				if t.wrote || panicked != nil {
					spoiler = u
					return errRedo
				}
				u.done = true
			}
			return nil
		})
		if errors.Is(err, errRedo) {
			spoiler.done = true
			group = slices.DeleteFunc(group, func(u *update) bool { return u.done })
			continue
		}
		for _, u := range group {
			if !u.done {
				u.err, u.done = err, true
			}
		}
		return
	}
}

// run calls u's fn, turning a panic into a value that the caller's
// goroutine raises again.
func run(u *update, t *tx, cp eventstore.Position) (next eventstore.Position, panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
		}
	}()
	next, err = u.fn(t, cp)
	return next, nil, err
}

// Checkpoint implements projections.Store.
func (s *Store) Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error) {
	var p eventstore.Position
	err := s.db.View(func(btx *bbolt.Tx) error {
		var err error
		p, err = reader{btx}.Checkpoint(ctx, consumer)
		return err
	})
	return p, err
}

// View implements projections.Store.
func (s *Store) View(ctx context.Context, fn func(projections.Reader) error) error {
	return s.db.View(func(btx *bbolt.Tx) error { return fn(reader{btx}) })
}

type reader struct{ btx *bbolt.Tx }

func (r reader) Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error) {
	if b := r.btx.Bucket(checkpoints); b != nil {
		return readPosition(b.Get([]byte(consumer))), nil
	}
	return eventstore.Position{}, nil
}

func (r reader) Get(ctx context.Context, table, key string, v any) (bool, error) {
	b := r.btx.Bucket([]byte(table))
	if b == nil {
		return false, nil
	}
	doc := b.Get([]byte(key))
	if doc == nil {
		return false, nil
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return true, nil
}

func (r reader) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	b := r.btx.Bucket([]byte(table))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	start := []byte(page.Prefix)
	if page.After != "" && page.After >= page.Prefix {
		start = []byte(page.After)
	}
	n := 0
	for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, []byte(page.Prefix)); k, v = c.Next() {
		if page.After != "" && string(k) <= page.After {
			continue
		}
		if page.Limit > 0 && n >= page.Limit {
			break
		}
		if err := fn(string(k), v); err != nil {
			return err
		}
		n++
	}
	return nil
}

// GetMany implements projections.Batched: the documents as stored, with
// no decoding on the way (the generic fallback decodes each one to check
// it); doc is valid during fn, as with Scan.
func (r reader) GetMany(ctx context.Context, table string, keys []string, fn func(string, []byte) error) error {
	b := r.btx.Bucket([]byte(table))
	if b == nil {
		return nil
	}
	for _, k := range keys {
		if doc := b.Get([]byte(k)); doc != nil {
			if err := fn(k, doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanMany implements projections.Batched.
func (r reader) ScanMany(ctx context.Context, table string, prefixes []string, fn func(string, []byte) error) error {
	return projections.PrefixByPrefix(ctx, r, table, prefixes, fn)
}

// GetTables implements projections.Batched.
func (r reader) GetTables(ctx context.Context, keys []projections.TableKeys, fn func(table, key string, doc []byte) error) error {
	return projections.TableByTable(ctx, r, keys, fn)
}

// tx gathers a transaction's writes in memory, so that a document that a
// page of events changes many times is written to the B+tree once, and
// writes them in key order (which bbolt fills pages best with) when the
// transaction ends, or before a Scan, which must see them.
type tx struct {
	reader
	pending map[docKey]*pending
	// wrote says that writes reached the B+tree before the end.
	wrote bool
	// appended says, of each table this bbolt transaction has written,
	// whether every write came after the table's last key (shared by the
	// updates of a group: a bucket's fill applies when it commits).
	appended map[string]bool
}

type docKey struct{ table, key string }

// pending is a document as this transaction left it, kept decoded where
// it can be (projections.Kept), so that a page of events that changes it
// many times decodes and encodes it once each.
type pending struct {
	doc     projections.Kept
	deleted bool
}

func (t *tx) Get(ctx context.Context, table, key string, v any) (bool, error) {
	p, ok := t.pending[docKey{table, key}]
	if !ok {
		return t.reader.Get(ctx, table, key, v)
	}
	if p.deleted {
		return false, nil
	}
	if err := p.doc.Decode(v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return true, nil
}

// GetMany implements projections.Batched, seeing the transaction's own
// writes.
func (t *tx) GetMany(ctx context.Context, table string, keys []string, fn func(string, []byte) error) error {
	b := t.btx.Bucket([]byte(table))
	for _, k := range keys {
		var doc []byte
		if p, ok := t.pending[docKey{table, k}]; ok && !p.deleted {
			var err error
			if doc, err = p.doc.Bytes(); err != nil {
				return fmt.Errorf("encode %s/%s: %w", table, k, err)
			}
		} else if !ok && b != nil {
			doc = b.Get([]byte(k))
		}
		if doc != nil {
			if err := fn(k, doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanMany implements projections.Batched.
func (t *tx) ScanMany(ctx context.Context, table string, prefixes []string, fn func(string, []byte) error) error {
	return projections.PrefixByPrefix(ctx, t, table, prefixes, fn)
}

// GetTables implements projections.Batched.
func (t *tx) GetTables(ctx context.Context, keys []projections.TableKeys, fn func(table, key string, doc []byte) error) error {
	return projections.TableByTable(ctx, t, keys, fn)
}

func (t *tx) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	if len(t.pending) > 0 {
		t.wrote = true
		if err := t.flush(); err != nil {
			return err
		}
	}
	return t.reader.Scan(ctx, table, page, fn)
}

func (t *tx) Put(ctx context.Context, table, key string, v any) error {
	doc, err := projections.Keep(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	t.pending[docKey{table, key}] = &pending{doc: doc}
	return nil
}

func (t *tx) Delete(ctx context.Context, table, key string) error {
	t.pending[docKey{table, key}] = &pending{deleted: true}
	return nil
}

// flush writes the gathered writes, table by table, in key order.
//
// bbolt rewrites every page a transaction touches and splits what no
// longer fits into pages half full, which suits writes anywhere in a
// table. A table whose writes all come after its last key (the audit
// entries, by position; every table of a rebuild's first page) would
// keep those half-full pages for ever, since no later write lands among
// them: its pages are filled whole instead.
func (t *tx) flush() error {
	byTable := map[string][]string{}
	for k := range t.pending {
		byTable[k.table] = append(byTable[k.table], k.key)
	}
	for _, table := range slices.Sorted(maps.Keys(byTable)) {
		keys := byTable[table]
		slices.Sort(keys)
		b, err := t.btx.CreateBucketIfNotExists([]byte(table))
		if err != nil {
			return err
		}
		last, _ := b.Cursor().Last()
		appended, seen := t.appended[table]
		t.appended[table] = (!seen || appended) && (last == nil || keys[0] > string(last))
		b.FillPercent = bbolt.DefaultFillPercent
		if t.appended[table] {
			b.FillPercent = 1
		}
		for _, key := range keys {
			var err error
			if p := t.pending[docKey{table, key}]; p.deleted {
				err = b.Delete([]byte(key))
			} else {
				var doc []byte
				if doc, err = p.doc.Bytes(); err != nil {
					return fmt.Errorf("encode %s/%s: %w", table, key, err)
				}
				err = b.Put([]byte(key), doc)
			}
			if err != nil {
				return err
			}
		}
	}
	clear(t.pending)
	return nil
}

func readPosition(b []byte) eventstore.Position {
	if len(b) != 16 {
		return eventstore.Position{}
	}
	return eventstore.Position{Commit: binary.BigEndian.Uint64(b[:8]), Prepare: binary.BigEndian.Uint64(b[8:])}
}

func writePosition(p eventstore.Position) []byte {
	b := binary.BigEndian.AppendUint64(nil, p.Commit)
	return binary.BigEndian.AppendUint64(b, p.Prepare)
}

// Snapshot writes a consistent copy of the store to path.
func (s *Store) Snapshot(path string) error {
	return s.db.View(func(tx *bbolt.Tx) error { return tx.CopyFile(path, 0o600) })
}
