// Package eventstore is the port through which ShareLedger appends and reads
// its immutable events. Implementations live in sub-packages (bolt for the
// embedded default) and all pass the suite in storetest.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Position is a place in the global order of all events. Stores with a
// single sequence use the same number for both halves; EventStoreDB's $all
// positions are (commit, prepare) pairs. The zero Position is "before the
// first event".
type Position struct {
	Commit  uint64
	Prepare uint64
}

// At returns the position of a store that numbers events 1, 2, 3...
func At(seq uint64) Position { return Position{Commit: seq, Prepare: seq} }

// Less orders positions.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

// IsZero says whether p is the start of the log.
func (p Position) IsZero() bool { return p == Position{} }

// String writes "42" for single-sequence stores and "42.40" for pairs.
func (p Position) String() string {
	if p.Commit == p.Prepare {
		return strconv.FormatUint(p.Commit, 10)
	}
	return strconv.FormatUint(p.Commit, 10) + "." + strconv.FormatUint(p.Prepare, 10)
}

// ParsePosition reads what String wrote.
func ParsePosition(s string) (Position, error) {
	c, pr, pair := strings.Cut(s, ".")
	commit, err := strconv.ParseUint(c, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	if !pair {
		return At(commit), nil
	}
	prepare, err := strconv.ParseUint(pr, 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	return Position{Commit: commit, Prepare: prepare}, nil
}

// MarshalText writes a position as String does.
func (p Position) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a position.
func (p *Position) UnmarshalText(b []byte) error {
	v, err := ParsePosition(string(b))
	*p = v
	return err
}

// Meta is what every event carries besides its payload: who did it, for
// which account, when, and which command and conversation caused it.
type Meta struct {
	User          string    `json:"user"`
	Account       string    `json:"account"`
	CommandID     string    `json:"commandId"`
	CorrelationID string    `json:"correlationId"`
	CausationID   string    `json:"causationId,omitempty"`
	Time          time.Time `json:"time"`
	// IdempotencyKey is the client's Idempotency-Key, when it sent one.
	// The command id derives from it, the caller and the command, so one
	// key names different commands for different callers.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// RequestHash fingerprints the request that caused the event (method,
	// path and body) when it carried an Idempotency-Key, so that the key
	// sent again with another request is refused, not replayed.
	RequestHash string `json:"requestHash,omitempty"`
}

// Event is an event to append.
type Event struct {
	ID      string // a UUID; appending the same IDs again appends nothing
	Type    string
	Version int
	Data    []byte // JSON
	Meta    Meta
}

// Snapshot is the folded state of a stream's aggregate right after the
// event at Revision. Version names the fold that made Data: a changed
// fold gets a new version, and snapshots of other versions are ignored.
type Snapshot struct {
	Revision uint64 `json:"revision"`
	Version  string `json:"version"`
	Data     []byte `json:"data"`
}

// Record is a stored event.
type Record struct {
	Event
	Stream   string
	Revision uint64 // 0 for a stream's first event
	Position Position
}

// Expected is the state a stream must be in for an append to go through.
type Expected struct {
	kind     expectKind
	revision uint64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectExists
	expectRevision
)

// Any accepts whatever the stream holds.
func Any() Expected { return Expected{kind: expectAny} }

// NoStream requires that the stream has no events yet.
func NoStream() Expected { return Expected{kind: expectNoStream} }

// StreamExists requires at least one event in the stream.
func StreamExists() Expected { return Expected{kind: expectExists} }

// Exactly requires that the stream's last event has revision rev.
func Exactly(rev uint64) Expected { return Expected{kind: expectRevision, revision: rev} }

// After is the expectation of a writer that read the stream up to its last
// revision (exists=false: it found nothing).
func After(last uint64, exists bool) Expected {
	if !exists {
		return NoStream()
	}
	return Exactly(last)
}

// Check reports whether a stream whose last revision is last (exists=false:
// no events) satisfies e.
func (e Expected) Check(last uint64, exists bool) bool {
	switch e.kind {
	case expectNoStream:
		return !exists
	case expectExists:
		return exists
	case expectRevision:
		return exists && last == e.revision
	}
	return true
}

// Kind-specific accessors, for adapters that map expectations to their own API.

// IsAny says whether e accepts any state.
func (e Expected) IsAny() bool { return e.kind == expectAny }

// IsNoStream says whether e requires an empty stream.
func (e Expected) IsNoStream() bool { return e.kind == expectNoStream }

// IsStreamExists says whether e requires a non-empty stream.
func (e Expected) IsStreamExists() bool { return e.kind == expectExists }

// Revision returns the exact revision e requires, if it requires one.
func (e Expected) Revision() (uint64, bool) { return e.revision, e.kind == expectRevision }

func (e Expected) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectExists:
		return "stream exists"
	case expectRevision:
		return "revision " + strconv.FormatUint(e.revision, 10)
	}
	return "any"
}

// AppendResult is where an append left the stream and the log.
type AppendResult struct {
	LastRevision uint64   // revision of the last event appended
	Position     Position // position of the last event appended
}

var (
	// ErrWrongExpectedVersion: the stream was not in the expected state.
	ErrWrongExpectedVersion = errors.New("wrong expected version")
	// ErrIdempotency: some but not all of the event IDs were stored before,
	// or they were stored in another stream: a client reused IDs.
	ErrIdempotency = errors.New("event ids reused for different events")
	// ErrInvalid: the append itself is malformed.
	ErrInvalid = errors.New("invalid append")
)

