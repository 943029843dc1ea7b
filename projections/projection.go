package projections

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

// Envelope is a decoded event with what the log recorded about it.
type Envelope struct {
	Event  domain.Event
	Record eventstore.Record
}

// Projection turns events into read-model documents. Its name is the key of
// its checkpoint: renaming it means a rebuild. Apply runs inside the
// transaction that also moves the checkpoint, so it must do nothing outside
// tx that it cannot safely repeat.
type Projection interface {
	Name() string
	Apply(ctx context.Context, tx Tx, e Envelope) error
}

// Paced is a projection whose live commits cost more than their events:
// one that writes all over its tables (a commit rewrites every page it
// touches, whatever the number of events behind it). While events keep
// coming and no reader waits on it, the runner starts its commits at
// least CommitEvery apart, gathering what arrives in between into one
// transaction (up to the runner's batch). One that has not committed for
// that long commits at once, and a reader that starts waiting on it
// (Progress.Wait) ends the gathering, so readers never wait for the
// interval. Every projection gathers this way for as long as its last
// commit took (at most 250 ms); Paced sets a longer least. A catch-up, whose batches are
// full, and a rebuild are not paced.
type Paced interface {
	Projection
	CommitEvery() time.Duration
}

// Awaited is a store that may hold a live projection's commit back (an
// Update whose context is a LiveDelivery), to share it with the updates
// that follow, while no reader waits: Progress tells it when readers
// start waiting on its consumers (readers > 0) and when they stop
// (readers < 0), and it commits at once while any waits.
type Awaited interface {
	Awaited(readers int)
}

type liveKey struct{}

// LiveDelivery marks ctx as the Runner's delivery of events to a live
// projection, whose commit an Awaited store may hold back; nothing else
// (a rebuild, its bookkeeping, a caller of its own) is held.
func LiveDelivery(ctx context.Context) context.Context {
	return context.WithValue(ctx, liveKey{}, true)
}

// IsLiveDelivery says whether ctx is a LiveDelivery.
func IsLiveDelivery(ctx context.Context) bool {
	live, _ := ctx.Value(liveKey{}).(bool)
	return live
}

// Decoded is an event of a batch, decoded once for every projection that
// applies the batch: projections read it and must not change it.
type Decoded struct {
	Envelope
	// Err says the event could not be decoded (an unknown type or
	// version, a payload that does not fit): every projection fails on it,
	// and each quarantines it as it would any event it fails on.
	Err error
}

// Batch is a run of events in the log's order, read and decoded once.
type Batch []Decoded

// DecodeBatch decodes records once, for every projection to apply.
func DecodeBatch(reg *domain.Registry, recs []eventstore.Record) Batch {
	page := make(Batch, len(recs))
	for i, rec := range recs {
		ev, err := reg.Decode(rec.Type, rec.Version, rec.Data)
		page[i] = Decoded{Envelope: Envelope{Event: ev, Record: rec}, Err: err}
	}
	return page
}

// Last is the position of the batch's last event.
func (p Batch) Last() eventstore.Position { return p[len(p)-1].Record.Position }

// After is the part of the batch after position at.
func (p Batch) After(at eventstore.Position) Batch {
	for i, d := range p {
		if at.Less(d.Record.Position) {
			return p[i:]
		}
	}
	return nil
}

// Batches are batches in the log's order, applied as one run: a projection
// that is behind takes the batches queued for it at once, and applies
// them without copying them into one (they are shared by every
// projection, and the copy was 7% of the CPU of a catch-up). None of
// them is empty.
type Batches []Batch

// Len is how many events the batches hold.
func (ps Batches) Len() int {
	n := 0
	for _, b := range ps {
		n += len(b)
	}
	return n
}

// envelopes yields the batches' events that decoded, in order, in place
// (a copy of each, for each projection, was 3% of the CPU of a
// catch-up).
func (ps Batches) envelopes(yield func(*Envelope) bool) {
	for _, b := range ps {
		for i := range b {
			if b[i].Err == nil && !yield(&b[i].Envelope) {
				return
			}
		}
	}
}

// Last is the position of the batches' last event.
func (ps Batches) Last() eventstore.Position { return ps[len(ps)-1].Last() }

// ApplyBatch decodes records and applies them (ApplyDecoded), for a single
// projection. Several projections fed the same records share one
// DecodeBatch instead.
func ApplyBatch(ctx context.Context, store Store, reg *domain.Registry, p Projection, batch []eventstore.Record) (eventstore.Position, error) {
	return ApplyDecoded(ctx, store, p, DecodeBatch(reg, batch))
}

