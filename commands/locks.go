package commands

import (
	"context"
	"sync"
	"time"
)

// StreamLocks makes the commands of this process that change one stream
// wait for each other instead of colliding: without it, clients working on
// one stream (a partnership's, say) read the same revision, all but one
// append fails, and they retry until some give up. Across processes the
// expected revision still decides, and a lock not had within LockWait is
// gone without, so the locks only ever save work; they never decide.
type StreamLocks struct {
	mu      sync.Mutex
	streams map[string]*streamLock
}

type streamLock struct {
	token chan struct{} // holds one token while nobody holds the lock
	refs  int
}

// LockWait is how long a command waits for another command of the same
// stream before it goes on without the lock.
const LockWait = 2 * time.Second

// NewStreamLocks makes the locks of one process.
func NewStreamLocks() *StreamLocks { return &StreamLocks{streams: map[string]*streamLock{}} }

// lock waits for a stream's lock; unlock gives it back (and forgets the
// stream when nobody waits for it, so the map holds only streams in use).
func (s *StreamLocks) lock(ctx context.Context, stream string) (unlock func(), ok bool) {
	s.mu.Lock()
	l := s.streams[stream]
	if l == nil {
		l = &streamLock{token: make(chan struct{}, 1)}
		l.token <- struct{}{}
		s.streams[stream] = l
	}
	l.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.streams, stream)
		}
		s.mu.Unlock()
	}
	wait := time.NewTimer(LockWait)
	defer wait.Stop()
	select {
	case <-l.token:
		return func() { l.token <- struct{}{}; release() }, true
	case <-wait.C:
	case <-ctx.Done():
	}
	release()
	return nil, false
}

// held is the set of stream locks one attempt of a command holds.
type held struct {
	mu      sync.Mutex
	streams map[string]func()
}

type heldKey struct{}

// withHeld gives one attempt of a command a set of locks, released by the
// returned function when the attempt ends.
func withHeld(ctx context.Context) (context.Context, func()) {
	h := &held{streams: map[string]func(){}}
	return context.WithValue(ctx, heldKey{}, h), func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, unlock := range h.streams {
			unlock()
		}
		h.streams = nil
	}
}

// lockFor takes the lock of a stream the command changes, once per
// attempt. A load outside a command's attempt, or with no locks, takes
// none.
func (r Repo) lockFor(ctx context.Context, stream string) {
	h, _ := ctx.Value(heldKey{}).(*held)
	if h == nil || r.Locks == nil {
		return
	}
	h.mu.Lock()
	_, have := h.streams[stream]
	h.mu.Unlock()
	if have {
		return
	}
	if unlock, ok := r.Locks.lock(ctx, stream); ok {
		h.mu.Lock()
		h.streams[stream] = unlock
		h.mu.Unlock()
	}
}
