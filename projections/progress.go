package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shareledger/shareledger/eventstore"
)

// ErrLagging is returned when a projection did not reach a position in time.
var ErrLagging = errors.New("read model has not caught up")

// Progress knows how far each consumer has come. Progress made in this
// process wakes waiters at once; progress made by another instance is seen
// by polling the store's checkpoints.
type Progress struct {
	store Store
	mu    sync.Mutex
	at    map[string]eventstore.Position
	wake  chan struct{}
	// awaited counts the readers waiting on each consumer, and called
	// holds, for a consumer nobody waits on, a channel closed when a
	// reader starts to: a projection gathering events into a larger
	// transaction commits at once then.
	awaited map[string]int
	called  map[string]chan struct{}
	// Poll is how often waiters re-read checkpoints from the store.
	Poll time.Duration
}

// NewProgress tracks the checkpoints in store.
func NewProgress(store Store) *Progress {
	return &Progress{store: store, at: map[string]eventstore.Position{}, wake: make(chan struct{}), Poll: 200 * time.Millisecond,
		awaited: map[string]int{}, called: map[string]chan struct{}{}}
}

func (p *Progress) advanced(name string, at eventstore.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.at[name]; ok && !cur.Less(at) {
		return
	}
	p.at[name] = at
	close(p.wake)
	p.wake = make(chan struct{})
}

// awaiting says whether a reader waits on consumer name; if not, it
// gives a channel closed when one starts to.
func (p *Progress) awaiting(name string) (bool, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.awaited[name] > 0 {
		return true, nil
	}
	c, ok := p.called[name]
	if !ok {
		c = make(chan struct{})
		p.called[name] = c
	}
	return false, c
}

// Wait returns once every named consumer has reached pos, or ErrLagging
// when ctx ends first.
func (p *Progress) Wait(ctx context.Context, pos eventstore.Position, names ...string) error {
	if pos.IsZero() {
		return nil
	}
	poll := time.NewTicker(p.Poll)
	defer poll.Stop()
	var waiting []string
	awaited, _ := p.store.(Awaited)
	started := 0 // of waiting, told to the store
	defer func() {
		p.mu.Lock()
		for _, n := range waiting {
			p.awaited[n]--
		}
		p.mu.Unlock()
		if awaited != nil && started > 0 {
			awaited.Awaited(-started)
		}
	}()
	for {
		p.mu.Lock()
		wake := p.wake
		var behind []string
		for _, n := range names {
			if p.at[n].Less(pos) {
				behind = append(behind, n)
				if !slices.Contains(waiting, n) {
					waiting = append(waiting, n)
					p.awaited[n]++
					if c, ok := p.called[n]; ok {
						close(c)
						delete(p.called, n)
					}
				}
			}
		}
		p.mu.Unlock()
		if awaited != nil && len(waiting) > started {
			awaited.Awaited(len(waiting) - started)
			started = len(waiting)
		}
		if len(behind) == 0 {
			return nil
		}
		select {
		case <-wake:
		case <-poll.C:
			for _, n := range behind {
				cp, err := p.store.Checkpoint(ctx, n)
				if err == nil {
					p.advanced(n, cp)
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("%w: %v still behind position %s", ErrLagging, behind, pos)
		}
	}
}
