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
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

var checkpoints = []byte("_checkpoints")

// Store is a bbolt-backed read-model store.
//
// A rebuild's pages go through it as a pipeline (projections.Ahead): a
// page is applied while the page before it commits, each update reading
// what its consumer's update before it wrote from memory until that is
// committed.
//
// An update applies its events in two steps. First its projection reads
// the committed models through a read transaction of its own and gathers
// its writes in memory (tx); then its writes and its checkpoint go into
// one bbolt transaction. So it is Grouped: a pass that applies a page of
// events to several projections (a catch-up, a rebuild) applies them at
// once, one goroutine each up to GOMAXPROCS, since none writes anything
// the others read, and commits them in one transaction (bbolt has one
// writer, and each commit writes its pages and syncs the file twice).
// Each keeps its own checkpoint and fails alone: an update that fails
// has written nothing, and the others commit without it.
//
// Groups applied ahead are committed by one writer, in the order they
// were applied, and the writer commits every group waiting when it
// starts in one transaction: the live projections each update on their
// own, and while one commits, the others' updates apply and queue behind
// it, so that they then share a commit and its syncs.
//
// Under load that was not enough: each live projection gathers its events
// on a clock of its own (projections.Runner), so they reached the writer
// one after the other and the read models committed over two hundred
// times a second, each commit rewriting the pages of every entity its
// events named (the audit index's, the device pages') and syncing the
// file. So the writer holds a live update's commit back until
// CommitWindow has passed since its last commit began, and commits
// whatever has joined it by then in one transaction: about forty commits
// a second under load, and a design sent over HTTP took about a tenth
// less CPU (docs/benchmarks.md). It holds back only the updates of a
// live projection's delivery (projections.LiveDelivery), not a rebuild's
// pages nor its bookkeeping; nothing while a reader waits on any consumer
// (Awaited, which projections.Progress calls); and a quiet store, whose
// last commit is further back than the window, commits at once. A
// grouped update (UpdateEach) and Close, which wait for what is queued,
// end a hold at once.
type Store struct {
	db *bbolt.DB
	// updating serializes the applying of updates and what follows
	// them: which is each consumer's last (last), and the order in which
	// groups join the queue (guarded itself by queue).
	updating sync.Mutex
	// last is each consumer's last update applied ahead, committing or
	// committed, until the store is drained: the consumer's next update
	// reads its writes (inherit), and fails if it failed.
	last map[string]*update
	// tail is the last group applied (drain waits for it).
	tail *aheadGroup
	// queue guards queued, the groups applied and not yet taken by the
	// writer, in order, and writing, whether the writer runs. The writer
	// never takes updating, which an update holds while it waits for a
	// commit before it applies.
	queue   sync.Mutex
	queued  []*aheadGroup
	writing bool
	// began is when the writer's last commit began (0: none yet);
	// awaited counts the readers waiting on the store's consumers, and
	// nudge wakes a writer that holds a commit back when one starts to.
	began   atomic.Int64 // since epoch
	awaited atomic.Int64
	nudge   chan struct{}

	// CommitWindow is the least time from one live commit's start to the
	// next's while no reader waits (0: none); Open sets
	// DefaultCommitWindow. Set it before the store is used.
	CommitWindow time.Duration
}

// DefaultCommitWindow is a store's CommitWindow.
const DefaultCommitWindow = 25 * time.Millisecond

// epoch is what the store's times are counted from, monotonic.
var epoch = time.Now()

// aheadGroup is a group of UpdateEachAhead: its updates, and done, closed
// once its commit is over.
type aheadGroup struct {
	updates []*update
	done    chan struct{}
	// live is a live projection's update (an Update of a
	// projections.LiveDelivery), whose commit the writer may hold back
	// (CommitWindow).
	live bool
}

// update is one consumer's update in a group.
type update struct {
	consumer string
	fn       func(projections.Tx, eventstore.Position) (eventstore.Position, error)
	tx       *tx                 // what it wrote, to commit
	next     eventstore.Position // and its checkpoint
	done     bool
	err      error
	panicked any
	failed   bool // its fn failed (set where it ran, read by the next update)
	// group is the update's group; before is its consumer's update
	// before it, until this one is over (the writer lets it go), and
	// beforeDone that one's group's done.
	group      *aheadGroup
	before     *update
	beforeDone chan struct{}
}

