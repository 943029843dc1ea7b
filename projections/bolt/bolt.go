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
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

var checkpoints = []byte("_checkpoints")

// Store is a bbolt-backed read-model store.
type Store struct{ db *bbolt.DB }

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open read models %s (is another shareledger using it?): %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Update implements projections.Store.
func (s *Store) Update(ctx context.Context, consumer string, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	err := s.db.Update(func(btx *bbolt.Tx) error {
		cp, err := btx.CreateBucketIfNotExists(checkpoints)
		if err != nil {
			return err
		}
		current := readPosition(cp.Get([]byte(consumer)))
		next, err := fn(&tx{reader{btx}}, current)
		if err != nil {
			return err
		}
		return cp.Put([]byte(consumer), writePosition(next))
	})
	if errors.Is(err, projections.ErrStopUpdate) {
		return nil
	}
	return err
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

type tx struct{ reader }

func (t *tx) Put(ctx context.Context, table, key string, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	b, err := t.btx.CreateBucketIfNotExists([]byte(table))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), doc)
}

func (t *tx) Delete(ctx context.Context, table, key string) error {
	b := t.btx.Bucket([]byte(table))
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
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
