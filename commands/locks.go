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
	refs    int  // commands holding or waiting for the lock
	readers int  // holders in shared mode
	writer  bool // held exclusively
	writers int  // commands waiting to hold it exclusively
	// changed is closed and replaced whenever a holder lets go.
	changed chan struct{}
}

// LockWait is how long a command waits for another command of the same
// stream before it goes on without the lock.
const LockWait = 2 * time.Second

// NewStreamLocks makes the locks of one process.
func NewStreamLocks() *StreamLocks { return &StreamLocks{streams: map[string]*streamLock{}} }

// lock waits for a stream's lock; unlock gives it back (and forgets the
// stream when nobody waits for it, so the map holds only streams in use).
// Shared holders (commands that decide on the stream without changing it)
// hold it together; an exclusive holder (a command that changes it) holds
// it alone, and once one waits, new shared holders wait behind it.
func (s *StreamLocks) lock(ctx context.Context, stream string, shared bool) (unlock func(), ok bool) {
	s.mu.Lock()
	l := s.streams[stream]
	if l == nil {
		l = &streamLock{changed: make(chan struct{})}
		s.streams[stream] = l
	}
	l.refs++
	if !shared {
		l.writers++
	}
	wait := time.NewTimer(LockWait)
	defer wait.Stop()
	for {
		if !l.writer && ((shared && l.writers == 0) || (!shared && l.readers == 0)) {
			if shared {
				l.readers++
			} else {
				l.writers--
				l.writer = true
			}
			s.mu.Unlock()
			return func() { s.release(stream, l, shared, true) }, true
		}
		changed := l.changed
		s.mu.Unlock()
		select {
		case <-changed:
			s.mu.Lock()
			continue
		case <-wait.C:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if !shared {
			l.writers--
		}
		s.mu.Unlock()
		s.release(stream, l, shared, false)
		return nil, false
	}
}

// release lets go of a lock (held: it was had, not only waited for).
func (s *StreamLocks) release(stream string, l *streamLock, shared, held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if held {
		if shared {
			l.readers--
		} else {
			l.writer = false
		}
	}
	// Waking every waiter also lets shared holders go on once a writer
	// that waited gave up.
	close(l.changed)
	l.changed = make(chan struct{})
	l.refs--
	if l.refs == 0 {
		delete(s.streams, stream)
	}
}

// held is the set of stream locks one attempt of a command holds.
type held struct {
	mu      sync.Mutex
	streams map[string]func()
	// retry says the attempt is not the command's first: an earlier one
	// may have appended some of its events (to one stream of several)
	// before it failed, so its event ids are no longer new.
	retry bool
}

type heldKey struct{}

// withHeld gives one attempt of a command a set of locks, released by the
// returned function when the attempt ends; retry says it is not the first.
func withHeld(ctx context.Context, retry bool) (context.Context, func()) {
	h := &held{streams: map[string]func(){}, retry: retry}
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
func (r Repo) lockFor(ctx context.Context, stream string) { r.lockIn(ctx, stream, false) }

// shareLockFor takes a stream's lock in shared mode, once per attempt: the
// command decides on the stream but records its decision elsewhere,
// guarded by the revision it read, so such commands need not wait for
// each other, only for those that change the stream.
func (r Repo) shareLockFor(ctx context.Context, stream string) { r.lockIn(ctx, stream, true) }

func (r Repo) lockIn(ctx context.Context, stream string, shared bool) {
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
	if unlock, ok := r.Locks.lock(ctx, stream, shared); ok {
		h.mu.Lock()
		h.streams[stream] = unlock
		h.mu.Unlock()
	}
}

// freshIDs says whether the events a command appends in this attempt have
// ids that no event ever had: its id was made for it (Meta.Fresh) and no
// earlier attempt could have appended any of them.
func freshIDs(ctx context.Context, m Meta) bool {
	h, _ := ctx.Value(heldKey{}).(*held)
	return m.Fresh && (h == nil || !h.retry)
}