// Open opens or creates the store at path.
func Open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open read models %s (is another shareledger using it?): %w", path, err)
	}
	return &Store{db: db, last: map[string]*update{}, nudge: make(chan struct{}, 1), CommitWindow: DefaultCommitWindow}, nil
}

// Size is how many bytes of the file the read models take.
func (s *Store) Size() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// Close closes the file.
func (s *Store) Close() error {
	s.updating.Lock()
	s.drain()
	s.updating.Unlock()
	return s.db.Close()
}

// drain waits for the groups applied ahead to commit (under updating):
// what follows reads what they wrote from the tree. A commit held back
// for its window goes at once: a grouped update or a Close waits on it.
func (s *Store) drain() {
	if s.tail != nil {
		s.wake()
		<-s.tail.done
		s.tail = nil
	}
	clear(s.last)
}

// over says whether an update's group has committed or failed.
func (u *update) over() bool {
	select {
	case <-u.group.done:
		return true
	default:
		return false
	}
}

// Update implements projections.Store. It is a group of one applied
// ahead (UpdateEachAhead), and returns once it has committed: while it
// writes, the next updates (the runner's projections each update on their
// own) apply beside it, and commit together after it.
//
// An update that has committed or failed is over: the next one reads what
// is committed, and a failure of the one before does not fail it (the
// runner retries a failed batch with this), as it fails the next group of
// a pipeline, which must not apply a page after one that is missing.
func (s *Store) Update(ctx context.Context, consumer string, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	s.updating.Lock()
	if b := s.last[consumer]; b != nil && b.over() {
		delete(s.last, consumer)
	}
	s.updating.Unlock()
	return s.updateEachAhead([]projections.Update{{Consumer: consumer, Fn: fn}}, projections.IsLiveDelivery(ctx))()[0]
}

var _ projections.Awaited = (*Store)(nil)

// Awaited implements projections.Awaited: while readers wait on its
// consumers, the store commits live updates at once.
func (s *Store) Awaited(readers int) {
	if s.awaited.Add(int64(readers)) > 0 && readers > 0 {
		s.wake()
	}
}

// wake ends the writer's hold on a commit, if it holds one.
func (s *Store) wake() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// UpdateEach implements projections.Grouped.
func (s *Store) UpdateEach(ctx context.Context, us []projections.Update) []error {
	group := make([]*update, len(us))
	for i, u := range us {
		group[i] = &update{consumer: u.Consumer, fn: u.Fn}
	}
	s.commit(slices.Clone(group)) // commit shortens its slice as updates fail
	return outcome(group)
}

// outcome is the errors of group's updates, raising a panic of one of
// them again.
func outcome(group []*update) []error {
	errs := make([]error, len(group))
	for i, u := range group {
		if u.panicked != nil {
			panic(u.panicked)
		}
		errs[i] = u.err
	}
	return errs
}

// UpdateEachAhead implements projections.Ahead. Each update of the group
// is applied, under updating, once its consumer's update before the last
// has committed: it reads the tree as that one left it, and, from memory,
// what its consumer's last update wrote (inherit), which it does not
// write again. The group then waits for the writer, which commits groups
// in the order they were applied.
func (s *Store) UpdateEachAhead(_ context.Context, us []projections.Update) func() []error {
	return s.updateEachAhead(us, false)
}

// updateEachAhead is UpdateEachAhead, for a live projection's update
// (live) or for a rebuild's page.
func (s *Store) updateEachAhead(us []projections.Update, live bool) func() []error {
	g := &aheadGroup{updates: make([]*update, len(us)), done: make(chan struct{}), live: live}
	for i, u := range us {
		g.updates[i] = &update{consumer: u.Consumer, fn: u.Fn, group: g}
	}
	s.updating.Lock()
	base := make(map[string]*update, len(us))
	for _, u := range g.updates {
		b := s.last[u.consumer]
		if b == nil {
			continue
		}
		if b.beforeDone != nil {
			<-b.beforeDone
		}
		base[u.consumer] = b
		u.before, u.beforeDone = b, b.group.done
	}
	s.apply(g.updates, base)
	for _, u := range g.updates {
		s.last[u.consumer] = u
	}
	s.tail = g
	s.queue.Lock()
	s.queued = append(s.queued, g)
	if !s.writing {
		s.writing = true
		go s.writer()
	}
	s.queue.Unlock()
	s.updating.Unlock()
	if !live {
		s.wake() // nothing but a live update is held back
	}
	return func() []error {
		<-g.done
		return outcome(g.updates)
	}
}

