// Package pebble is the embedded event store: a Pebble (LSM) database in
// the data folder, chosen over bbolt and SQLite by measurement (see
// docs/benchmarks.md). Appends are group-committed: while one synced batch
// is written, the appends that arrive queue up and go into the next batch
// together, so concurrent writers share each fsync. The commits overlap:
// the next group is decided and applied while the one before syncs (see
// Store.start), and the writers look up their events' ids before they
// queue, so that the one goroutine that decides does little more than
// compare revisions.
package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/shareledger/shareledger/eventstore"
)

// Key layout: one prefix byte per kind of key.
const (
	kindLog   = 'l' // l seq -> stored record
	kindIndex = 's' // s stream 0x00 revision -> seq
	kindHead  = 'h' // h stream -> last revision
	kindID    = 'i' // i event id -> seq
	kindSnap  = 'n' // n stream -> snapshot of its aggregate
)

// Config configures the store.
type Config struct {
	Dir string
	// MaxBatch caps how many appends share one commit (default 256).
	MaxBatch int
	// NoSync skips fsync on commit: for tests and benchmarks only.
	NoSync bool
	// CacheBytes is the block cache's size (default 64 MiB).
	CacheBytes int64
	Logger     *slog.Logger
}

// Store is a Pebble-backed event store.
type Store struct {
	db      *pebble.DB
	sync    *pebble.WriteOptions
	batcher *eventstore.Batcher
	stop    chan struct{} // closed by Close: wakes subscriptions
	seq     uint64        // last position written; only commits change it

	changes *eventstore.Signal // broadcast after every commit

	// life guards the database against use after Close: Pebble panics
	// when a closed database is read.
	life sync.RWMutex
	// release is life.RUnlock, bound once: open hands it out on every
	// read and append, where a method value made each time is allocated.
	release func()
	closed  bool

	snapMu sync.Mutex // orders snapshot writes: the newest revision wins

	heads  *heads     // the last revisions of recently used streams
	recent *recentIDs // where the last commits stored their events

	// pending are the groups started and not yet known to be published,
	// oldest first: only the goroutine that starts groups uses it.
	pending []*group
	failure atomic.Pointer[error] // set when a started group failed to sync
}

// ErrClosed is returned by a store used after Close.
var ErrClosed = eventstore.ErrClosed

// open holds off Close until the caller's read is done.
func (s *Store) open() (release func(), err error) {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return nil, ErrClosed
	}
	return s.release, nil
}

func (c Config) cacheBytes() int64 {
	if c.CacheBytes > 0 {
		return c.CacheBytes
	}
	return 64 << 20
}

// Open opens (or creates) the store in cfg.Dir. Pebble locks the folder, so
// a second process fails at once.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pebble event store: a folder is required")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The block cache keeps the index, filter and data blocks that every
	// append and load reads (a stream's head, an event's id, the log's
	// tail); Pebble's default of 8 MiB is outgrown by a log of a few
	// hundred thousand events, and then each read goes to the disk.
	cache := pebble.NewCache(cfg.cacheBytes())
	defer cache.Unref()
	opts := &pebble.Options{Logger: logger{cfg.Logger}, Cache: cache}
	// Every append looks up ids and stream heads that mostly do not exist
	// yet (a new event's id, a new stream): Bloom filters answer those
	// misses without reading each level's blocks.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open event store %s (is another shareledger using it?): %w", cfg.Dir, err)
	}
	s := &Store{db: db, sync: pebble.Sync, stop: make(chan struct{}), changes: eventstore.NewSignal(), heads: newHeads(1 << 16), recent: newRecentIDs(1 << 16)}
	s.release = s.life.RUnlock
	if cfg.NoSync {
		s.sync = pebble.NoSync
	}
	if s.seq, err = s.lastSeq(); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.batcher = eventstore.NewPipelinedBatcher(cfg.MaxBatch, s.start)
	return s, nil
}

func (s *Store) lastSeq() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindLog}, UpperBound: []byte{kindLog + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[1:]), nil
}

