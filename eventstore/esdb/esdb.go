// Package esdb is the event store on EventStoreDB, through the official Go
// client (EventStore-Client-Go v4). Stream names, revisions and $all
// positions map one to one; ShareLedger's metadata and schema version
// travel in each event's custom metadata.
package esdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/shareledger/shareledger/eventstore"
)

// Config configures the store.
type Config struct {
	// URL is an EventStoreDB connection string, e.g.
	// esdb://127.0.0.1:2113?tls=false or esdb+discover://host:2113.
	URL string
	// EventTypes are the stored event types subscriptions ask the server
	// for (a server-side filter on type prefixes); empty: every
	// non-system event.
	EventTypes []string
	Logger     *slog.Logger
	// Retry is the pause before a dropped subscription resumes.
	Retry time.Duration
	// LookupWindow is how many of a stream's last events Lookup reads
	// (EventStoreDB has no index of event ids): a command sent again
	// finds its first outcome while fewer events than this were appended
	// to its stream since (default 10,000).
	LookupWindow int
}

// Store is the EventStoreDB event store.
type Store struct {
	client *esdb.Client
	cfg    Config
	closed chan struct{}
	once   sync.Once
}

// envelope is what ShareLedger keeps in an event's custom metadata.
type envelope struct {
	Version int             `json:"v"`
	Meta    eventstore.Meta `json:"meta"`
}

// Open connects (lazily: the client dials on first use).
func Open(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.LookupWindow <= 0 {
		cfg.LookupWindow = 10_000
	}
	settings, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb connection string: %w", err)
	}
	client, err := esdb.NewClient(settings)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb: %w", err)
	}
	return &Store{client: client, cfg: cfg, closed: make(chan struct{})}, nil
}

// Close closes the client; subscriptions end.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.closed) })
	return s.client.Close()
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func expected(e eventstore.Expected) esdb.ExpectedRevision {
	if rev, ok := e.Revision(); ok {
		return esdb.Revision(rev)
	}
	switch {
	case e.IsNoStream():
		return esdb.NoStream{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	}
	return esdb.Any{}
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, exp eventstore.Expected, events ...eventstore.Event) (eventstore.AppendResult, error) {
	if err := eventstore.Validate(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		id, err := uuid.Parse(e.ID)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("%w: event id %q is not a UUID", eventstore.ErrInvalid, e.ID)
		}
		meta, err := json.Marshal(envelope{Version: e.Version, Meta: e.Meta})
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		body := e.Data
		if len(body) == 0 {
			body = []byte("null")
		}
		data[i] = esdb.EventData{EventID: id, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: body, Metadata: meta}
	}
	res, err := s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expected(exp)}, data...)
	if err == nil {
		return eventstore.AppendResult{LastRevision: res.NextExpectedVersion, Position: eventstore.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition}}, nil
	}
	var ee *esdb.Error
	if !errors.As(err, &ee) || ee.Code() != esdb.ErrorCodeWrongExpectedVersion {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	// The same events appended before (a retried command) also land here:
	// look for them, and answer as the first append did.
	recs, rerr := s.ReadStream(ctx, stream, 0, 0)
	if rerr != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, rerr)
	}
	if res, ok, err := replayed(stream, recs, events); ok || err != nil {
		return res, err
	}
	wrong := &eventstore.WrongVersionError{Stream: stream, Expected: exp}
	if len(recs) > 0 {
		wrong.Last, wrong.Exists = recs[len(recs)-1].Revision, true
	}
	return eventstore.AppendResult{}, wrong
}

func replayed(stream string, recs []eventstore.Record, events []eventstore.Event) (eventstore.AppendResult, bool, error) {
	at := -1
	for i, r := range recs {
		if r.ID == events[0].ID {
			at = i
			break
		}
	}
	if at < 0 {
		return eventstore.AppendResult{}, false, nil
	}
	if at+len(events) > len(recs) {
		return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: %w", stream, eventstore.ErrIdempotency)
	}
	for i, e := range events {
		if recs[at+i].ID != e.ID {
			return eventstore.AppendResult{}, false, fmt.Errorf("append to %s: %w", stream, eventstore.ErrIdempotency)
		}
	}
	last := recs[at+len(events)-1]
	return eventstore.AppendResult{LastRevision: last.Revision, Position: last.Position}, true, nil
}

func count(limit int) uint64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return uint64(limit)
}

// snapshotType is the event type of snapshots: a system type (it starts
// with $), so reads of the log and subscriptions skip it.
const snapshotType = "$shareledger-snapshot"