// writer commits the groups queued, all that wait at once, until none
// does.
func (s *Store) writer() {
	// Its commits are every consumer's, not those of the projection whose
	// update started it (a goroutine takes its starter's profile labels).
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("store", "writer")))
	for {
		s.hold()
		s.queue.Lock()
		groups := s.queued
		s.queued = nil
		if len(groups) == 0 {
			s.writing = false
			s.queue.Unlock()
			return
		}
		s.queue.Unlock()
		var left []*update
		for _, g := range groups {
			for _, u := range g.updates {
				if u.tx != nil {
					u.tx.base, u.tx.merged = nil, nil // what it inherited is committed
				}
				if !u.done {
					left = append(left, u)
				}
			}
		}
		s.write(left)
		for _, g := range groups {
			for _, u := range g.updates {
				u.before = nil // committed or failed: let it go
			}
			close(g.done)
		}
	}
}

// hold holds the next commit back until CommitWindow has passed since
// the last one began, while only live updates wait for it and no reader
// waits on any consumer, so that what joins them meanwhile shares it.
func (s *Store) hold() {
	began := s.began.Load()
	wait := s.CommitWindow - (time.Since(epoch) - time.Duration(began))
	if began == 0 || wait <= 0 || s.awaited.Load() > 0 {
		return
	}
	s.queue.Lock()
	live := len(s.queued) > 0 && !slices.ContainsFunc(s.queued, func(g *aheadGroup) bool { return !g.live })
	s.queue.Unlock()
	if !live {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.nudge:
	}
}

// errRedo rolls back a group's transaction so that it is done again
// without the update that failed to write.
var errRedo = errors.New("redo the group without a failed update")

// commit applies group (apply), then writes the updates that succeeded in
// one transaction, and marks every update done.
func (s *Store) commit(group []*update) {
	s.updating.Lock()
	defer s.updating.Unlock()
	s.drain()
	s.apply(group, nil)
	s.write(slices.DeleteFunc(group, func(u *update) bool { return u.done }))
}

// write writes the updates of group in one transaction, without any that
// fails to and without those whose consumer's update before them did not
// commit, and marks every update done.
func (s *Store) write(group []*update) {
	for len(group) > 0 {
		for _, u := range group {
			if b := u.before; b != nil && b.done && b.err != nil {
				u.err, u.done = fmt.Errorf("the update of %s before this one did not commit: %w", u.consumer, b.err), true
			}
		}
		if group = slices.DeleteFunc(group, func(u *update) bool { return u.done }); len(group) == 0 {
			return
		}
		var spoiler *update
		s.began.Store(max(1, int64(time.Since(epoch))))
		err := s.db.Update(func(btx *bbolt.Tx) error {
			cp, err := btx.CreateBucketIfNotExists(checkpoints)
			if err != nil {
				return err
			}
			appended := map[string]bool{}
			for _, u := range group {
				err := u.tx.flush(btx, appended)
				if err == nil {
					err = cp.Put([]byte(u.consumer), writePosition(u.next))
				}
				if err != nil {
					u.err, spoiler = err, u
					return errRedo
				}
			}
			return nil
		})
		if errors.Is(err, errRedo) {
			spoiler.done = true
			continue
		}
		for _, u := range group {
			u.err, u.done = err, true
		}
		return
	}
}

