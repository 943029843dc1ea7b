// Package memory is a read-model store held in memory, over an optional
// read-only base: documents that do not change while the store lives, read
// on demand and never copied. A Layer is a base held in memory; replay's
// point-in-time answers lie over the snapshots in the read-model store,
// read by key as the answer needs them, and replay the few events after
// the snapshots into the store's own changes.
package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Layer is an immutable set of documents and checkpoints. A layer may lie
// over a parent: then it holds only what changed since the parent, and a
// nil document is a deletion.
type Layer struct {
	tables      map[string]*run
	checkpoints map[string]eventstore.Position
}

// run is one table's documents in one layer, sorted by key, over the
// table's run in the parent layer.
type run struct {
	entries []entry
	parent  *run
}

type entry struct {
	key string
	doc []byte // nil: deleted
}

func (r *run) get(key string) ([]byte, bool) {
	for ; r != nil; r = r.parent {
		i := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].key >= key })
		if i < len(r.entries) && r.entries[i].key == key {
			return r.entries[i].doc, r.entries[i].doc != nil
		}
	}
	return nil, false
}

// collect lists the live documents whose keys start with prefix and sort
// after after, in key order: each layer's entries win over its parent's.
func (r *run) collect(prefix, after string) []entry {
	if r == nil {
		return nil
	}
	below := r.parent.collect(prefix, after)
	i := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].key >= prefix && r.entries[i].key > after })
	var own []entry
	for ; i < len(r.entries) && strings.HasPrefix(r.entries[i].key, prefix); i++ {
		own = append(own, r.entries[i])
	}
	if len(own) == 0 && r.parent != nil {
		return below
	}
	out := make([]entry, 0, len(own)+len(below))
	j := 0
	for _, e := range own {
		for j < len(below) && below[j].key < e.key {
			out = append(out, below[j])
			j++
		}
		if j < len(below) && below[j].key == e.key {
			j++
		}
		if e.doc != nil {
			out = append(out, e)
		}
	}
	return append(out, below[j:]...)
}