// snapshotStream is where a stream's snapshots go; a real server should
// keep one event of each ($maxCount 1), which an operator sets on the
// category, or a scavenge reclaims.
func snapshotStream(stream string) string { return "snapshot-" + stream }

// SaveSnapshot implements eventstore.Store as an event of a system type in
// the stream's snapshot stream.
func (s *Store) SaveSnapshot(ctx context.Context, stream string, snap eventstore.Snapshot) error {
	if old, found, err := s.LoadSnapshot(ctx, stream); err != nil {
		return err
	} else if found && old.Revision >= snap.Revision && old.Version == snap.Version {
		return nil
	}
	body, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	_, err = s.client.AppendToStream(ctx, snapshotStream(stream), esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}},
		esdb.EventData{EventID: uuid.New(), EventType: snapshotType, ContentType: esdb.ContentTypeJson, Data: body})
	if err != nil {
		return fmt.Errorf("save snapshot of %s: %w", stream, err)
	}
	return nil
}

// LoadSnapshot implements eventstore.Store: the last event of the
// stream's snapshot stream.
func (s *Store) LoadSnapshot(ctx context.Context, stream string) (eventstore.Snapshot, bool, error) {
	rs, err := s.client.ReadStream(ctx, snapshotStream(stream), esdb.ReadStreamOptions{From: esdb.End{}, Direction: esdb.Backwards}, 1)
	if err != nil {
		return eventstore.Snapshot{}, false, fmt.Errorf("load snapshot of %s: %w", stream, err)
	}
	defer rs.Close()
	ev, err := rs.Recv()
	var ee *esdb.Error
	if errors.Is(err, io.EOF) || (errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound) {
		return eventstore.Snapshot{}, false, nil
	}
	if err != nil {
		return eventstore.Snapshot{}, false, fmt.Errorf("load snapshot of %s: %w", stream, err)
	}
	var snap eventstore.Snapshot
	if e := ev.OriginalEvent(); e == nil || json.Unmarshal(e.Data, &snap) != nil {
		return eventstore.Snapshot{}, false, nil // unreadable: fold from the start
	}
	return snap, true, nil
}

// Lookup implements eventstore.Store by reading the stream backwards from
// its end, at most LookupWindow events.
func (s *Store) Lookup(ctx context.Context, stream, id string) (eventstore.Record, bool, error) {
	rs, err := s.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.End{}, Direction: esdb.Backwards}, uint64(s.cfg.LookupWindow))
	if err != nil {
		return eventstore.Record{}, false, fmt.Errorf("look up %s in %s: %w", id, stream, err)
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return eventstore.Record{}, false, nil
		}
		var ee *esdb.Error
		if errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound {
			return eventstore.Record{}, false, nil
		}
		if err != nil {
			return eventstore.Record{}, false, fmt.Errorf("look up %s in %s: %w", id, stream, err)
		}
		rec, ok, err := record(ev)
		if err != nil {
			return eventstore.Record{}, false, err
		}
		if ok && rec.ID == id {
			return rec, true, nil
		}
	}
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Record, error) {
	rs, err := s.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Revision(from), Direction: esdb.Forwards}, count(limit))
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	defer rs.Close()
	var out []eventstore.Record
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		var ee *esdb.Error
		if errors.As(err, &ee) && ee.Code() == esdb.ErrorCodeResourceNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		rec, ok, err := record(ev)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
}

// ReadAll implements eventstore.Store. $all reads from a position include
// it; the port's read is after it, so that event is skipped.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Record, error) {
	var from esdb.AllPosition = esdb.Start{}
	if !after.IsZero() {
		from = esdb.Position{Commit: after.Commit, Prepare: after.Prepare}
	}
	var out []eventstore.Record
	for {
		page := 512
		if limit > 0 {
			page = limit - len(out) + 1
		}
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{From: from, Direction: esdb.Forwards}, uint64(page))
		if err != nil {
			return nil, fmt.Errorf("read all after %s: %w", after, err)
		}
		n := 0
		var last eventstore.Position
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("read all after %s: %w", after, err)
			}
			n++
			pos := ev.OriginalEvent().Position
			last = eventstore.Position{Commit: pos.Commit, Prepare: pos.Prepare}
			if !after.Less(last) {
				continue
			}
			rec, ok, err := record(ev)
			if err != nil {
				rs.Close()
				return nil, err
			}
			if ok && (limit <= 0 || len(out) < limit) {
				out = append(out, rec)
			}
		}
		rs.Close()
		if n < page || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		after, from = last, esdb.Position{Commit: last.Commit, Prepare: last.Prepare}
	}
}