// Close stops the writer, waits for reads under way, and closes the
// database.
func (s *Store) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.batcher.Close()
	close(s.stop)
	return s.db.Close()
}

// Compact compacts the whole store now, as Pebble would over time: for
// maintenance after a bulk load, and for benchmarks that measure a store
// whose compactions have settled rather than one still paying for a load.
func (s *Store) Compact(ctx context.Context) error {
	release, err := s.open()
	if err != nil {
		return err
	}
	defer release()
	if err := s.db.Flush(); err != nil {
		return err
	}
	return s.db.Compact(ctx, []byte{0}, []byte{0xff}, true)
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.Expected, events ...eventstore.Event) (eventstore.AppendResult, error) {
	return s.submit(ctx, &eventstore.Request{Stream: stream, Expected: expected, Events: events})
}

// AppendGuarded implements eventstore.Guarded: the guard's stream head is
// read in the same indexed batch as the append's, so appends of the same
// group that change the guard's stream count.
func (s *Store) AppendGuarded(ctx context.Context, stream string, expected eventstore.Expected, guard eventstore.Guard, events ...eventstore.Event) (eventstore.AppendResult, error) {
	return s.submit(ctx, &eventstore.Request{Stream: stream, Expected: expected, Guard: &guard, Events: events})
}

// submit encodes each event's record, all but its revision, and looks up
// its id, before the append queues: the writers do this in parallel, and
// the one goroutine that commits only puts the revision in front and asks
// what was committed since the look-up.
//
// An append whose ids are new (eventstore.WithNewIDs) is not looked up in
// Pebble: only the commits since, which the store holds in memory, are
// asked, so its cost does not depend on the size of the log.
func (s *Store) submit(ctx context.Context, r *eventstore.Request) (eventstore.AppendResult, error) {
	looked, err := s.lookUp(r.Events, eventstore.HasNewIDs(ctx))
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	r.Looked = looked
	r.Encoded = make([][]byte, len(r.Events))
	for i, e := range r.Events {
		data := e.Data
		if len(data) == 0 {
			data = []byte("null")
		}
		r.Encoded[i] = encodeBody(storedBody{ID: e.ID, Stream: r.Stream, Type: e.Type, Version: e.Version, Data: data, Meta: e.Meta})
	}
	return s.batcher.Submit(ctx, r)
}

// group is what one commit has decided so far: its batch, and the stream
// heads and event ids it wrote, which later appends of the group must see
// (the batch itself is write-only: an indexed one costs more per write
// than these maps).
type group struct {
	b         *pebble.Batch
	heads     map[string]uint64
	ids       map[string]placed
	published atomic.Bool // its heads and ids are with those committed
}

// placed is where an event id is stored.
type placed struct {
	seq    uint64
	stream string
	rev    uint64
}

// start decides every append of a group (later appends see earlier ones,
// and those of the groups started before) and applies them to Pebble,
// where they are readable at once; what it returns waits until they are
// synced to the disk, so that the next group is decided and applied while
// this one syncs, and Pebble syncs both with one fsync when they overlap.
// Their writers are answered only then.
//
// A failed sync leaves the store failed: the groups started after the one
// that failed were decided on top of it.
func (s *Store) start(reqs []*eventstore.Request) (durable func() error) {
	if err := s.failed(); err != nil {
		return func() error { return err }
	}
	for len(s.pending) > 0 && s.pending[0].published.Load() {
		s.pending = s.pending[1:]
	}
	g := &group{b: s.db.NewBatch(), heads: map[string]uint64{}, ids: map[string]placed{}}
	first := s.seq
	for _, r := range reqs {
		r.Result, r.Err = s.appendTo(g, r)
	}
	var err error
	if s.sync == pebble.Sync {
		err = s.db.ApplyNoSyncWait(g.b, s.sync)
	} else {
		err = g.b.Commit(s.sync)
	}
	if err != nil {
		// Nothing of the group was applied: its positions are free.
		s.seq = first
		g.b.Close()
		return func() error { return err }
	}
	if s.sync != pebble.Sync {
		s.publish(g)
		g.b.Close()
		return func() error { return nil }
	}
	s.pending = append(s.pending, g)
	return func() error {
		defer g.b.Close()
		if err := g.b.SyncWait(); err != nil {
			s.fail(err)
			return err
		}
		if err := s.failed(); err != nil {
			return err // decided on top of a group that failed
		}
		s.publish(g)
		return nil
	}
}