// ApplyDecoded applies the events of page that lie after p's checkpoint in
// one transaction and moves the checkpoint to the last of them. It returns
// where the checkpoint stands afterwards.
func ApplyDecoded(ctx context.Context, store Store, p Projection, page Batch) (eventstore.Position, error) {
	return ApplyBatches(ctx, store, p, Batches{page})
}

// ApplyBatches is ApplyDecoded for the events of several batches, in one
// transaction.
func ApplyBatches(ctx context.Context, store Store, p Projection, batches Batches) (eventstore.Position, error) {
	var at eventstore.Position
	u := applying(ctx, p, batches, &at)
	return at, store.Update(ctx, u.Consumer, u.Fn)
}

// ApplyDecodedEach is ApplyDecoded for several projections, each with its
// page, applied together where the store is Grouped (each still fails
// alone). It returns where each checkpoint stands and each one's error.
func ApplyDecodedEach(ctx context.Context, store Store, ps []Projection, pages []Batch) ([]eventstore.Position, []error) {
	at, us := applyingEach(ctx, ps, pages)
	return at, UpdateEach(ctx, store, us)
}

// ApplyDecodedEachAhead is ApplyDecodedEach on a store that commits a
// group while the next applies (Ahead): where each update's checkpoint
// stands is known once it returns, whether it is written once wait does.
// On any other store, the updates are applied and committed before it
// returns.
func ApplyDecodedEachAhead(ctx context.Context, store Store, ps []Projection, pages []Batch) ([]eventstore.Position, func() []error) {
	at, us := applyingEach(ctx, ps, pages)
	return at, UpdateEachAhead(ctx, store, us)
}

// applyingEach is the update applying each projection's page (applying),
// and where each will leave its checkpoint once it has run.
func applyingEach(ctx context.Context, ps []Projection, pages []Batch) ([]eventstore.Position, []Update) {
	at := make([]eventstore.Position, len(ps))
	us := make([]Update, len(ps))
	for i, p := range ps {
		us[i] = applying(ctx, p, Batches{pages[i]}, &at[i])
	}
	return at, us
}

// Prefetcher is a projection that names the documents that applying a
// run of events will read, so that the store reads them at once before
// (on PostgreSQL, one query for a page instead of one a document).
// Naming one too many costs a key in that query; naming one too few, a
// read of its own later, as without it.
type Prefetcher interface {
	Projection
	// Prefetch names the documents for the events envs yields, each
	// once; the envelopes are the run's, to read, not to keep.
	Prefetch(envs iter.Seq[*Envelope]) []TableKeys
}

// Prefetching is a Tx that reads documents ahead into the transaction, so
// that the Gets that follow are answered from memory: a store whose reads
// are round trips implements it.
type Prefetching interface {
	Prefetch(ctx context.Context, keys []TableKeys) error
}

// Prefetch reads keys ahead into tx where tx is Prefetching; elsewhere it
// does nothing. Transactions that wrap another pass it on with this.
func Prefetch(ctx context.Context, tx Tx, keys []TableKeys) error {
	if p, ok := tx.(Prefetching); ok && len(keys) > 0 {
		return p.Prefetch(ctx, keys)
	}
	return nil
}

// applying is the update that applies batches to p, leaving in at where
// p's checkpoint stands. A Prefetcher's documents are read ahead first.
func applying(ctx context.Context, p Projection, batches Batches, at *eventstore.Position) Update {
	return Update{Consumer: p.Name(), Fn: func(tx Tx, cp eventstore.Position) (eventstore.Position, error) {
		*at = cp
		applied := false
		run := make(Batches, 0, len(batches))
		for _, b := range batches {
			if after := b.After(cp); len(after) > 0 {
				run = append(run, after)
			}
		}
		if pf, ok := p.(Prefetcher); ok {
			if err := Prefetch(ctx, tx, pf.Prefetch(run.envelopes)); err != nil {
				return cp, err
			}
		}
		apply := p.Apply
		var g Gatherer
		if gp, ok := p.(Gathering); ok {
			g = gp.Gather()
			apply = g.Apply
		}
		var last Decoded
		for _, b := range run {
			for _, d := range b {
				if err := applyOne(ctx, tx, apply, d); err != nil {
					return cp, err
				}
				*at, applied, last = d.Record.Position, true, d
			}
		}
		if !applied {
			return cp, ErrStopUpdate
		}
		if g != nil {
			if err := flush(ctx, tx, g, last); err != nil {
				return cp, err
			}
		}
		return *at, nil
	}}
}

