package projections

import (
	"context"
	"errors"

	"github.com/shareledger/shareledger/eventstore"
)

// Reader reads read-model documents: JSON values under string keys, grouped
// in tables, scanned in key order.
type Reader interface {
	// Get decodes the document at table/key into v; false if there is none.
	Get(ctx context.Context, table, key string, v any) (bool, error)
	// Scan calls fn with the documents of table whose keys start with
	// page.Prefix and sort after page.After, in key order, at most
	// page.Limit of them (0: all).
	Scan(ctx context.Context, table string, page Page, fn func(key string, doc []byte) error) error
	// Checkpoint is the position a consumer had committed in this snapshot.
	Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error)
}

// Page selects a run of keys.
type Page struct {
	Prefix string
	After  string
	Limit  int
}

// Tx changes read-model documents inside one transaction.
type Tx interface {
	Reader
	Put(ctx context.Context, table, key string, v any) error
	Delete(ctx context.Context, table, key string) error
}

// Store is the read-model storage port. A consumer's changes and its
// checkpoint commit in one transaction, so that a crash never applies an
// event twice or skips one.
type Store interface {
	// Update runs fn in one transaction with the consumer's checkpoint; fn
	// returns the new checkpoint, which commits with its changes.
	Update(ctx context.Context, consumer string, fn func(tx Tx, checkpoint eventstore.Position) (eventstore.Position, error)) error
	// Checkpoint is the position a consumer has committed.
	Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error)
	// View runs fn on a consistent snapshot. fn must not call the Store
	// itself: embedded stores may deadlock on a nested transaction.
	View(ctx context.Context, fn func(r Reader) error) error
	Close() error
}

// ErrStopUpdate, returned by an Update's fn, rolls the transaction back
// without an error: nothing was left to do.
var ErrStopUpdate = errors.New("nothing to update")
