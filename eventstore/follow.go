package eventstore

import (
	"context"
	"sync"
)

// Signal wakes everyone waiting for the next change.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewSignal returns a signal nobody has waited on yet.
func NewSignal() *Signal { return &Signal{ch: make(chan struct{})} }

// Next is closed at the next Broadcast; take it before checking for news,
// so that a change between the check and the wait is not missed.
func (s *Signal) Next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// Broadcast wakes everyone waiting.
func (s *Signal) Broadcast() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

// Follow is Subscribe for stores that can read everything after a
// position and signal their appends: it reads pages after the position,
// hands them to h, and waits for a signal when it has caught up. It ends
// when ctx does (nil), when stop is closed (ErrClosed) or when h or a read
// fails.
func Follow(ctx context.Context, after Position, h Handler, read func(context.Context, Position, int) ([]Record, error), changes *Signal, stop <-chan struct{}) error {
	const page = 512
	for {
		next := changes.Next()
		recs, err := read(ctx, after, page)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(recs) > 0 {
			if err := h(ctx, recs); err != nil {
				return err
			}
			after = recs[len(recs)-1].Position
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-next:
		case <-stop:
			return ErrClosed
		}
	}
}