// apply runs each update's fn on a transaction that reads the committed
// models (a read transaction of its own) and gathers its writes, at once
// for several: one goroutine each, GOMAXPROCS at a time. An update that
// fails, or has nothing to write (ErrStopUpdate), is done.
func (s *Store) apply(group []*update, base map[string]*update) {
	one := func(u *update) {
		b := base[u.consumer]
		if b != nil && b.failed {
			u.err, u.done, u.failed = fmt.Errorf("the update of %s before this one failed", u.consumer), true, true
			return
		}
		err := s.db.View(func(rtx *bbolt.Tx) error {
			t := &tx{reader: reader{rtx}, pending: map[docKey]*pending{}}
			cp, err := t.Checkpoint(context.Background(), u.consumer)
			if err != nil {
				return err
			}
			if b != nil && b.tx != nil {
				// What the update before wrote, as it left it, and
				// where it left its checkpoint (committed or not).
				t.inherit(b.tx)
				if cp.Less(b.next) {
					cp = b.next
				}
			}
			u.next, u.panicked, err = run(u, t, cp)
			u.tx = t
			if err == nil && u.panicked == nil {
				// Encoded here, so that the group after, which reads
				// these documents while this one commits, only reads.
				err = t.ready()
			}
			return err
		})
		if errors.Is(err, projections.ErrStopUpdate) {
			// Nothing of it is written: the update after must not read it.
			u.done, u.tx = true, nil
		} else if err != nil || u.panicked != nil {
			u.err, u.done, u.failed = err, true, true
		}
	}
	if len(group) == 1 {
		one(group[0])
		return
	}
	var wg sync.WaitGroup
	running := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, u := range group {
		running <- struct{}{}
		wg.Go(func() {
			defer func() { <-running }()
			one(u)
		})
	}
	wg.Wait()
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
	if err := json.Unmarshal(body(doc), v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return true, nil
}

func (r reader) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	return r.scan(table, page, func(k string, v []byte) error { return fn(k, body(v)) })
}