// Gathering is a projection that gathers what a run of events writes and
// writes it once, at the run's end: the audit index files a run's events
// under each entity they name in one row an entity, where it wrote one
// row an event and entity (a rebuild's page of 1,000 events names a few
// hundred entities nearly four thousand times). What it writes therefore
// depends on how the log was cut into runs; what it means must not.
// Apply alone is a run of one event.
type Gathering interface {
	Projection
	// Gather begins a run, in the transaction that applies it.
	Gather() Gatherer
}

// Gatherer applies one run of events: Apply each, as the projection's
// Apply would (every check an event can fail is made there, so that a
// failure still names its event), then Flush once after the last.
type Gatherer interface {
	Apply(ctx context.Context, tx Tx, e Envelope) error
	Flush(ctx context.Context, tx Tx) error
}

// Unpacker is a projection some of whose rows hold several items, as a
// run gathered them (Gathering), or mean what it now writes otherwise (a
// table written by an earlier version): Unpack hands each item of a row
// to yield under a table, a key and as a document of its own, as a run
// of one event of this version would have written it (nothing, for a row
// that means nothing more than the others do), and hands a row it does
// not unpack as it is. A comparison of read models built from
// differently cut runs, or by different versions (a rebuild against the
// live model), compares what Unpack hands.
type Unpacker interface {
	Unpack(table, key string, doc []byte, yield func(table, key string, doc []byte) error) error
}

// flush ends a gathered run. A failure names the run's last event, as a
// failure of its Apply would have: the runner then applies the run one
// event at a time, and a run of one names the right event.
func flush(ctx context.Context, tx Tx, g Gatherer, last Decoded) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &EventError{Record: last.Record, Err: fmt.Errorf("panic: %v", v)}
		}
	}()
	if err := g.Flush(ctx, tx); err != nil {
		return &EventError{Record: last.Record, Err: err}
	}
	return nil
}

// TransientError marks a failure of something outside the projection
// (a broker or mail server that is down): retrying later will work, so the
// event is retried until it does, and never quarantined.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient marks err as transient.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err}
}

// IsTransient says whether err, or an error it wraps, is transient.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}

// EventError says which event a projection failed on.
type EventError struct {
	Record eventstore.Record
	Err    error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("event %s (%s, %s@%d, position %s): %v", e.Record.ID, e.Record.Type, e.Record.Stream, e.Record.Revision, e.Record.Position, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

func applyOne(ctx context.Context, tx Tx, apply func(context.Context, Tx, Envelope) error, d Decoded) (err error) {
	// A panic names its event like any other failure, so that the batch
	// can be split and only this event quarantined.
	defer func() {
		if v := recover(); v != nil {
			err = &EventError{Record: d.Record, Err: fmt.Errorf("panic: %v", v)}
		}
	}()
	if d.Err != nil {
		return &EventError{Record: d.Record, Err: d.Err}
	}
	if err := apply(ctx, tx, d.Envelope); err != nil {
		return &EventError{Record: d.Record, Err: err}
	}
	return nil
}

// CatchUp applies every event after p's checkpoint up to and including
// until (zero: the head of the log at the start) and returns the checkpoint
// it reached. It is how a projection is rebuilt into fresh storage, or
// stopped at a chosen position.
func CatchUp(ctx context.Context, es eventstore.Store, store Store, reg *domain.Registry, p Projection, until eventstore.Position, page int) (eventstore.Position, error) {
	return CatchUpAll(ctx, es, store, reg, []Projection{p}, until, page)
}

// CatchUpAll catches several projections up in one pass over the log, from
// the checkpoint of the one furthest behind: each page is read and decoded
// once, a page ahead (Pages), and applied to each projection in a
// transaction of its own (each skips what it has). It returns the position
// the pass reached.
func CatchUpAll(ctx context.Context, es eventstore.Store, store Store, reg *domain.Registry, ps []Projection, until eventstore.Position, page int) (eventstore.Position, error) {
	if page <= 0 {
		page = 1000
	}
	if until.IsZero() {
		head, err := es.Head(ctx)
		if err != nil {
			return eventstore.Position{}, err
		}
		until = head
	}
	var at eventstore.Position
	for i, p := range ps {
		cp, err := store.Checkpoint(ctx, p.Name())
		if err != nil {
			return at, err
		}
		if i == 0 || cp.Less(at) {
			at = cp
		}
	}
	if !at.Less(until) {
		return at, nil
	}
	err := Pages(ctx, es, reg, at, page, UpTo(until), func(batch Batch) error {
		_, errs := ApplyDecodedEach(ctx, store, ps, slices.Repeat([]Batch{batch}, len(ps)))
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("catch up %s: %w", ps[i].Name(), err)
			}
		}
		at = batch.Last()
		return nil
	})
	return at, err
}
