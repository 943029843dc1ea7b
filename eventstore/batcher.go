package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by a store used after Close.
var ErrClosed = errors.New("event store is closed")

// Request is one append waiting for its group's commit.
type Request struct {
	Stream   string
	Expected Expected
	Events   []Event
	// Guard, if set, is a condition on another stream that the append
	// requires as well (see Guarded).
	Guard *Guard
	// Encoded is what a store prepared of each event before queueing it,
	// so that the work is done by the writers in parallel rather than by
	// the one goroutine that commits.
	Encoded [][]byte
	// Looked is what a store looked up for the append before queueing it,
	// for the same reason.
	Looked any
	// Result or Err is the group's decision about this append.
	Result AppendResult
	Err    error
	done   chan struct{}
}

// Batcher is group commit for store implementations: appends queue up
// while one group commits, and the next commit takes all of them (up to
// max) at once, so concurrent writers share each durable write.
type Batcher struct {
	start func([]*Request) (durable func() error)
	max   int

	mu     sync.Mutex
	queue  []*Request
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// NewBatcher starts a batcher that hands groups of at most max appends to
// commit, one group at a time. commit decides each request (setting its
// Result or Err) and writes the accepted ones; an error it returns fails
// every request it had not failed already.
func NewBatcher(max int, commit func([]*Request) error) *Batcher {
	return NewPipelinedBatcher(max, func(group []*Request) func() error {
		err := commit(group)
		return func() error { return err }
	})
}

// NewPipelinedBatcher is a batcher whose groups overlap: start decides
// each request of a group and starts writing the accepted ones, and
// returns a function that waits until they are durable. The next group is
// decided and started while the one before is made durable; start must see
// the appends of the groups it started before. The requests of a group
// are answered when their wait returns, in the order the groups started;
// an error it returns fails every request start had not failed already.
func NewPipelinedBatcher(max int, start func([]*Request) (durable func() error)) *Batcher {
	b := &Batcher{start: start, max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go b.run()
	return b
}

// Append queues an append for the next group and waits for its decision.
// Once queued, it waits even if ctx ends, so that a committed append is
// never reported as a failure.
func (b *Batcher) Append(ctx context.Context, stream string, expected Expected, events []Event) (AppendResult, error) {
	return b.AppendGuarded(ctx, stream, expected, nil, events)
}

// AppendGuarded is Append with a guard (nil for none) that the commit
// checks in the same step.
func (b *Batcher) AppendGuarded(ctx context.Context, stream string, expected Expected, guard *Guard, events []Event) (AppendResult, error) {
	return b.Submit(ctx, &Request{Stream: stream, Expected: expected, Guard: guard, Events: events})
}

// Submit queues a request the store prepared (Encoded, say) for the next
// group and waits for its decision.
func (b *Batcher) Submit(ctx context.Context, r *Request) (AppendResult, error) {
	if err := Validate(r.Stream, r.Events); err != nil {
		return AppendResult{}, err
	}
	if g := r.Guard; g != nil {
		if err := Validate(g.Stream, r.Events); err != nil {
			return AppendResult{}, fmt.Errorf("guard: %w", err)
		}
		if g.Stream == r.Stream {
			return AppendResult{}, fmt.Errorf("%w: a guard on the stream appended to", ErrInvalid)
		}
	}
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	r.done = make(chan struct{})
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return AppendResult{}, ErrClosed
	}
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	<-r.done
	return r.Result, r.Err
}

// Close commits what is queued, then stops.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.wake)
	<-b.done
}

// inFlight is a group started and not yet durable.
type inFlight struct {
	group   []*Request
	durable func() error
}

// run starts the groups one after the other; answer waits for each to be
// durable and answers its requests, so that one group is made durable
// while the next is decided.
func (b *Batcher) run() {
	defer close(b.done)
	started := make(chan inFlight)
	answered := make(chan struct{})
	go b.answer(started, answered)
	defer func() { close(started); <-answered }()
	for range b.wake {
		for {
			b.mu.Lock()
			n := min(len(b.queue), b.max)
			group := b.queue[:n:n]
			b.queue = b.queue[n:]
			if len(b.queue) == 0 {
				b.queue = nil
			}
			b.mu.Unlock()
			if n == 0 {
				break
			}
			started <- inFlight{group: group, durable: b.start(group)}
		}
	}
}

func (b *Batcher) answer(started <-chan inFlight, answered chan<- struct{}) {
	defer close(answered)
	for f := range started {
		err := f.durable()
		for _, r := range f.group {
			if err != nil && r.Err == nil {
				r.Err = fmt.Errorf("commit append: %w", err)
			}
			close(r.done)
		}
	}
}
