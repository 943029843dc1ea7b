package projections

import (
	"context"
	"errors"
	"fmt"

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

// ApplyBatch applies the records of batch that lie after p's checkpoint in
// one transaction and moves the checkpoint to the last of them. It returns
// where the checkpoint stands afterwards.
func ApplyBatch(ctx context.Context, store Store, reg *domain.Registry, p Projection, batch []eventstore.Record) (eventstore.Position, error) {
	var at eventstore.Position
	err := store.Update(ctx, p.Name(), func(tx Tx, cp eventstore.Position) (eventstore.Position, error) {
		at = cp
		applied := false
		for _, rec := range batch {
			if !cp.Less(rec.Position) {
				continue
			}
			if err := applyOne(ctx, tx, reg, p, rec); err != nil {
				return cp, err
			}
			at, applied = rec.Position, true
		}
		if !applied {
			return cp, ErrStopUpdate
		}
		return at, nil
	})
	return at, err
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

func applyOne(ctx context.Context, tx Tx, reg *domain.Registry, p Projection, rec eventstore.Record) (err error) {
	// A panic names its event like any other failure, so that the batch
	// can be split and only this event quarantined.
	defer func() {
		if v := recover(); v != nil {
			err = &EventError{Record: rec, Err: fmt.Errorf("panic: %v", v)}
		}
	}()
	ev, err := reg.Decode(rec.Type, rec.Version, rec.Data)
	if err != nil {
		return &EventError{Record: rec, Err: err}
	}
	if err := p.Apply(ctx, tx, Envelope{Event: ev, Record: rec}); err != nil {
		return &EventError{Record: rec, Err: err}
	}
	return nil
}

// CatchUp applies every event after p's checkpoint up to and including
// until (zero: the head of the log at the start) and returns the checkpoint
// it reached. It is how a projection is rebuilt into fresh storage, or
// stopped at a chosen position.
func CatchUp(ctx context.Context, es eventstore.Store, store Store, reg *domain.Registry, p Projection, until eventstore.Position, page int) (eventstore.Position, error) {
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
	at, err := store.Checkpoint(ctx, p.Name())
	if err != nil {
		return at, err
	}
	for at.Less(until) {
		recs, err := es.ReadAll(ctx, at, page)
		if err != nil {
			return at, err
		}
		n := 0
		for n < len(recs) && !until.Less(recs[n].Position) {
			n++
		}
		if n == 0 {
			break
		}
		if at, err = ApplyBatch(ctx, store, reg, p, recs[:n]); err != nil {
			return at, fmt.Errorf("catch up %s: %w", p.Name(), err)
		}
	}
	return at, nil
}