// scan is Scan of the values as stored, stamps and all.
func (r reader) scan(table string, page projections.Page, fn func(string, []byte) error) error {
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
			if err := fn(k, body(doc)); err != nil {
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

// tx gathers a transaction's writes in memory, reading the committed
// models through a read transaction, so that a document that a page of
// events changes many times is written to the B+tree once; flush writes
// them in key order when the update commits. Its reads see its writes:
// a Scan merges them with the tree's.
type tx struct {
	reader
	pending map[docKey]*pending
	// keys are the keys of each table in pending, in order up to sorted
	// (a table's keys are sorted again when a Scan finds new ones).
	keys   map[string][]string
	sorted map[string]int
	// base is the update before's transaction, whose writes this one
	// reads as its own (inherit); merged, a Scan's keys with base's.
	base   *tx
	merged map[string]mergedKeys
	// the tables whose documents it stamps and keeps versions of
	projections.Declared
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
	p, ok := t.lookup(docKey{table, key})
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
		if p, ok := t.lookup(docKey{table, k}); ok && !p.deleted {
			var err error
			if doc, err = p.doc.Bytes(); err != nil {
				return fmt.Errorf("encode %s/%s: %w", table, k, err)
			}
		} else if !ok && b != nil {
			doc = body(b.Get([]byte(k)))
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

// Scan merges the transaction's writes with the tree's documents, in key
// order: a document written wins, one deleted is left out.
func (t *tx) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	mine := t.scanKeys(table)
	if len(mine) == 0 {
		return t.reader.Scan(ctx, table, page, fn)
	}
	start := page.Prefix
	if page.After != "" && page.After >= page.Prefix {
		start = page.After
	}
	mine = mine[sort.SearchStrings(mine, start):]
	ahead := func(k string) bool { return page.After == "" || k > page.After }
	var c *bbolt.Cursor
	var tk, tv []byte
	if b := t.btx.Bucket([]byte(table)); b != nil {
		c = b.Cursor()
		tk, tv = c.Seek([]byte(start))
	}
	// The tree's next document in the page that the transaction did not
	// write, and the transaction's next key in the page.
	nextTree := func() {
		for ; tk != nil; tk, tv = c.Next() {
			if !bytes.HasPrefix(tk, []byte(page.Prefix)) {
				tk = nil
				return
			}
			if _, written := t.lookup(docKey{table, string(tk)}); ahead(string(tk)) && !written {
				return
			}
		}
	}
	nextMine := func() {
		for ; len(mine) > 0; mine = mine[1:] {
			if !strings.HasPrefix(mine[0], page.Prefix) {
				mine = nil
				return
			}
			if ahead(mine[0]) {
				return
			}
		}
	}
	nextTree()
	nextMine()
	for n := 0; (tk != nil || len(mine) > 0) && (page.Limit <= 0 || n < page.Limit); {
		var key string
		var doc []byte
		if len(mine) == 0 || (tk != nil && string(tk) < mine[0]) {
			key, doc = string(tk), body(tv)
			tk, tv = c.Next()
			nextTree()
		} else {
			key, mine = mine[0], mine[1:]
			nextMine()
			p, _ := t.lookup(docKey{table, key})
			if p.deleted {
				continue
			}
			var err error
			if doc, err = p.doc.Bytes(); err != nil {
				return fmt.Errorf("encode %s/%s: %w", table, key, err)
			}
		}
		if err := fn(key, doc); err != nil {
			return err
		}
		n++
	}
	return nil
}

// scanKeys is the keys of table that a Scan merges with the tree's: those
// the transaction wrote and, in order with them, those the update before
// wrote (inherit).
func (t *tx) scanKeys(table string) []string {
	mine := t.keysOf(table)
	if t.base == nil || len(t.base.keys[table]) == 0 {
		return mine
	}
	if m, ok := t.merged[table]; ok && m.of == len(mine) {
		return m.keys
	}
	theirs := t.base.keys[table] // sorted (ready)
	keys := make([]string, 0, len(mine)+len(theirs))
	for len(mine) > 0 || len(theirs) > 0 {
		switch {
		case len(theirs) == 0 || (len(mine) > 0 && mine[0] < theirs[0]):
			keys, mine = append(keys, mine[0]), mine[1:]
		case len(mine) == 0 || theirs[0] < mine[0]:
			keys, theirs = append(keys, theirs[0]), theirs[1:]
		default:
			keys, mine, theirs = append(keys, mine[0]), mine[1:], theirs[1:]
		}
	}
	if t.merged == nil {
		t.merged = map[string]mergedKeys{}
	}
	t.merged[table] = mergedKeys{of: len(t.keys[table]), keys: keys}
	return keys
}

// mergedKeys are a table's keys for a Scan (scanKeys), as of the number of
// the transaction's own.
type mergedKeys struct {
	of   int
	keys []string
}

// lookup is what the transaction knows of k: what it wrote, or else what
// the update before it wrote (inherit).
func (t *tx) lookup(k docKey) (*pending, bool) {
	if p, ok := t.pending[k]; ok {
		return p, true
	}
	if t.base != nil {
		p, ok := t.base.pending[k]
		return p, ok
	}
	return nil, false
}

// keysOf is the keys of table that the transaction wrote, in order.
func (t *tx) keysOf(table string) []string {
	ks := t.keys[table]
	if t.sorted[table] < len(ks) {
		slices.Sort(ks)
		t.sorted[table] = len(ks)
	}
	return ks
}

func (t *tx) Put(ctx context.Context, table, key string, v any) error {
	doc, err := projections.Keep(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	t.write(table, key, pending{doc: doc})
	return nil
}

func (t *tx) Delete(ctx context.Context, table, key string) error {
	t.write(table, key, pending{deleted: true})
	return nil
}

// write records p as what the transaction leaves at table/key. A key
// written again in the same transaction (a page's events often change a
// document, or mark the same thing, many times) takes the new value in
// place: one look-up, and nothing allocated.
func (t *tx) write(table, key string, p pending) {
	k := docKey{table, key}
	if old, ok := t.pending[k]; ok {
		*old = p
		return
	}
	if t.keys == nil {
		t.keys, t.sorted = map[string][]string{}, map[string]int{}
	}
	t.keys[table] = append(t.keys[table], key)
	kept := new(pending) // allocated here, so that p stays on the stack
	*kept = p
	t.pending[k] = kept
}

// ready encodes the documents the transaction wrote and sorts its keys,
// where its update ran: its commit, alone, then only writes them, and the
// next group's updates (UpdateEachAhead) read them without changing them.
// A document that cannot be encoded fails its update alone.
func (t *tx) ready() error {
	for k, p := range t.pending {
		if p.deleted {
			continue
		}
		if _, err := p.doc.Bytes(); err != nil {
			return fmt.Errorf("encode %s/%s: %w", k.table, k.key, err)
		}
	}
	for table := range t.keys {
		t.keysOf(table)
	}
	return nil
}

// inherit makes t read what from, the update of its consumer in the group
// before (UpdateEachAhead), wrote, as if it had written it, without
// writing it again: from's commit does.
func (t *tx) inherit(from *tx) { t.base = from }

// flush writes the gathered writes, table by table, in key order.
//
// bbolt rewrites every page a transaction touches and splits what no
// longer fits into pages half full, which suits writes anywhere in a
// table. A table whose writes all come after its last key (the audit
// entries, by position; every table of a rebuild's first page) would
// keep those half-full pages for ever, since no later write lands among
// them: its pages are filled whole instead.
func (t *tx) flush(btx *bbolt.Tx, appended map[string]bool) error {
	for _, table := range slices.Sorted(maps.Keys(t.keys)) {
		keys := t.keysOf(table)
		b, err := btx.CreateBucketIfNotExists([]byte(table))
		if err != nil {
			return err
		}
		last, _ := b.Cursor().Last()
		only, seen := appended[table]
		appended[table] = (!seen || only) && (last == nil || keys[0] > string(last))
		b.FillPercent = bbolt.DefaultFillPercent
		if appended[table] {
			b.FillPercent = 1
		}
		v, versioned := t.Versions(table)
		var into *bbolt.Bucket
		if versioned {
			if into, err = btx.CreateBucketIfNotExists([]byte(v.Into)); err != nil {
				return err
			}
		}
		for _, key := range keys {
			p := t.pending[docKey{table, key}]
			if versioned {
				if err := keepVersion(b, into, v, key, p.deleted); err != nil {
					return err
				}
			}
			var err error
			if p.deleted {
				err = b.Delete([]byte(key))
			} else {
				var doc []byte
				if doc, err = p.doc.Bytes(); err != nil {
					return fmt.Errorf("encode %s/%s: %w", table, key, err)
				}
				if versioned {
					doc = stamped(v.At, doc)
				}
				err = b.Put([]byte(key), doc)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// A stamped document (projections.Versions) is stored after a header: a
// zero byte, which no JSON document begins with, and the stamp's
// position, big-endian.
const stampHeader = 1 + 16

func stamped(at eventstore.Position, doc []byte) []byte {
	out := make([]byte, 0, stampHeader+len(doc))
	out = append(out, 0)
	out = append(out, writePosition(at)...)
	return append(out, doc...)
}

// body is a stored value's document, without its stamp.
func body(v []byte) []byte {
	if len(v) >= stampHeader && v[0] == 0 {
		return v[stampHeader:]
	}
	return v
}

// stampOf is a stored value's stamp (zero: none).
func stampOf(v []byte) eventstore.Position {
	if len(v) >= stampHeader && v[0] == 0 {
		return readPosition(v[1:stampHeader])
	}
	return eventstore.Position{}
}

// keepVersion keeps, before key is written or deleted, the document it
// replaces as a version if a snapshot still sees it, and a tombstone if it
// is deleted.
func keepVersion(b, into *bbolt.Bucket, v projections.Versions, key string, deleting bool) error {
	old := b.Get([]byte(key))
	if old == nil {
		return nil
	}
	if at, ok := v.Saves(stampOf(old)); ok {
		if err := into.Put([]byte(projections.VersionKey(v.Prefix, key, at)), slices.Clone(body(old))); err != nil {
			return err
		}
	}
	if deleting && v.Tombstones() {
		return into.Put([]byte(projections.VersionKey(v.Prefix, key, v.At)), projections.Tombstone)
	}
	return nil
}

// GetStamped implements projections.Stamped.
func (r reader) GetStamped(ctx context.Context, table string, keys []string, fn func(string, []byte, eventstore.Position) error) error {
	b := r.btx.Bucket([]byte(table))
	if b == nil {
		return nil
	}
	for _, k := range keys {
		if v := b.Get([]byte(k)); v != nil {
			if err := fn(k, body(v), stampOf(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanStamped implements projections.Stamped.
func (r reader) ScanStamped(ctx context.Context, table string, page projections.Page, fn func(string, []byte, eventstore.Position) error) error {
	return r.scan(table, page, func(k string, v []byte) error { return fn(k, body(v), stampOf(v)) })
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
