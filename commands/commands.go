// Package commands decides and records: each use case loads the aggregate it
// changes from the event store, asks the domain to decide, and appends the
// resulting events with the revision it read. Handlers are plain typed
// values; logging and conflict retries wrap them as decorators.
package commands

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

// Meta is what every command carries besides its payload.
type Meta struct {
	Caller domain.Actor
	// CommandID names the command: sent again, it has no new effect. With
	// an Idempotency-Key it derives from the key, the caller and the
	// command (ScopedCommandID); without one it is new for each request.
	CommandID     string
	CorrelationID string
	Time          time.Time
	// IdempotencyKey is the client's key, if it sent one; RequestHash
	// fingerprints the request it came with (see fingerprint in http.go).
	IdempotencyKey string
	RequestHash    string
	// Fresh says CommandID was made at random for this request alone, so
	// no event of it can be stored already and the event store need not
	// look their ids up (eventstore.WithNewIDs). A command id derived
	// from anything else (a key, a cause) is never fresh; one derived from
	// an Idempotency-Key skips the look-up where its load found nothing of
	// it in the stream (see save).
	Fresh bool
}

// ErrIdempotencyKeyReused: the key was sent before with another request.
var ErrIdempotencyKeyReused = domain.NewError(domain.Invalid, "idempotency-key-reused",
	"this Idempotency-Key was sent before with another request; use a new key for a new request")

// ScopedCommandID is the command id of an Idempotency-Key: the same key
// names a different command for another account, another user or another
// kind of command (scope: method and route), so nobody can replay or
// block what someone else did with a key they guessed or reused.
func ScopedCommandID(caller domain.Actor, scope, key string) string {
	var buf [nameBuffer]byte
	name := append(append(named(&buf), "idempotency\x00"...), caller.Account...)
	name = append(append(append(append(name, 0), caller.User...), 0), scope...)
	return nameID(append(append(name, 0), key...))
}

// Result is what a command did.
type Result struct {
	// ID names what the command created, if anything.
	ID string `json:"id,omitempty"`
	// Stream and Position of the last event; reads that pass Position see
	// the command's effects.
	Stream   string              `json:"stream"`
	Position eventstore.Position `json:"position"`
	Events   int                 `json:"events"`
	// Replayed is true when the command had been handled before.
	Replayed bool `json:"replayed"`
	// Details says more about what the command did, where a command has
	// more to say (a replayed command does not repeat it).
	Details any `json:"details,omitempty"`
}

