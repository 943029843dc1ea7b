// Package bolt is the embedded event store: one bbolt file in the data
// folder. Concurrent appends are committed together (group commit): while
// one transaction syncs to disk, the appends that arrive queue up and go
// into the next transaction as a batch.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/shareledger/shareledger/eventstore"
)

var (
	bucketLog     = []byte("log")     // seq -> stored record
	bucketStreams = []byte("streams") // stream -> last revision
	bucketIndex   = []byte("index")   // stream 0x00 revision -> seq
	bucketIDs     = []byte("ids")     // event id -> seq
)

// Config configures the embedded store.
type Config struct {
	Path string
	// MaxBatch caps how many appends share one transaction (default 256).
	MaxBatch int
	// NoSync skips fsync on commit: for tests and benchmarks only.
	NoSync bool
}

// Store is a bbolt-backed event store.
type Store struct {
	db       *bbolt.DB
	requests chan *request
	stop     chan struct{}
	done     chan struct{}
	maxBatch int

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every commit
	closed  bool
}

type request struct {
	stream   string
	expected eventstore.Expected
	events   []eventstore.Event
	result   eventstore.AppendResult
	err      error
	done     chan struct{}
}

type stored struct {
	ID       string          `json:"id"`
	Stream   string          `json:"stream"`
	Revision uint64          `json:"rev"`
	Type     string          `json:"type"`
	Version  int             `json:"v"`
	Data     json.RawMessage `json:"data"`
	Meta     eventstore.Meta `json:"meta"`
}

