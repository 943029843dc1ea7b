package projections

import "context"

// Lease decides which instance runs the projections: exactly one at a
// time, and another soon after that one dies.
type Lease interface {
	// Acquire blocks until this instance holds the lease. The returned
	// context ends when the lease is lost (or ctx ends); release gives the
	// lease up.
	Acquire(ctx context.Context) (held context.Context, release func(), err error)
}

// Solo is the lease of a single instance (the embedded default): always
// held.
type Solo struct{}

// Acquire implements Lease.
func (Solo) Acquire(ctx context.Context) (context.Context, func(), error) {
	held, cancel := context.WithCancel(ctx)
	return held, cancel, nil
}
