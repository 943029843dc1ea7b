package eventstore

import (
	"errors"
	"sync"
)

// ErrClosed is returned by a store used after Close.
var ErrClosed = errors.New("event store is closed")

// Batcher is group commit for store implementations: requests queue up
// while one group commits, and the next commit takes all of them (up to
// max) at once, so concurrent writers share each durable write.
type Batcher[R any] struct {
	commit func([]R)
	max    int

	mu     sync.Mutex
	queue  []R
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// NewBatcher starts a batcher that hands groups of at most max requests to
// commit, one group at a time.
func NewBatcher[R any](max int, commit func([]R)) *Batcher[R] {
	b := &Batcher[R]{commit: commit, max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go b.run()
	return b
}

// Submit queues r for the next group; ErrClosed after Close.
func (b *Batcher[R]) Submit(r R) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.queue = append(b.queue, r)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close commits what is queued, then stops.
func (b *Batcher[R]) Close() {
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

func (b *Batcher[R]) run() {
	defer close(b.done)
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
			b.commit(group)
		}
	}
}
