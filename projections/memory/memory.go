// Package memory is a read-model store held in memory, over an optional
// read-only base layer: a snapshot loaded once and shared by every store
// built on it. Point-in-time answers replay the few events after a snapshot
// into such a store; the snapshot itself is never copied.
package memory

import (
	"context"
	"encoding/json"
	"errors"
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
	size        int // bytes of this layer's own documents
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

func sortedRun(kv map[string][]byte, parent *run) (*run, int) {
	es := make([]entry, 0, len(kv))
	size := 0
	for k, d := range kv {
		es = append(es, entry{k, d})
		size += len(k) + len(d)
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return &run{entries: es, parent: parent}, size
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
		var n int
		out.tables[t], n = sortedRun(kv, l.tables[t])
		out.size += n
	}
	for c, p := range checkpoints {
		out.checkpoints[c] = p
	}
	return out
}

// Doc is the document at table/key in l or its parents.
func (l *Layer) Doc(table, key string) ([]byte, bool) { return l.tables[table].get(key) }

// Each calls fn with every document of table in l and its parents, in key
// order.
func (l *Layer) Each(table string, fn func(key string, doc []byte)) {
	for _, e := range l.tables[table].collect("", "") {
		fn(e.key, e.doc)
	}
}

// Merge is one layer of the tables and checkpoints of several; where
// they hold the same table, the later one wins. It shares their documents.
func Merge(layers ...*Layer) *Layer {
	out := &Layer{tables: map[string]*run{}, checkpoints: map[string]eventstore.Position{}}
	for _, l := range layers {
		for t, r := range l.tables {
			out.tables[t] = r
		}
		for c, p := range l.checkpoints {
			out.checkpoints[c] = p
		}
		out.size += l.size
	}
	return out
}

// Bytes is roughly how much memory the layer's own documents take (not
// its parent's).
func (l *Layer) Bytes() int {
	if l == nil {
		return 0
	}
	return l.size
}

// Store is an in-memory read-model store.
type Store struct {
	mu          sync.RWMutex
	base        *Layer
	tables      map[string]map[string][]byte // a nil document is a deletion
	checkpoints map[string]eventstore.Position
	closed      bool
}

// New returns an empty store over base (nil: no base).
func New(base *Layer) *Store {
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
	t := &tx{view: view{s}, pending: map[string]map[string][]byte{}}
	next, err := fn(t, s.checkpoint(consumer))
	if errors.Is(err, projections.ErrStopUpdate) {
		return nil
	}
	if err != nil {
		return err
	}
	for table, kv := range t.pending {
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

func (s *Store) checkpoint(consumer string) eventstore.Position {
	if p, ok := s.checkpoints[consumer]; ok {
		return p
	}
	return s.base.checkpoints[consumer]
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

func (v view) lookup(table, key string) ([]byte, bool) {
	if d, ok := v.s.tables[table][key]; ok {
		return d, d != nil
	}
	return v.s.base.tables[table].get(key)
}

func (v view) Get(_ context.Context, table, key string, out any) (bool, error) {
	d, ok := v.lookup(table, key)
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(d, out)
}

func (v view) Scan(_ context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	return scan(page, v.s.base.tables[table].collect(page.Prefix, page.After), v.s.tables[table], nil, fn)
}

// scan merges the base entries (already limited to the page's prefix and
// after) with the committed and pending changes (pending wins) in key
// order.
func scan(page projections.Page, base []entry, committed, pending map[string][]byte, fn func(string, []byte) error) error {
	in := func(k string) bool { return strings.HasPrefix(k, page.Prefix) && k > page.After }
	changed := map[string][]byte{}
	for _, kv := range []map[string][]byte{committed, pending} {
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
	i, n := 0, 0
	emit := func(k string, d []byte) (bool, error) {
		if d == nil {
			return true, nil
		}
		if err := fn(k, d); err != nil {
			return false, err
		}
		n++
		return page.Limit <= 0 || n < page.Limit, nil
	}
	j := 0
	for {
		baseOK := i < len(base)
		var k string
		var d []byte
		switch {
		case !baseOK && j == len(keys):
			return nil
		case !baseOK || (j < len(keys) && keys[j] <= base[i].key):
			k, d = keys[j], changed[keys[j]]
			if baseOK && keys[j] == base[i].key {
				i++
			}
			j++
		default:
			k, d = base[i].key, base[i].doc
			i++
		}
		more, err := emit(k, d)
		if err != nil || !more {
			return err
		}
	}
}

type tx struct {
	view
	pending map[string]map[string][]byte
}

func (t *tx) Get(ctx context.Context, table, key string, out any) (bool, error) {
	if d, ok := t.pending[table][key]; ok {
		if d == nil {
			return false, nil
		}
		return true, json.Unmarshal(d, out)
	}
	return t.view.Get(ctx, table, key, out)
}

func (t *tx) Scan(_ context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	return scan(page, t.s.base.tables[table].collect(page.Prefix, page.After), t.s.tables[table], t.pending[table], fn)
}

func (t *tx) Put(_ context.Context, table, key string, v any) error {
	d, err := json.Marshal(v)
	if err != nil {
		return err
	}
	t.set(table, key, d)
	return nil
}

func (t *tx) Delete(_ context.Context, table, key string) error {
	t.set(table, key, nil)
	return nil
}

func (t *tx) set(table, key string, d []byte) {
	kv := t.pending[table]
	if kv == nil {
		kv = map[string][]byte{}
		t.pending[table] = kv
	}
	kv[key] = d
}
