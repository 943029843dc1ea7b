package domain

import (
	"hash/maphash"
	"iter"
	"maps"
	"sync/atomic"
)

// Table is a map that an aggregate keeps its state in. Every command
// decides on a copy of its aggregate (Clone), and a copy of a Go map costs
// as much as the map holds: a fleet of 100,000 vehicles cost every command
// on it milliseconds, however little the command changed. A Table's copy
// shares what neither side has changed since, so it costs the same however
// much the table holds; a change copies only the part of the table it
// touches (about 1/4096th of it, once it is large). Each copy's changes
// are its own.
//
// A Table is used like a map by one goroutine at a time; copies may be
// taken (Clone) and read from several at once, as the command cache does
// with a state it holds. The zero Table is empty and ready to use.
type Table[K comparable, V any] struct {
	small map[K]V          // the entries while there are few
	root  *tableRoot[K, V] // the entries once there are more
	n     int
	// edit marks the nodes this table made and may still change in
	// place; nil, or marked shared by a Clone, until its next change.
	edit *tableEdit
}

// tableEdit marks the nodes one table made. Clone marks it shared, and
// from then on neither table changes those nodes: each copies what it
// changes.
type tableEdit struct{ shared atomic.Bool }

const (
	// smallTable is the most entries a table keeps in one map, copied
	// whole by Clone.
	smallTable = 32
	// tableFan is the children of a node: two levels of them make 4096
	// leaves, each a map.
	tableFan = 64
)

type tableRoot[K comparable, V any] struct {
	edit *tableEdit
	mids [tableFan]*tableMid[K, V]
}

type tableMid[K comparable, V any] struct {
	edit   *tableEdit
	leaves [tableFan]*tableLeaf[K, V]
}

type tableLeaf[K comparable, V any] struct {
	edit *tableEdit
	m    map[K]V
}

// tableSeed hashes keys to their leaves, for this process: a table is
// never stored as it is laid out.
var tableSeed = maphash.MakeSeed()

// slots are the children that lead to k's leaf.
func slots[K comparable](k K) (int, int) {
	h := maphash.Comparable(tableSeed, k)
	return int(h % tableFan), int(h / tableFan % tableFan)
}

// TableOf is a table of m's entries (a state restored from a snapshot:
// its leaves are filled at once).
func TableOf[K comparable, V any](m map[K]V) Table[K, V] {
	if len(m) == 0 {
		return Table[K, V]{}
	}
	if len(m) <= smallTable {
		return Table[K, V]{small: maps.Clone(m), n: len(m)}
	}
	edit := &tableEdit{}
	root := &tableRoot[K, V]{edit: edit}
	for k, v := range m {
		i, j := slots(k)
		mid := root.mids[i]
		if mid == nil {
			mid = &tableMid[K, V]{edit: edit}
			root.mids[i] = mid
		}
		leaf := mid.leaves[j]
		if leaf == nil {
			leaf = &tableLeaf[K, V]{edit: edit, m: make(map[K]V, len(m)/(tableFan*tableFan)+1)}
			mid.leaves[j] = leaf
		}
		leaf.m[k] = v
	}
	return Table[K, V]{root: root, n: len(m), edit: edit}
}

// Len is the number of entries.
func (t *Table[K, V]) Len() int { return t.n }

// Get is the value of k, and whether the table holds it.
func (t *Table[K, V]) Get(k K) (V, bool) {
	if t.root == nil {
		v, ok := t.small[k]
		return v, ok
	}
	i, j := slots(k)
	if mid := t.root.mids[i]; mid != nil {
		if leaf := mid.leaves[j]; leaf != nil {
			v, ok := leaf.m[k]
			return v, ok
		}
	}
	var zero V
	return zero, false
}

// Has says whether the table holds k.
func (t *Table[K, V]) Has(k K) bool {
	_, ok := t.Get(k)
	return ok
}