// Open opens (or creates) the store at cfg.Path. Only one process may hold
// it; a second one fails after a second instead of waiting forever.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("bolt event store: path is required")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	db, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{Timeout: time.Second, NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("open event store %s (is another shareledger using it?): %w", cfg.Path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketLog, bucketStreams, bucketIndex, bucketIDs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("prepare event store: %w", err)
	}
	s := &Store{
		db:       db,
		requests: make(chan *request),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		maxBatch: cfg.MaxBatch,
		changed:  make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// Close stops the writer and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	return s.db.Close()
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.Expected, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := eventstore.Validate(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	r := &request{stream: stream, expected: expected, events: events, done: make(chan struct{})}
	select {
	case s.requests <- r:
	case <-s.stop:
		return eventstore.AppendResult{}, errors.New("event store is closed")
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
	// Once queued, the append is decided by the writer; wait for its answer
	// even if ctx ends, so the caller never mistakes a commit for a failure.
	<-r.done
	return r.result, r.err
}

func (s *Store) writer() {
	defer close(s.done)
	for {
		var first *request
		select {
		case first = <-s.requests:
		case <-s.stop:
			return
		}
		batch := []*request{first}
	drain:
		for len(batch) < s.maxBatch {
			select {
			case r := <-s.requests:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for _, r := range batch {
				r.result, r.err = appendTx(tx, r)
			}
			return nil
		})
		for _, r := range batch {
			if err != nil && r.err == nil {
				r.err = fmt.Errorf("commit append: %w", err)
			}
			close(r.done)
		}
		if err == nil {
			s.mu.Lock()
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}
}

// appendTx decides and writes one append inside the batch's transaction.
// It writes nothing unless the whole append is accepted, so one refused
// append never disturbs the others in the batch.
func appendTx(tx *bbolt.Tx, r *request) (eventstore.AppendResult, error) {
	ids := tx.Bucket(bucketIDs)
	if res, done, err := replayed(tx, r); done || err != nil {
		return res, err
	}
	for _, e := range r.events[1:] {
		if ids.Get([]byte(e.ID)) != nil {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w: event %s is stored already", r.stream, eventstore.ErrIdempotency, e.ID)
		}
	}
	streams := tx.Bucket(bucketStreams)
	last, exists := uint64(0), false
	if v := streams.Get([]byte(r.stream)); v != nil {
		last, exists = binary.BigEndian.Uint64(v), true
	}
	if !r.expected.Check(last, exists) {
		return eventstore.AppendResult{}, &eventstore.WrongVersionError{Stream: r.stream, Expected: r.expected, Last: last, Exists: exists}
	}
	log, index := tx.Bucket(bucketLog), tx.Bucket(bucketIndex)
	rev := last
	if exists {
		rev++
	}
	var seq uint64
	for _, e := range r.events {
		var err error
		if seq, err = log.NextSequence(); err != nil {
			return eventstore.AppendResult{}, err
		}
		data := e.Data
		if len(data) == 0 {
			data = []byte("null")
		}
		b, err := json.Marshal(stored{ID: e.ID, Stream: r.stream, Revision: rev, Type: e.Type, Version: e.Version, Data: data, Meta: e.Meta})
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if err := log.Put(u64(seq), b); err != nil {
			return eventstore.AppendResult{}, err
		}
		if err := index.Put(indexKey(r.stream, rev), u64(seq)); err != nil {
			return eventstore.AppendResult{}, err
		}
		if err := ids.Put([]byte(e.ID), u64(seq)); err != nil {
			return eventstore.AppendResult{}, err
		}
		rev++
	}
	if err := streams.Put([]byte(r.stream), u64(rev-1)); err != nil {
		return eventstore.AppendResult{}, err
	}
	return eventstore.AppendResult{LastRevision: rev - 1, Position: eventstore.At(seq)}, nil
}

// replayed recognises an append whose events were all stored before, in
// the same order and stream, and returns the original result.
func replayed(tx *bbolt.Tx, r *request) (eventstore.AppendResult, bool, error) {
	ids, log := tx.Bucket(bucketIDs), tx.Bucket(bucketLog)
	v := ids.Get([]byte(r.events[0].ID))
	if v == nil {
		return eventstore.AppendResult{}, false, nil
	}
	conflict := fmt.Errorf("append to %s: %w", r.stream, eventstore.ErrIdempotency)
	var prev stored
	var seq uint64
	for i, e := range r.events {
		v := ids.Get([]byte(e.ID))
		if v == nil {
			return eventstore.AppendResult{}, false, conflict
		}
		seq = binary.BigEndian.Uint64(v)
		var st stored
		if err := json.Unmarshal(log.Get(v), &st); err != nil {
			return eventstore.AppendResult{}, false, err
		}
		if st.Stream != r.stream || (i > 0 && st.Revision != prev.Revision+1) {
			return eventstore.AppendResult{}, false, conflict
		}
		prev = st
	}
	return eventstore.AppendResult{LastRevision: prev.Revision, Position: eventstore.At(seq)}, true, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Record, error) {
	var out []eventstore.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		log := tx.Bucket(bucketLog)
		prefix := append([]byte(stream), 0)
		c := tx.Bucket(bucketIndex).Cursor()
		for k, v := c.Seek(indexKey(stream, from)); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			rec, err := decode(binary.BigEndian.Uint64(v), log.Get(v))
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return out, ctx.Err()
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	var out []eventstore.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(u64(after.Commit + 1)); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			rec, err := decode(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", after, err)
	}
	return out, ctx.Err()
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var head eventstore.Position
	err := s.db.View(func(tx *bbolt.Tx) error {
		if k, _ := tx.Bucket(bucketLog).Cursor().Last(); k != nil {
			head = eventstore.At(binary.BigEndian.Uint64(k))
		}
		return nil
	})
	return head, err
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, h eventstore.Handler) error {
	const page = 512
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		recs, err := s.ReadAll(ctx, after, page)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(recs) > 0 {
			if err := h(ctx, recs); err != nil {
				return err
			}
			after = recs[len(recs)-1].Position
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-s.stop:
			return errors.New("event store is closed")
		}
	}
}

func decode(seq uint64, b []byte) (eventstore.Record, error) {
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return eventstore.Record{}, fmt.Errorf("decode event %d: %w", seq, err)
	}
	return eventstore.Record{
		Event:    eventstore.Event{ID: st.ID, Type: st.Type, Version: st.Version, Data: st.Data, Meta: st.Meta},
		Stream:   st.Stream,
		Revision: st.Revision,
		Position: eventstore.At(seq),
	}, nil
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func indexKey(stream string, rev uint64) []byte {
	k := make([]byte, 0, len(stream)+9)
	k = append(k, stream...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, rev)
}