// publish puts a durable group's heads and ids with those committed and
// wakes the subscribers.
func (s *Store) publish(g *group) {
	s.heads.committed(g.heads)
	s.recent.committed(g.ids)
	g.published.Store(true)
	s.changes.Broadcast()
}

// fail leaves the store failed with err.
func (s *Store) fail(err error) {
	s.failure.CompareAndSwap(nil, &err)
}

// failed is why the store failed, if it did.
func (s *Store) failed() error {
	if err := s.failure.Load(); err != nil {
		return fmt.Errorf("%w: the event store failed to sync an earlier append (%w); reopen it", eventstore.ErrClosed, *err)
	}
	return nil
}

// head is a stream's last revision, as the group and those started before
// it left it.
func (s *Store) head(g *group, stream string) (uint64, bool, error) {
	if last, ok := g.heads[stream]; ok {
		return last, true, nil
	}
	for i := len(s.pending) - 1; i >= 0; i-- {
		if last, ok := s.pending[i].heads[stream]; ok {
			return last, true, nil
		}
	}
	return s.headOf(stream)
}

// headOf is a stream's last revision as committed.
func (s *Store) headOf(stream string) (uint64, bool, error) {
	last, ok, commits := s.heads.get(stream)
	if ok {
		return last, true, nil
	}
	last, exists, err := getU64(s.db, headKey(stream))
	if err == nil && exists {
		s.heads.read(stream, last, commits)
	}
	return last, exists, err
}

// looked is where an append's event ids were stored when its writer
// looked them up, after seen commits.
type looked struct {
	seen  uint64
	at    []placed
	found []bool
}

