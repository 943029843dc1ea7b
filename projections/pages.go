package projections

import (
	"context"
	"errors"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

// ErrEnough, returned by a Pages or Records callback, stops the reading
// without an error.
var ErrEnough = errors.New("read enough")

// Records reads the log after from, size records at a time, and calls fn
// with each page's records up to the first one keep refuses. It stops
// there, at the end of the log, or when fn returns ErrEnough.
func Records(ctx context.Context, es eventstore.Store, from eventstore.Position, size int, keep func(eventstore.Record) bool, fn func([]eventstore.Record) error) error {
	at := from
	for {
		recs, err := es.ReadAll(ctx, at, size)
		if err != nil {
			return err
		}
		n := kept(recs, keep)
		if n == 0 {
			return nil
		}
		if err := fn(recs[:n]); err != nil {
			if errors.Is(err, ErrEnough) {
				return nil
			}
			return err
		}
		if n < len(recs) {
			return nil
		}
		at = recs[n-1].Position
	}
}

// Pages is Records with each page decoded once (DecodeBatch) and read one
// page ahead: a goroutine of its own reads and decodes the next page while
// fn applies the current one, so that a catch-up, a rebuild or a replay
// uses the second core for the log instead of waiting on it. At most two
// pages are held ahead of fn, whatever the length of the log. Pages returns
// only once that goroutine is done with es.
func Pages(ctx context.Context, es eventstore.Store, reg *domain.Registry, from eventstore.Position, size int, keep func(eventstore.Record) bool, fn func(Batch) error) error {
	reading, stop := context.WithCancel(ctx)
	type page struct {
		batch Batch
		err   error
	}
	ahead := make(chan page, 1)
	go func() {
		defer close(ahead)
		err := Records(reading, es, from, size, keep, func(recs []eventstore.Record) error {
			select {
			case ahead <- page{batch: DecodeBatch(reg, recs)}:
				return nil
			case <-reading.Done():
				return ErrEnough
			}
		})
		if err != nil {
			select {
			case ahead <- page{err: err}:
			case <-reading.Done():
			}
		}
	}()
	defer func() {
		stop()
		for range ahead { // wait for the reader to let go of es
		}
	}()
	for p := range ahead {
		if p.err != nil {
			return p.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(p.batch); err != nil {
			if errors.Is(err, ErrEnough) {
				return nil
			}
			return err
		}
	}
	return ctx.Err()
}

// kept is how many of recs keep takes before the first it refuses.
func kept(recs []eventstore.Record, keep func(eventstore.Record) bool) int {
	n := 0
	for n < len(recs) && keep(recs[n]) {
		n++
	}
	return n
}

// UpTo keeps the records at or before p, for Records and Pages.
func UpTo(p eventstore.Position) func(eventstore.Record) bool {
	return func(r eventstore.Record) bool { return !p.Less(r.Position) }
}