// WrongVersionError says what a stream held when an append expected otherwise.
type WrongVersionError struct {
	Stream   string
	Expected Expected
	Last     uint64
	Exists   bool
}

func (e *WrongVersionError) Error() string {
	actual := "no stream"
	if e.Exists {
		actual = "revision " + strconv.FormatUint(e.Last, 10)
	}
	return fmt.Sprintf("append to %s: expected %s, stream is at %s", e.Stream, e.Expected, actual)
}

// Unwrap lets errors.Is match ErrWrongExpectedVersion.
func (e *WrongVersionError) Unwrap() error { return ErrWrongExpectedVersion }

// Guard is a condition on another stream that a guarded append requires
// as well: the append goes through only if, at the moment it is written,
// the guard's stream is in the Expected state. A command that decides on
// one stream (a partnership's shares) and records its decision in another
// (a design transfer to one shared device) guards its append with the
// revision it decided on, so that nothing that changed the first stream in
// between can be overtaken.
type Guard struct {
	Stream   string
	Expected Expected
}

// Guarded is a store that checks a guard in the same atomic step as the
// append it guards. Pebble and PostgreSQL are; EventStoreDB (whose client
// appends to one stream at a time, with no condition on another) is not,
// and commands then record such decisions in the guard's own stream.
type Guarded interface {
	// AppendGuarded is Append that also requires guard. A guard that
	// does not hold fails like a wrong expected version, with a
	// WrongVersionError naming the guard's stream. Events appended before
	// (the same ids, order and stream) answer their first result whatever
	// the guard's stream holds now, as Append does.
	AppendGuarded(ctx context.Context, stream string, expected Expected, guard Guard, events ...Event) (AppendResult, error)
}

// Handler receives records in order; an error stops the subscription.
type Handler func(ctx context.Context, batch []Record) error

// Store is the event store port.
type Store interface {
	// Append adds events to the end of a stream if it is in the expected
	// state. Appending events whose IDs were all appended before, in the
	// same order to the same stream, appends nothing and returns the first
	// append's result, whatever the stream holds now.
	Append(ctx context.Context, stream string, expected Expected, events ...Event) (AppendResult, error)
	// ReadStream returns up to limit events of a stream from revision from
	// on; a stream that does not exist reads as empty.
	ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]Record, error)
	// Lookup returns the event of a stream with this id, if it is stored:
	// how a command sent again finds what it appended the first time,
	// whatever the length of the stream. Stores that index events by id
	// answer from the index; EventStoreDB, which has none, reads the
	// stream backwards from its end, up to a configured number of events.
	Lookup(ctx context.Context, stream, id string) (Record, bool, error)
	// SaveSnapshot keeps the folded state of a stream's aggregate at a
	// revision, replacing an older one, or one of another version (a
	// changed fold); LoadSnapshot returns the one kept.
	// Snapshots are derived and may be lost: they are never part of the
	// log (ReadAll and Subscribe never see them), and a load without one
	// folds the stream from its start.
	SaveSnapshot(ctx context.Context, stream string, s Snapshot) error
	LoadSnapshot(ctx context.Context, stream string) (Snapshot, bool, error)
	// ReadAll returns up to limit events of every stream after position.
	ReadAll(ctx context.Context, after Position, limit int) ([]Record, error)
	// Subscribe calls h with every event after position, in order: first
	// the ones stored, then new ones as they are appended. It returns when
	// ctx ends (with nil) or h fails (with its error).
	Subscribe(ctx context.Context, after Position, h Handler) error
	// Head is the position of the last stored event.
	Head(ctx context.Context) (Position, error)
	Close() error
}

type newIDsKey struct{}

// WithNewIDs marks the appends made with ctx as carrying event ids that no
// stored event has: ids derived from a command id made at random for one
// request, or ids the caller looked up after reading the revision that the
// append expects and did not find (an append of them since would have
// moved that revision). A store may then skip looking them up (is this
// append a repeat of one stored already?), a read of its index that costs
// more as the log grows; it decides the append as it would otherwise,
// expected revision first. The caller makes a promise: an append so marked
// that repeats one stored already may be stored twice. A store that
// ignores the mark stays correct.
func WithNewIDs(ctx context.Context) context.Context {
	return context.WithValue(ctx, newIDsKey{}, true)
}

// HasNewIDs says whether ctx carries the mark of WithNewIDs.
func HasNewIDs(ctx context.Context) bool {
	v, _ := ctx.Value(newIDsKey{}).(bool)
	return v
}

// Validate checks an append's arguments; every implementation calls it.
func Validate(stream string, events []Event) error {
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", ErrInvalid)
	}
	if strings.ContainsRune(stream, 0) {
		return fmt.Errorf("%w: stream name holds a NUL byte", ErrInvalid)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: no events", ErrInvalid)
	}
	seen := make(map[string]bool, len(events))
	for i, e := range events {
		if e.ID == "" || e.Type == "" {
			return fmt.Errorf("%w: event %d has no id or type", ErrInvalid, i)
		}
		if seen[e.ID] {
			return fmt.Errorf("%w: event id %s appears twice", ErrInvalid, e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}