// lookUp looks up where events are stored, if they are; ids known to be
// new (fresh) are taken as absent from what was committed so far.
func (s *Store) lookUp(events []eventstore.Event, fresh bool) (*looked, error) {
	release, err := s.open()
	if err != nil {
		return nil, err
	}
	defer release()
	l := &looked{seen: s.recent.count(), at: make([]placed, len(events)), found: make([]bool, len(events))}
	if fresh {
		return l, nil
	}
	for i, e := range events {
		if l.at[i], l.found[i], err = s.placeIn(s.db, e.ID); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// placeOf finds where the i-th event of an append is stored, if it is: in
// the group, where its writer looked it up, or in what was committed since.
func (s *Store) placeOf(g *group, r *eventstore.Request, i int) (placed, bool, error) {
	id := r.Events[i].ID
	if p, ok := g.ids[id]; ok {
		return p, true, nil
	}
	for i := len(s.pending) - 1; i >= 0; i-- {
		if p, ok := s.pending[i].ids[id]; ok {
			return p, true, nil
		}
	}
	if l, ok := r.Looked.(*looked); ok {
		if l.found[i] {
			return l.at[i], true, nil
		}
		if p, found, known := s.recent.since(id, l.seen); known {
			return p, found, nil
		}
	}
	return s.placeIn(s.db, id)
}

// placeIn finds where an event id is stored in Pebble, if it is.
func (s *Store) placeIn(db getter, id string) (placed, bool, error) {
	seq, found, err := getU64(db, idKey(id))
	if err != nil || !found {
		return placed{}, false, err
	}
	st, err := getRecord(db, seq)
	if err != nil {
		return placed{}, false, err
	}
	return placed{seq: seq, stream: st.Stream, rev: st.Revision}, true, nil
}

// appendTo decides one append and writes it into the group. It writes
// nothing unless the whole append is accepted.
func (s *Store) appendTo(g *group, r *eventstore.Request) (eventstore.AppendResult, error) {
	if res, done, err := s.replayed(g, r); done || err != nil {
		return res, err
	}
	for i, e := range r.Events[1:] {
		if _, taken, err := s.placeOf(g, r, i+1); err != nil || taken {
			return eventstore.AppendResult{}, errors.Join(err, fmt.Errorf("append to %s: %w: event %s is stored already", r.Stream, eventstore.ErrIdempotency, e.ID))
		}
	}
	if gd := r.Guard; gd != nil {
		last, exists, err := s.head(g, gd.Stream)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if !gd.Expected.Check(last, exists) {
			return eventstore.AppendResult{}, &eventstore.WrongVersionError{Stream: gd.Stream, Expected: gd.Expected, Last: last, Exists: exists}
		}
	}
	last, exists, err := s.head(g, r.Stream)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if !r.Expected.Check(last, exists) {
		return eventstore.AppendResult{}, &eventstore.WrongVersionError{Stream: r.Stream, Expected: r.Expected, Last: last, Exists: exists}
	}
	rev := last
	if exists {
		rev++
	}
	for i, e := range r.Events {
		s.seq++
		seq := u64(s.seq)
		// The record is the body encoded before queueing, with the
		// revision put in front.
		value := encodeRecord(rev+uint64(i), r.Encoded[i])
		_ = g.b.Set(logKey(s.seq), value, nil)
		_ = g.b.Set(indexKey(r.Stream, rev+uint64(i)), seq, nil)
		_ = g.b.Set(idKey(e.ID), seq, nil)
		g.ids[e.ID] = placed{seq: s.seq, stream: r.Stream, rev: rev + uint64(i)}
	}
	last = rev + uint64(len(r.Events)) - 1
	_ = g.b.Set(headKey(r.Stream), u64(last), nil)
	g.heads[r.Stream] = last
	return eventstore.AppendResult{LastRevision: last, Position: eventstore.At(s.seq)}, nil
}

// replayed recognises an append whose events were all stored before, in
// the same order and stream, and returns the original result.
func (s *Store) replayed(g *group, r *eventstore.Request) (eventstore.AppendResult, bool, error) {
	first, found, err := s.placeOf(g, r, 0)
	if err != nil || !found {
		return eventstore.AppendResult{}, false, err
	}
	conflict := fmt.Errorf("append to %s: %w", r.Stream, eventstore.ErrIdempotency)
	if first.stream != r.Stream {
		return eventstore.AppendResult{}, false, conflict
	}
	prev := first
	for i := range r.Events[1:] {
		p, found, err := s.placeOf(g, r, i+1)
		if err != nil || !found {
			return eventstore.AppendResult{}, false, errors.Join(err, conflict)
		}
		if p.stream != r.Stream || p.rev != prev.rev+1 {
			return eventstore.AppendResult{}, false, conflict
		}
		prev = p
	}
	return eventstore.AppendResult{LastRevision: prev.rev, Position: eventstore.At(prev.seq)}, true, nil
}

// Lookup implements eventstore.Store from the index of event ids.
func (s *Store) Lookup(ctx context.Context, stream, id string) (eventstore.Record, bool, error) {
	release, err := s.open()
	if err != nil {
		return eventstore.Record{}, false, err
	}
	defer release()
	seq, found, err := getU64(s.db, idKey(id))
	if err != nil || !found {
		return eventstore.Record{}, false, err
	}
	st, err := getRecord(s.db, seq)
	if err != nil {
		return eventstore.Record{}, false, err
	}
	if st.Stream != stream {
		return eventstore.Record{}, false, nil
	}
	return record(seq, st), true, nil
}

// SaveSnapshot implements eventstore.Store. Snapshots can be rebuilt, so
// they are written without waiting for the disk; an older one than the
// stored one, of the same version, is ignored.
func (s *Store) SaveSnapshot(ctx context.Context, stream string, snap eventstore.Snapshot) error {
	release, err := s.open()
	if err != nil {
		return err
	}
	defer release()
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if old, found, err := s.loadSnapshot(stream); err != nil {
		return err
	} else if found && old.Revision >= snap.Revision && old.Version == snap.Version {
		return nil
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return s.db.Set(snapKey(stream), b, pebble.NoSync)
}

// LoadSnapshot implements eventstore.Store.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, bool, error) {
	release, err := s.open()
	if err != nil {
		return eventstore.Snapshot{}, false, err
	}
	defer release()
	return s.loadSnapshot(stream)
}

func (s *Store) loadSnapshot(stream string) (eventstore.Snapshot, bool, error) {
	var snap eventstore.Snapshot
	err := getJSON(s.db, snapKey(stream), &snap)
	if errors.Is(err, pebble.ErrNotFound) {
		return snap, false, nil
	}
	return snap, err == nil, err
}

func snapKey(stream string) []byte { return append([]byte{kindSnap}, stream...) }

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Record, error) {
	release, err := s.open()
	if err != nil {
		return nil, err
	}
	defer release()
	// A command's load asks for the events after the revision it has
	// cached, and mostly there are none: the stream's head, one point
	// read that the Bloom filters answer, says so without an iterator
	// over every level.
	last, exists, err := s.headOf(stream)
	if err != nil {
		return nil, err
	}
	if !exists || from > last {
		return nil, nil
	}
	prefix := indexKey(stream, 0)[:len(stream)+2]
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: indexKey(stream, from), UpperBound: append(bytes.Clone(prefix), 0xff)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []eventstore.Record
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		if len(it.Key()) != len(prefix)+8 {
			continue
		}
		seq := binary.BigEndian.Uint64(it.Value())
		st, err := getRecord(s.db, seq)
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		out = append(out, record(seq, st))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return out, ctx.Err()
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	release, err := s.open()
	if err != nil {
		return nil, err
	}
	defer release()
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: logKey(after.Commit + 1), UpperBound: []byte{kindLog + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []eventstore.Record
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		st, err := decodeRecord(it.Value())
		if err != nil {
			return nil, fmt.Errorf("read all: decode: %w", err)
		}
		out = append(out, record(binary.BigEndian.Uint64(it.Key()[1:]), st))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read all after %s: %w", after, err)
	}
	return out, ctx.Err()
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	release, err := s.open()
	if err != nil {
		return eventstore.Position{}, err
	}
	defer release()
	seq, err := s.lastSeq()
	return eventstore.At(seq), err
}

// Subscribe implements eventstore.Store.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, h eventstore.Handler) error {
	return eventstore.Follow(ctx, after, h, s.ReadAll, s.changes, s.stop)
}