// Head implements eventstore.Store: the position of the last event that is
// not a system event.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{From: esdb.End{}, Direction: esdb.Backwards}, 256)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("head: %w", err)
	}
	defer rs.Close()
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return eventstore.Position{}, nil
		}
		if err != nil {
			return eventstore.Position{}, fmt.Errorf("head: %w", err)
		}
		if e := ev.OriginalEvent(); !system(e) {
			return eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare}, nil
		}
	}
}

// Subscribe implements eventstore.Store with a catch-up subscription to
// $all, filtered on the server by event type. A dropped subscription
// resumes after the last event delivered.
func (s *Store) Subscribe(ctx context.Context, after eventstore.Position, h eventstore.Handler) error {
	filter := esdb.ExcludeSystemEventsFilter()
	if len(s.cfg.EventTypes) > 0 {
		filter = &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Prefixes: s.cfg.EventTypes}
	}
	for {
		if s.isClosed() {
			return eventstore.ErrClosed
		}
		err := s.follow(ctx, &after, filter, h)
		if ctx.Err() != nil {
			return nil
		}
		var he handlerError
		if errors.As(err, &he) {
			return he.err
		}
		s.cfg.Logger.Warn("eventstoredb subscription dropped; resuming", "after", after.String(), "err", err)
		select {
		case <-time.After(s.cfg.Retry):
		case <-ctx.Done():
			return nil
		case <-s.closed:
			return eventstore.ErrClosed
		}
	}
}

type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// follow runs one subscription until it drops, moving after along.
func (s *Store) follow(ctx context.Context, after *eventstore.Position, filter *esdb.SubscriptionFilter, h eventstore.Handler) error {
	var from esdb.AllPosition = esdb.Start{}
	if !after.IsZero() {
		from = esdb.Position{Commit: after.Commit, Prepare: after.Prepare}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := s.client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: from, Filter: filter})
	if err != nil {
		return err
	}
	defer sub.Close()
	// A reader goroutine receives; this one hands over whatever has
	// arrived as one batch.
	incoming := make(chan *esdb.SubscriptionEvent, 512)
	go func() {
		defer close(incoming)
		for {
			ev := sub.Recv()
			select {
			case incoming <- ev:
			case <-ctx.Done():
				return
			}
			if ev.SubscriptionDropped != nil {
				return
			}
		}
	}()
	for {
		var ev *esdb.SubscriptionEvent
		select {
		case ev = <-incoming:
		case <-ctx.Done():
			return ctx.Err()
		}
		var batch []eventstore.Record
		for ev != nil {
			if ev.SubscriptionDropped != nil {
				if err := s.deliver(ctx, after, batch, h); err != nil {
					return err
				}
				return ev.SubscriptionDropped.Error
			}
			if ev.EventAppeared != nil {
				rec, ok, err := record(ev.EventAppeared)
				if err != nil {
					return handlerError{err}
				}
				if ok && after.Less(rec.Position) {
					batch = append(batch, rec)
				}
			}
			ev = nil
			if len(batch) < 256 {
				select {
				case ev = <-incoming:
				default:
				}
			}
		}
		if err := s.deliver(ctx, after, batch, h); err != nil {
			return err
		}
	}
}

func (s *Store) deliver(ctx context.Context, after *eventstore.Position, batch []eventstore.Record, h eventstore.Handler) error {
	if len(batch) == 0 {
		return nil
	}
	if err := h(ctx, batch); err != nil {
		return handlerError{err}
	}
	*after = batch[len(batch)-1].Position
	return nil
}

func system(e *esdb.RecordedEvent) bool {
	return strings.HasPrefix(e.EventType, "$") || strings.HasPrefix(e.StreamID, "$")
}

// record converts a read event; false for system events.
func record(ev *esdb.ResolvedEvent) (eventstore.Record, bool, error) {
	e := ev.OriginalEvent()
	if e == nil || system(e) {
		return eventstore.Record{}, false, nil
	}
	var env envelope
	if len(e.UserMetadata) > 0 {
		if err := json.Unmarshal(e.UserMetadata, &env); err != nil {
			return eventstore.Record{}, false, fmt.Errorf("decode metadata of %s: %w", e.EventID, err)
		}
	}
	if env.Version == 0 {
		env.Version = 1
	}
	return eventstore.Record{
		Event:    eventstore.Event{ID: e.EventID.String(), Type: e.EventType, Version: env.Version, Data: e.Data, Meta: env.Meta},
		Stream:   e.StreamID,
		Revision: e.EventNumber,
		Position: eventstore.Position{Commit: e.Position.Commit, Prepare: e.Position.Prepare},
	}, true, nil
}