// Set sets k's value.
func (t *Table[K, V]) Set(k K, v V) {
	if t.root == nil {
		_, had := t.small[k]
		if had || len(t.small) < smallTable {
			if t.small == nil {
				t.small = map[K]V{}
			}
			if !had {
				t.n++
			}
			t.small[k] = v
			return
		}
		small := t.small
		t.small, t.n = nil, 0
		t.root = &tableRoot[K, V]{edit: t.own()}
		for k, v := range small {
			t.Set(k, v)
		}
	}
	leaf := t.leaf(k)
	if _, had := leaf.m[k]; !had {
		t.n++
	}
	leaf.m[k] = v
}

// Delete removes k.
func (t *Table[K, V]) Delete(k K) {
	if !t.Has(k) {
		return
	}
	t.n--
	if t.root == nil {
		if delete(t.small, k); len(t.small) == 0 {
			t.small = nil // as the zero table, which a restored state starts from
		}
		return
	}
	delete(t.leaf(k).m, k)
}

// Clone is a copy of the table that shares what neither side changes
// later: it costs the same however much the table holds (a small table is
// copied whole). It may be called while others read or clone the table,
// but not while it changes.
func (t *Table[K, V]) Clone() Table[K, V] {
	if t.root == nil {
		return Table[K, V]{small: maps.Clone(t.small), n: t.n}
	}
	if t.edit != nil {
		t.edit.shared.Store(true)
	}
	return Table[K, V]{root: t.root, n: t.n}
}

// All is the table's entries, in no particular order.
func (t *Table[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if t.root == nil {
			for k, v := range t.small {
				if !yield(k, v) {
					return
				}
			}
			return
		}
		for _, mid := range t.root.mids {
			if mid == nil {
				continue
			}
			for _, leaf := range mid.leaves {
				if leaf == nil {
					continue
				}
				for k, v := range leaf.m {
					if !yield(k, v) {
						return
					}
				}
			}
		}
	}
}

// Count adds d to k's count in t, leaving out keys that count nothing:
// how aggregates keep what a rule would otherwise count by reading the
// whole state (the holders of a role, a node's children).
func Count[K comparable](t *Table[K, int], k K, d int) {
	n, _ := t.Get(k)
	if n += d; n == 0 {
		t.Delete(k)
		return
	}
	t.Set(k, n)
}

// Map is the table's entries as a map of their own.
func (t *Table[K, V]) Map() map[K]V {
	m := make(map[K]V, t.n)
	for k, v := range t.All() {
		m[k] = v
	}
	return m
}

// own is the mark of the nodes this table may change in place: a new one
// if it has none, or if its nodes have been shared since it made them.
func (t *Table[K, V]) own() *tableEdit {
	if t.edit == nil || t.edit.shared.Load() {
		t.edit = &tableEdit{}
	}
	return t.edit
}

// leaf is k's leaf, made or copied so that this table may change it in
// place, with the nodes on the way to it.
func (t *Table[K, V]) leaf(k K) *tableLeaf[K, V] {
	edit := t.own()
	if t.root.edit != edit {
		r := &tableRoot[K, V]{edit: edit, mids: t.root.mids}
		t.root = r
	}
	i, j := slots(k)
	mid := t.root.mids[i]
	switch {
	case mid == nil:
		mid = &tableMid[K, V]{edit: edit}
		t.root.mids[i] = mid
	case mid.edit != edit:
		mid = &tableMid[K, V]{edit: edit, leaves: mid.leaves}
		t.root.mids[i] = mid
	}
	leaf := mid.leaves[j]
	switch {
	case leaf == nil:
		leaf = &tableLeaf[K, V]{edit: edit, m: map[K]V{}}
		mid.leaves[j] = leaf
	case leaf.edit != edit:
		leaf = &tableLeaf[K, V]{edit: edit, m: maps.Clone(leaf.m)}
		mid.leaves[j] = leaf
	}
	return leaf
}