func record(seq uint64, st stored) eventstore.Record {
	return eventstore.Record{
		Event:    eventstore.Event{ID: st.ID, Type: st.Type, Version: st.Version, Data: st.Data, Meta: st.Meta},
		Stream:   st.Stream,
		Revision: st.Revision,
		Position: eventstore.At(seq),
	}
}

type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

func getU64(g getter, key []byte) (uint64, bool, error) {
	v, closer, err := g.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	return binary.BigEndian.Uint64(v), true, nil
}

// getRecord reads the record at a position of the log.
func getRecord(g getter, seq uint64) (stored, error) {
	b, closer, err := g.Get(logKey(seq))
	if err != nil {
		return stored{}, err
	}
	defer closer.Close()
	return decodeRecord(b)
}

func getJSON(g getter, key []byte, v any) error {
	b, closer, err := g.Get(key)
	if err != nil {
		return err
	}
	defer closer.Close()
	return json.Unmarshal(b, v)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func logKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{kindLog}, seq) }

func headKey(stream string) []byte { return append([]byte{kindHead}, stream...) }

func idKey(id string) []byte { return append([]byte{kindID}, id...) }

func indexKey(stream string, rev uint64) []byte {
	k := make([]byte, 0, len(stream)+10)
	k = append(k, kindIndex)
	k = append(k, stream...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, rev)
}

// logger sends Pebble's chatter to slog at debug level.
type logger struct{ l *slog.Logger }

func (l logger) Infof(format string, args ...any) {
	l.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}
func (l logger) Errorf(format string, args ...any) {
	l.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error("pebble: fatal: " + msg)
	panic("pebble: " + msg)
}