func sortedRun(kv map[string][]byte, parent *run) *run {
	es := make([]entry, 0, len(kv))
	for k, d := range kv {
		es = append(es, entry{k, d})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return &run{entries: es, parent: parent}
}

// NewLayer builds a layer of docs (table → key → JSON document) and
// checkpoints. It keeps the maps' byte slices: callers must not change
// them afterwards.
func NewLayer(docs map[string]map[string][]byte, checkpoints map[string]eventstore.Position) *Layer {
	return (&Layer{}).With(docs, checkpoints)
}

// With is a layer of changes over l: docs replace l's documents, nil
// documents delete them; l itself is shared, not copied.
func (l *Layer) With(docs map[string]map[string][]byte, checkpoints map[string]eventstore.Position) *Layer {
	out := &Layer{tables: map[string]*run{}, checkpoints: map[string]eventstore.Position{}}
	for t, r := range l.tables {
		out.tables[t] = r
	}
	for c, p := range l.checkpoints {
		out.checkpoints[c] = p
	}
	for t, kv := range docs {
		out.tables[t] = sortedRun(kv, l.tables[t])
	}
	for c, p := range checkpoints {
		out.checkpoints[c] = p
	}
	return out
}

// Base is what a Store lies over: documents and checkpoints that do not
// change while the store lives.
type Base interface {
	// Doc is the document at table/key, if there is one.
	Doc(ctx context.Context, table, key string) ([]byte, bool, error)
	// Each calls fn with the documents of table whose keys start with
	// prefix and sort after after, in key order, until fn returns an
	// error, which Each returns.
	Each(ctx context.Context, table, prefix, after string, fn func(key string, doc []byte) error) error
	// Checkpoint is a consumer's position in the base.
	Checkpoint(consumer string) eventstore.Position
}

// ManyBase is a Base that can read many documents at once (a past model
// read from PostgreSQL: one query instead of one a document), for the
// reads a projection names ahead (projections.Prefetcher).
type ManyBase interface {
	Base
	// Docs calls fn with the documents at keys that the base holds.
	Docs(ctx context.Context, keys []projections.TableKeys, fn func(table, key string, doc []byte) error) error
	// Remote says whether reading ahead saves anything (projections.Remote):
	// if not, documents are read when they are needed.
	Remote() bool
}

// Doc implements Base: the document at table/key in l or its parents.
func (l *Layer) Doc(_ context.Context, table, key string) ([]byte, bool, error) {
	d, ok := l.tables[table].get(key)
	return d, ok, nil
}

// Each implements Base.
func (l *Layer) Each(_ context.Context, table, prefix, after string, fn func(key string, doc []byte) error) error {
	for _, e := range l.tables[table].collect(prefix, after) {
		if err := fn(e.key, e.doc); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint implements Base.
func (l *Layer) Checkpoint(consumer string) eventstore.Position { return l.checkpoints[consumer] }

// Store is an in-memory read-model store.
type Store struct {
	mu          sync.RWMutex
	base        Base
	tables      map[string]map[string][]byte // a nil document is a deletion
	checkpoints map[string]eventstore.Position
	// fetched are the base's documents read ahead (nil: the base has
	// none), which never change: the base is a model as it stood.
	fetched map[string]map[string][]byte
	// stamps are the stamps of documents written with one
	// (projections.Versions).
	stamps map[string]map[string]eventstore.Position
	closed bool
}

// New returns an empty store over base (nil: no base).
func New(base Base) *Store {
	if base == nil {
		base = NewLayer(nil, nil)
	}
	return &Store{base: base, tables: map[string]map[string][]byte{}, checkpoints: map[string]eventstore.Position{}}
}

var errClosed = errors.New("memory read models: closed")

// Update implements projections.Store.
func (s *Store) Update(ctx context.Context, consumer string, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	t := &tx{view: view{s}, pending: map[string]map[string]*projections.Kept{}}
	next, err := fn(t, s.checkpoint(consumer))
	if errors.Is(err, projections.ErrStopUpdate) {
		return nil
	}
	if err != nil {
		return err
	}
	// Every document is encoded before any is committed.
	written := make(map[string]map[string][]byte, len(t.pending))
	for table := range t.pending {
		if written[table], err = t.written(table); err != nil {
			return err
		}
	}
	stamps := map[string]map[string]eventstore.Position{}
	for _, table := range slices.Collect(maps.Keys(written)) {
		if v, ok := t.Versions(table); ok && len(written[table]) > 0 {
			if stamps[table], err = s.keepVersions(ctx, table, v, written); err != nil {
				return err
			}
		}
	}
	// A document written takes its stamp, or loses the one it had.
	for table, kv := range written {
		mine := stamps[table]
		if mine == nil && s.stamps[table] == nil {
			continue
		}
		if s.stamps[table] == nil {
			if s.stamps == nil {
				s.stamps = map[string]map[string]eventstore.Position{}
			}
			s.stamps[table] = map[string]eventstore.Position{}
		}
		for k := range kv {
			if at, ok := mine[k]; ok {
				s.stamps[table][k] = at
			} else {
				delete(s.stamps[table], k)
			}
		}
	}
	for table, kv := range written {
		dst := s.tables[table]
		if dst == nil {
			dst = map[string][]byte{}
			s.tables[table] = dst
		}
		for k, d := range kv {
			dst[k] = d
		}
	}
	s.checkpoints[consumer] = next
	return nil
}

// keepVersions adds to written the versions that its writes to table
// keep (projections.Versions), and says what they stamp.
func (s *Store) keepVersions(ctx context.Context, table string, v projections.Versions, written map[string]map[string][]byte) (map[string]eventstore.Position, error) {
	into := written[v.Into]
	if into == nil {
		into = map[string][]byte{}
		written[v.Into] = into
	}
	stamps := map[string]eventstore.Position{}
	for k, d := range written[table] {
		old, found, err := view{s}.lookup(ctx, table, k)
		if err != nil {
			return nil, err
		}
		if found {
			if at, ok := v.Saves(s.stamps[table][k]); ok {
				into[projections.VersionKey(v.Prefix, k, at)] = old
			}
			if d == nil && v.Tombstones() {
				into[projections.VersionKey(v.Prefix, k, v.At)] = projections.Tombstone
			}
		}
		if d != nil {
			stamps[k] = v.At
		}
	}
	return stamps, nil
}

func (s *Store) checkpoint(consumer string) eventstore.Position {
	if p, ok := s.checkpoints[consumer]; ok {
		return p
	}
	return s.base.Checkpoint(consumer)
}

// Checkpoint implements projections.Store.
func (s *Store) Checkpoint(_ context.Context, consumer string) (eventstore.Position, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkpoint(consumer), nil
}

// View implements projections.Store.
func (s *Store) View(_ context.Context, fn func(projections.Reader) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	return fn(view{s})
}

// Close implements projections.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// view reads committed documents; the caller holds the lock.
type view struct{ s *Store }

func (v view) Checkpoint(_ context.Context, consumer string) (eventstore.Position, error) {
	return v.s.checkpoint(consumer), nil
}

func (v view) lookup(ctx context.Context, table, key string) ([]byte, bool, error) {
	if d, ok := v.s.tables[table][key]; ok {
		return d, d != nil, nil
	}
	if d, ok := v.s.fetched[table][key]; ok {
		return d, d != nil, nil
	}
	return v.s.base.Doc(ctx, table, key)
}

func (v view) Get(ctx context.Context, table, key string, out any) (bool, error) {
	d, ok, err := v.lookup(ctx, table, key)
	if !ok || err != nil {
		return false, err
	}
	return true, json.Unmarshal(d, out)
}

func (v view) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	return v.scan(ctx, table, page, nil, fn)
}

// errEnough stops the base's Each once a page is full.
var errEnough = errors.New("memory read models: page full")

// scan merges the base's documents with the committed and pending changes
// (pending wins) in key order, reading the base only as far as the page
// needs.
func (v view) scan(ctx context.Context, table string, page projections.Page, pending map[string][]byte, fn func(string, []byte) error) error {
	in := func(k string) bool { return strings.HasPrefix(k, page.Prefix) && k > page.After }
	changed := map[string][]byte{}
	for _, kv := range []map[string][]byte{v.s.tables[table], pending} {
		for k, d := range kv {
			if in(k) {
				changed[k] = d
			}
		}
	}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n := 0
	emit := func(k string, d []byte) error {
		if d == nil {
			return nil
		}
		if err := fn(k, d); err != nil {
			return err
		}
		if n++; page.Limit > 0 && n >= page.Limit {
			return errEnough
		}
		return nil
	}
	j := 0
	err := v.s.base.Each(ctx, table, page.Prefix, page.After, func(k string, d []byte) error {
		for ; j < len(keys) && keys[j] < k; j++ {
			if err := emit(keys[j], changed[keys[j]]); err != nil {
				return err
			}
		}
		if j < len(keys) && keys[j] == k {
			j++
			return emit(k, changed[k])
		}
		return emit(k, d)
	})
	for ; err == nil && j < len(keys); j++ {
		err = emit(keys[j], changed[keys[j]])
	}
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// tx gathers a transaction's writes, kept decoded where they can be
// (projections.Kept; nil: deleted), so that a page of events that reads
// and writes a document many times decodes and encodes it once each.
type tx struct {
	view
	pending map[string]map[string]*projections.Kept
	// the tables whose documents it stamps and keeps versions of
	projections.Declared
}

// GetStamped implements projections.Stamped.
func (v view) GetStamped(ctx context.Context, table string, keys []string, fn func(string, []byte, eventstore.Position) error) error {
	for _, k := range keys {
		d, ok, err := v.lookup(ctx, table, k)
		if err != nil {
			return err
		}
		if ok {
			if err := fn(k, d, v.s.stamps[table][k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanStamped implements projections.Stamped.
func (v view) ScanStamped(ctx context.Context, table string, page projections.Page, fn func(string, []byte, eventstore.Position) error) error {
	return v.Scan(ctx, table, page, func(k string, d []byte) error { return fn(k, d, v.s.stamps[table][k]) })
}

func (t *tx) Get(ctx context.Context, table, key string, out any) (bool, error) {
	if k, ok := t.pending[table][key]; ok {
		if k == nil {
			return false, nil
		}
		return true, k.Decode(out)
	}
	return t.view.Get(ctx, table, key, out)
}

func (t *tx) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	mine, err := t.written(table)
	if err != nil {
		return err
	}
	return t.scan(ctx, table, page, mine, fn)
}

// written is the documents of table that the transaction wrote, encoded
// (nil: deleted).
func (t *tx) written(table string) (map[string][]byte, error) {
	if len(t.pending[table]) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(t.pending[table]))
	for key, k := range t.pending[table] {
		if k == nil {
			out[key] = nil
			continue
		}
		d, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("encode %s/%s: %w", table, key, err)
		}
		out[key] = d
	}
	return out, nil
}

// Prefetch implements projections.Prefetching where the base is a
// ManyBase: the base's documents at keys that neither the transaction nor
// the store holds are read at once and kept (the store's lock is held).
func (t *tx) Prefetch(ctx context.Context, keys []projections.TableKeys) error {
	many, ok := t.s.base.(ManyBase)
	if !ok || !many.Remote() {
		return nil
	}
	var fresh []projections.TableKeys
	for _, tk := range keys {
		var ks []string
		for _, k := range tk.Keys {
			_, mine := t.pending[tk.Table][k]
			_, committed := t.s.tables[tk.Table][k]
			_, fetched := t.s.fetched[tk.Table][k]
			if !mine && !committed && !fetched {
				ks = append(ks, k)
			}
		}
		if len(ks) > 0 {
			fresh = append(fresh, projections.TableKeys{Table: tk.Table, Keys: ks})
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	got := map[string]map[string][]byte{}
	err := many.Docs(ctx, fresh, func(table, key string, doc []byte) error {
		if got[table] == nil {
			got[table] = map[string][]byte{}
		}
		got[table][key] = slices.Clone(doc)
		return nil
	})
	if err != nil {
		return err
	}
	if t.s.fetched == nil {
		t.s.fetched = map[string]map[string][]byte{}
	}
	for _, tk := range fresh {
		if t.s.fetched[tk.Table] == nil {
			t.s.fetched[tk.Table] = map[string][]byte{}
		}
		for _, k := range tk.Keys {
			t.s.fetched[tk.Table][k] = got[tk.Table][k] // nil: absent
		}
	}
	return nil
}

func (t *tx) Put(_ context.Context, table, key string, v any) error {
	k, err := projections.Keep(v)
	if err != nil {
		return err
	}
	t.set(table, key, &k)
	return nil
}

func (t *tx) Delete(_ context.Context, table, key string) error {
	t.set(table, key, nil)
	return nil
}

func (t *tx) set(table, key string, k *projections.Kept) {
	kv := t.pending[table]
	if kv == nil {
		kv = map[string]*projections.Kept{}
		t.pending[table] = kv
	}
	kv[key] = k
}