// Handler handles one kind of command.
type Handler[C any] interface {
	Handle(ctx context.Context, c C) (Result, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[C any] func(ctx context.Context, c C) (Result, error)

// Handle calls f.
func (f HandlerFunc[C]) Handle(ctx context.Context, c C) (Result, error) { return f(ctx, c) }

// WithRetry retries a handler whose append lost a race with another writer
// (the stream moved between read and append), at most attempts times. It
// waits a random, growing pause between attempts so that writers racing on
// one stream spread out instead of colliding again.
func WithRetry[C any](h Handler[C], attempts int) Handler[C] {
	return HandlerFunc[C](func(ctx context.Context, c C) (Result, error) {
		var err error
		for attempt := range attempts {
			if attempt > 0 {
				pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
				select {
				case <-time.After(pause):
				case <-ctx.Done():
					return Result{}, ctx.Err()
				}
			}
			var res Result
			attempt, release := withHeld(ctx, attempt > 0)
			res, err = h.Handle(attempt, c)
			release()
			if !errors.Is(err, eventstore.ErrWrongExpectedVersion) && !errors.Is(err, eventstore.ErrIdempotency) {
				return res, err
			}
		}
		return Result{}, err
	})
}

// WithLogging logs every command's outcome.
func WithLogging[C any](h Handler[C], log *slog.Logger, name string) Handler[C] {
	return HandlerFunc[C](func(ctx context.Context, c C) (Result, error) {
		start := time.Now()
		res, err := h.Handle(ctx, c)
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelWarn
		}
		// Checked first: building the attributes costs allocations
		// that a disabled level would throw away.
		if log.Enabled(ctx, level) {
			log.Log(ctx, level, "command", "name", name, "position", res.Position.String(), "replayed", res.Replayed,
				"took", time.Since(start), "err", err)
		}
		return res, err
	})
}

// Decorate makes a use case function a Handler with the standard
// decorators: conflict retries inside, then metrics (m may be nil), then
// logging outside.
func Decorate[C any](f func(context.Context, C) (Result, error), log *slog.Logger, name string, m *Metrics) Handler[C] {
	return WithLogging(WithMetrics(WithRetry[C](HandlerFunc[C](f), 10), m, name), log, name)
}

// Repo loads and appends aggregates' events.
type Repo struct {
	Events   eventstore.Store
	Registry *domain.Registry
	// Cache, if set, keeps folded states so a load folds only the events
	// appended since.
	Cache *StateCache
	// Locks, if set, makes this process's commands that change one stream
	// wait for each other instead of colliding (see StreamLocks).
	Locks *StreamLocks
	// SnapshotEvery, if positive, saves an aggregate's state in the event
	// store after every so many events folded, so that a load that misses
	// the cache (after a restart, or an eviction) folds only the events
	// after the snapshot. A large state waits longer (snapshot).
	SnapshotEvery int
	// Metrics, if set, counts appended events and command latencies.
	Metrics *Metrics
}

// Loaded is a stream as a handler read it.
type Loaded struct {
	Stream string
	last   uint64
	exists bool
	// done holds the positions of the events that the loading command
	// appended before, if it was handled before; unseen says that it was
	// looked up (it carries an Idempotency-Key) and not found.
	done   []eventstore.Position
	unseen bool
	// guard, if set, is the revision of another stream that the command
	// decided on: the append requires it unchanged, and expects nothing of
	// this stream (see Guarded).
	guard *eventstore.Guard
}

// Aggregate is a domain aggregate the repository keeps folded: it brings
// itself up to date with stored events, copies itself for a handler to
// decide on, and estimates its memory.
type Aggregate[A any] interface {
	Replay(events ...domain.Event)
	Clone() A
	Footprint() int64
	// SnapshotVersion names the fold a snapshot holds (empty: never
	// snapshotted); Snapshot encodes the state, Restore sets it.
	SnapshotVersion() string
	Snapshot() ([]byte, error)
	Restore(data []byte) error
}

// LoadState loads the aggregate of a stream that a command changes or
// reads: the cached state, brought up to date with the events appended
// since it was cached (all of them, folded into empty() the first time),
// as a copy the handler may change. A command sent with an
// Idempotency-Key that was handled before finds its first outcome
// (Loaded.Replayed); one whose key was used before with another request
// is refused. Nothing here costs more as the stream grows, once its state
// is cached.
func LoadState[A Aggregate[A]](ctx context.Context, r Repo, stream string, m Meta, empty func() A) (*Loaded, A, error) {
	var zero A
	if m.CommandID != "" {
		// A load for a command (not a read of another stream, which
		// passes an empty Meta) is of a stream the command may change.
		r.lockFor(ctx, stream)
	}
	key := stateKey{stream, reflect.TypeFor[A]()}
	c, ok := r.Cache.get(key)
	state, owned := zero, false
	if ok {
		state = c.state.(A)
	} else {
		state, owned = restore(ctx, r, stream, empty, &c), true
		c.key = key
	}
	const page = 1000
	for {
		from := uint64(0)
		if c.exists {
			from = c.last + 1
		}
		recs, err := r.Events.ReadStream(ctx, stream, from, page)
		if err != nil {
			return nil, zero, fmt.Errorf("load %s: %w", stream, err)
		}
		if len(recs) > 0 {
			events := make([]domain.Event, len(recs))
			for i, rec := range recs {
				if events[i], err = r.Registry.Decode(rec.Type, rec.Version, rec.Data); err != nil {
					return nil, zero, fmt.Errorf("load %s: %w", stream, err)
				}
			}
			if !owned {
				state, owned = state.Clone(), true
			}
			state.Replay(events...)
			c.last, c.exists = recs[len(recs)-1].Revision, true
			c.folded += len(recs)
		}
		if len(recs) < page {
			break
		}
	}
	if owned && c.exists {
		r.snapshot(ctx, stream, state, &c)
		c.state, c.bytes = state, state.Footprint()
		r.Cache.put(c)
		state = state.Clone()
	} else if !owned {
		state = state.Clone()
	}
	l := &Loaded{Stream: stream, last: c.last, exists: c.exists}
	if err := r.lookUpReplay(ctx, l, m); err != nil {
		return nil, zero, err
	}
	return l, state, nil
}

// restore starts a load that missed the cache: from the stream's snapshot
// when there is one of the aggregate's fold, else from the empty state.
func restore[A Aggregate[A]](ctx context.Context, r Repo, stream string, empty func() A, c *cached) A {
	state := empty()
	if r.SnapshotEvery <= 0 || state.SnapshotVersion() == "" {
		return state
	}
	snap, found, err := r.Events.LoadSnapshot(ctx, stream)
	if err != nil || !found || snap.Version != state.SnapshotVersion() {
		return state // none, or of another fold: fold from the start
	}
	if err := state.Restore(snap.Data); err != nil {
		return empty()
	}
	c.last, c.exists = snap.Revision, true
	return state
}

// Decided is an aggregate whose decisions record events.
type Decided[A any] interface {
	Aggregate[A]
	Changes() []domain.Event
}

// Change is the pipeline of every use case that changes one aggregate:
// load its state (LoadState), answer a command sent again with its first
// outcome, decide, and append what the decision recorded with the
// revision read. id names what the command creates, if anything; decide
// may say more about what it did (details) and sees whether the stream
// existed.
func Change[A Decided[A]](ctx context.Context, r Repo, stream string, m Meta, empty func() A, id string, decide func(l *Loaded, a A) (details any, err error)) (Result, error) {
	l, a, err := LoadState(ctx, r, stream, m, empty)
	if err != nil {
		return Result{}, err
	}
	if res, ok := l.Replayed(id); ok {
		return res, nil
	}
	details, err := decide(l, a)
	if err != nil {
		return Result{}, err
	}
	res, err := r.Save(ctx, l, m, id, a.Changes())
	res.Details = details
	return res, err
}

// Guarded is the pipeline of a use case that decides on one aggregate
// without changing it and records its decision in a stream of its own
// (target), so that such commands do not contend with each other on the
// aggregate's stream: a design sent to a shared device is decided on the
// partnership (the device must be shared with the caller today, and in
// the project) and recorded in the pair's stream of that device's
// transfers. The append requires the aggregate's stream still at the
// revision decided on (eventstore.Guard), so nothing that changed it in
// between (the device unshared a moment before) is overtaken; a lost race
// is retried like any conflict. Such commands hold the aggregate's stream
// lock shared, so in one process they wait only for commands that change
// it. A store that cannot guard an append (EventStoreDB) gets the decision
// appended to the aggregate's own stream, as Change does: correct, only
// contended. The decision must record nothing that the aggregate's fold
// reads.
func Guarded[A Decided[A]](ctx context.Context, r Repo, on, target string, m Meta, empty func() A, id string, decide func(a A) (details any, err error)) (Result, error) {
	guarded, ok := r.Events.(eventstore.Guarded)
	if !ok {
		return Change(ctx, r, on, m, empty, id, func(_ *Loaded, a A) (any, error) { return decide(a) })
	}
	// A command sent again finds what it appended the first time, in the
	// target or, if it was handled before its decisions moved there, in
	// the aggregate's own stream.
	for _, stream := range []string{target, on} {
		l := &Loaded{Stream: stream}
		if err := r.lookUpReplay(ctx, l, m); err != nil {
			return Result{}, err
		}
		if res, ok := l.Replayed(id); ok {
			return res, nil
		}
	}
	l := &Loaded{Stream: target}
	r.shareLockFor(ctx, on)
	decided, a, err := LoadState(ctx, r, on, Meta{}, empty)
	if err != nil {
		return Result{}, err
	}
	details, err := decide(a)
	if err != nil {
		return Result{}, err
	}
	l.guard = &eventstore.Guard{Stream: on, Expected: eventstore.After(decided.last, decided.exists)}
	res, err := r.save(ctx, l, m, id, a.Changes(), guarded)
	res.Details = details
	return res, err
}

// Create is the pipeline of every use case that starts a new stream: answer
// a command sent again with its first outcome, refuse a stream that exists
// already with taken, and append what create records. id names what the
// command creates.
func Create(ctx context.Context, r Repo, stream string, m Meta, id string, taken error, create func() ([]domain.Event, error)) (Result, error) {
	l, err := r.LoadFor(ctx, stream, m)
	if err != nil {
		return Result{}, err
	}
	if res, ok := l.Replayed(id); ok {
		return res, nil
	}
	if l.Exists() {
		return Result{}, taken
	}
	events, err := create()
	if err != nil {
		return Result{}, err
	}
	return r.Save(ctx, l, m, id, events)
}

// ErrStreamExists: a stream that a command would start exists already
// (its id derives from another command's).
var ErrStreamExists = domain.NewError(domain.Conflict, "already-exists", "what this command would create exists already")

// LoadFor loads a stream that a command changes without deciding on its
// events (a stream whose existence is all that matters), remembering what
// the command appended if it was handled before.
func (r Repo) LoadFor(ctx context.Context, stream string, m Meta) (*Loaded, error) {
	l, _, err := LoadState(ctx, r, stream, m, func() existence { return existence{} })
	return l, err
}

// snapshot saves the state after every SnapshotEvery events folded, and
// not before the events folded since the last outweigh the state (one
// event for every snapshotWeight bytes of its Footprint): a snapshot
// encodes the whole state, so a fleet of 100,000 vehicles snapshotted
// every 1,000 events cost every command more than the command itself
// (docs/benchmarks.md). A load that misses the cache then decodes the
// state and folds at most as many events as the state is large. A
// snapshot is only a shortcut: one that fails to save is left for the
// next one.
func (r Repo) snapshot(ctx context.Context, stream string, state interface {
	SnapshotVersion() string
	Snapshot() ([]byte, error)
	Footprint() int64
}, c *cached) {
	if r.SnapshotEvery <= 0 || c.folded < r.SnapshotEvery || state.SnapshotVersion() == "" ||
		int64(c.folded) < state.Footprint()/snapshotWeight {
		return
	}
	data, err := state.Snapshot()
	if err != nil {
		return
	}
	snap := eventstore.Snapshot{Revision: c.last, Version: state.SnapshotVersion(), Data: data}
	if err := r.Events.SaveSnapshot(ctx, stream, snap); err == nil {
		c.folded = 0
		r.Metrics.snapshotSaved()
	}
}

// snapshotWeight is the bytes of a state's Footprint that one folded
// event outweighs, for snapshots.
const snapshotWeight = 256

// existence is the state of a stream whose events no rule reads.
type existence struct{}

func (existence) Replay(...domain.Event)    {}
func (existence) Clone() existence          { return existence{} }
func (existence) Footprint() int64          { return 64 }
func (existence) SnapshotVersion() string   { return "" }
func (existence) Snapshot() ([]byte, error) { return nil, nil }
func (existence) Restore([]byte) error      { return nil }

// lookUpReplay remembers in l what a command sent with an Idempotency-Key
// appended before, and refuses a key sent again with another request.
func (r Repo) lookUpReplay(ctx context.Context, l *Loaded, m Meta) error {
	if m.IdempotencyKey == "" {
		// Without a key, the command's id is new: nothing to look up.
		return nil
	}
	done, hash, err := r.handled(ctx, l.Stream, m.CommandID)
	if err != nil {
		return err
	}
	if len(done) > 0 && hash != "" && m.RequestHash != "" && hash != m.RequestHash {
		return ErrIdempotencyKeyReused
	}
	l.done, l.unseen = done, len(done) == 0
	return nil
}

// handled looks up what a command appended to a stream before: the
// positions of its events and the fingerprint of its request. It asks the
// store for the command's first event by id, then reads on from there:
// the cost does not depend on the stream's length.
func (r Repo) handled(ctx context.Context, stream, cmdID string) ([]eventstore.Position, string, error) {
	first, found, err := r.Events.Lookup(ctx, stream, EventID(cmdID, stream, 0))
	if err != nil || !found {
		return nil, "", err
	}
	recs, err := r.Events.ReadStream(ctx, stream, first.Revision, MaxEventsPerCommand)
	if err != nil {
		return nil, "", fmt.Errorf("load %s: %w", stream, err)
	}
	var done []eventstore.Position
	for i, rec := range recs {
		if rec.ID != EventID(cmdID, stream, i) {
			break
		}
		done = append(done, rec.Position)
	}
	return done, first.Meta.RequestHash, nil
}

// MaxEventsPerCommand bounds what one command appends to one stream (the
// largest is an invitation file of 20,000 rows).
const MaxEventsPerCommand = 20_001

// Exists says whether the stream has events.
func (l *Loaded) Exists() bool { return l.exists }

// Replayed returns the first outcome of a command that was handled before.
func (l *Loaded) Replayed(id string) (Result, bool) {
	if len(l.done) == 0 {
		return Result{}, false
	}
	return Result{ID: id, Stream: l.Stream, Position: l.done[len(l.done)-1], Events: len(l.done), Replayed: true}, true
}

// Save appends changes to the loaded stream, expecting it unchanged since
// it was read. Event IDs derive from the command ID, so two instances that
// handle the same command at once cannot both append it.
func (r Repo) Save(ctx context.Context, l *Loaded, m Meta, id string, changes []domain.Event) (Result, error) {
	return r.save(ctx, l, m, id, changes, nil)
}

func (r Repo) save(ctx context.Context, l *Loaded, m Meta, id string, changes []domain.Event, guarded eventstore.Guarded) (Result, error) {
	if len(changes) == 0 {
		return Result{ID: id, Stream: l.Stream}, nil
	}
	events := make([]eventstore.Event, len(changes))
	for i, c := range changes {
		data, err := json.Marshal(c)
		if err != nil {
			return Result{}, fmt.Errorf("encode %s: %w", c.EventType(), err)
		}
		events[i] = eventstore.Event{
			ID:      EventID(m.CommandID, l.Stream, i),
			Type:    c.EventType(),
			Version: c.EventVersion(),
			Data:    data,
			Meta: eventstore.Meta{
				User: string(m.Caller.User), Account: string(m.Caller.Account),
				CommandID: m.CommandID, CorrelationID: m.CorrelationID, Time: m.Time.UTC(),
				IdempotencyKey: m.IdempotencyKey, RequestHash: m.RequestHash,
			},
		}
	}
	var res eventstore.AppendResult
	var err error
	// The store need not look the events' ids up when they cannot be
	// stored yet: the command's id was made for it (its first attempt),
	// or the load looked its first event up in this stream after reading
	// the revision that the append expects, and found nothing (its events
	// go in one append, and an append of them since would have moved the
	// revision). A guarded append expects no revision of its stream.
	if freshIDs(ctx, m) || (l.unseen && l.guard == nil) {
		ctx = eventstore.WithNewIDs(ctx)
	}
	if l.guard != nil {
		// The guard is the decision's condition; what the target holds
		// does not matter (its events share no rule), so it expects any.
		res, err = guarded.AppendGuarded(ctx, l.Stream, eventstore.Any(), *l.guard, events...)
	} else {
		res, err = r.Events.Append(ctx, l.Stream, eventstore.After(l.last, l.exists), events...)
	}
	if err != nil {
		return Result{}, fmt.Errorf("append to %s: %w", l.Stream, err)
	}
	r.Metrics.appendedEvents(len(events))
	return Result{ID: id, Stream: l.Stream, Position: res.Position, Events: len(events)}, nil
}

var namespace = uuid.MustParse("6f1c3c52-57d5-4c8e-9d0f-3c1c5a0e2b11")

// EventID is the ID of the i-th event a command appends to a stream.
func EventID(commandID, stream string, i int) string {
	var buf [nameBuffer]byte
	name := append(append(append(append(named(&buf), commandID...), 0), stream...), 0)
	return nameID(strconv.AppendInt(name, int64(i), 10))
}

// NewID derives the ID of something a command creates from the command's ID,
// so that the command sent again names the same thing.
func NewID(commandID, kind string) string {
	var buf [nameBuffer]byte
	return nameID(append(append(append(named(&buf), kind...), 0), commandID...))
}

// nameBuffer is the stack buffer a name is built in: longer names grow
// it onto the heap.
const nameBuffer = 256

// named starts a name in buf with the commands' namespace, which the
// hash of a name-based UUID covers first.
func named(buf *[nameBuffer]byte) []byte { return append(buf[:0], namespace[:]...) }

// nameID is the name-based UUID (RFC 9562, version 5: SHA-1) of a name
// begun by named, as uuid.NewSHA1 makes it, without its hash's and
// buffers' allocations: every command makes one for each event.
func nameID(name []byte) string {
	sum := sha1.Sum(name)
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 5<<4 // version 5
	id[8] = id[8]&0x3f | 0x80 // the RFC's variant
	return id.String()
}
