package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

const (
	topic       = "shareledger.events"
	poisonTopic = "shareledger.poison"
	// PoisonTable holds, per consumer, the events it could not apply.
	PoisonTable = "_poison"
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Events      eventstore.Store
	Store       Store
	Registry    *domain.Registry
	Projections []Projection
	Logger      *slog.Logger
	// Batch is how many events the log is read and decoded in, at most,
	// for the projections (default 1,000). At the log's head a batch
	// holds what is new; a projection that is behind (catching up, or
	// under load) takes the batches queued for it in one message and one
	// transaction until it holds four batch sizes (so fewer than five).
	// 1,000 caught up 2.2 times faster than 256 on PostgreSQL and 1.5
	// times on the embedded store, with the same latency under load
	// (docs/benchmarks.md).
	Batch int
	// Retries before an event goes to the poison queue.
	Retries int
	// RetryInterval is the first pause between retries.
	RetryInterval time.Duration
}

func (c *RunnerConfig) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Batch <= 0 {
		c.Batch = 1000
	}
	if c.Retries == 0 {
		c.Retries = 3
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 100 * time.Millisecond
	}
}

// Validate reports every problem at once.
func (c RunnerConfig) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("runner: an event store is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("runner: a read-model store is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("runner: an event registry is required"))
	}
	seen := map[string]bool{}
	for _, p := range c.Projections {
		if seen[p.Name()] {
			errs = append(errs, fmt.Errorf("runner: projection name %q used twice", p.Name()))
		}
		seen[p.Name()] = true
	}
	return errors.Join(errs...)
}

// Runner feeds every projection from the event store through a watermill
// router: one feed reads and decodes the log once, and each projection is a
// router handler with its own subscriber that takes the feed's batches
// after the projection's durable checkpoint. Middleware recovers panics,
// retries, and moves an event that keeps failing to the poison table, so
// one bad event never stops the other consumers.
type Runner struct {
	cfg      RunnerConfig
	byName   map[string]Projection
	progress *Progress
	handled  sync.Map // name -> *int64 events applied since start
}

// NewRunner checks the configuration and builds a runner.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, byName: map[string]Projection{}, progress: NewProgress(cfg.Store)}
	for _, p := range cfg.Projections {
		r.byName[p.Name()] = p
		r.handled.Store(p.Name(), new(counter))
	}
	return r, nil
}

// Progress tells how far the projections have come.
func (r *Runner) Progress() *Progress { return r.progress }

// Names lists the projections the runner feeds.
func (r *Runner) Names() []string {
	out := make([]string, 0, len(r.cfg.Projections))
	for _, p := range r.cfg.Projections {
		out = append(out, p.Name())
	}
	return out
}

// Handled counts the events a projection applied since this runner started.
func (r *Runner) Handled(name string) int64 {
	if c, ok := r.handled.Load(name); ok {
		return c.(*counter).get()
	}
	return 0
}

// Run feeds the projections until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	// Watermill narrates every handler start and stop at info level; keep
	// that at debug so the service's own log stays readable.
	logger := watermill.NewSlogLoggerWithLevelMapping(r.cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return err
	}
	// Transient failures are not poison: the message is nacked and
	// delivered again after a pause, until the outside world is back.
	// Nor is a shutdown's: it cancels the delivery under way and the
	// ones queued (the retry middleware answers those with the context's
	// error without running them), which once went to the poison sink,
	// where the events were applied one by one with the ended context,
	// and a projection that talks to the outside world with it (the
	// relay) had them all quarantined, so never published. Left
	// unapplied, they are delivered again after the restart.
	poison, err := middleware.PoisonQueueWithFilter(poisonSink{r}, poisonTopic, func(err error) bool {
		return !IsTransient(err) && !errors.Is(err, context.Canceled)
	})
	if err != nil {
		return err
	}
	router.AddMiddleware(
		poison,
		middleware.Retry{
			MaxRetries:      r.cfg.Retries,
			InitialInterval: r.cfg.RetryInterval,
			Multiplier:      2,
			MaxInterval:     5 * time.Second,
			Logger:          logger,
		}.Middleware,
		middleware.Recoverer,
	)
	// One reader of the log for every projection: it decodes each event
	// once and hands the same decoded batch to each projection's handler.
	from, err := r.earliestCheckpoint(ctx)
	if err != nil {
		return err
	}
	f := &feed{runner: r, from: from}
	for _, p := range r.cfg.Projections {
		sub := &subscriber{runner: r, name: p.Name(), closed: make(chan struct{}), left: make(chan struct{}), queue: make(chan Batch, feedQueue), feedFrom: from}
		if pc, ok := p.(Paced); ok {
			sub.every = pc.CommitEvery()
		}
		f.subs = append(f.subs, sub)
		router.AddConsumerHandler(p.Name(), topic, sub, r.handler(p))
	}
	go f.run(ctx)
	return router.Run(ctx)
}

// earliestCheckpoint is where the projection furthest behind stands.
func (r *Runner) earliestCheckpoint(ctx context.Context) (eventstore.Position, error) {
	var from eventstore.Position
	for i, p := range r.cfg.Projections {
		cp, err := r.cfg.Store.Checkpoint(ctx, p.Name())
		if err != nil {
			return from, fmt.Errorf("checkpoint of %s: %w", p.Name(), err)
		}
		if i == 0 || cp.Less(from) {
			from = cp
		}
	}
	return from, nil
}

func (r *Runner) handler(p Projection) message.NoPublishHandlerFunc {
	labels := pprof.Labels("projection", p.Name())
	return func(msg *message.Message) error {
		batches, err := batchesOf(msg)
		if err != nil {
			return err
		}
		// A CPU profile names the projection each sample worked for.
		pprof.Do(LiveDelivery(msg.Context()), labels, func(ctx context.Context) { err = r.apply(ctx, p, batches) })
		return err
	}
}

// apply applies batches to p in one transaction; if that fails, one
// event at a time, so that those before the failing one commit.
func (r *Runner) apply(ctx context.Context, p Projection, batches Batches) error {
	at, err := ApplyBatches(ctx, r.cfg.Store, p, batches)
	if err == nil {
		r.advanced(p.Name(), at, batches.Len())
		return nil
	}
	if batches.Len() == 1 {
		return err
	}
	for _, batch := range batches {
		for i := range batch {
			at, err := ApplyDecoded(ctx, r.cfg.Store, p, batch[i:i+1])
			if err != nil {
				return err
			}
			r.advanced(p.Name(), at, 1)
		}
	}
	return nil
}

func (r *Runner) advanced(name string, at eventstore.Position, n int) {
	if c, ok := r.handled.Load(name); ok {
		c.(*counter).add(int64(n))
	}
	r.progress.advanced(name, at)
}

// Poisoned is an event a consumer gave up on.
type Poisoned struct {
	Consumer string              `json:"consumer"`
	Position eventstore.Position `json:"position"`
	EventID  string              `json:"eventId"`
	Type     string              `json:"type"`
	Stream   string              `json:"stream"`
	Revision uint64              `json:"revision"`
	Reason   string              `json:"reason"`
	At       time.Time           `json:"at"`
	// Account is the account that acted, so that a tenant is shown only
	// its own account's failures.
	Account string `json:"account,omitempty"`
}

// PoisonKey orders a consumer's poisoned events by position.
func PoisonKey(consumer string, p eventstore.Position) string {
	return fmt.Sprintf("%s/%020d.%020d", consumer, p.Commit, p.Prepare)
}

// poisonSink is the poison queue's publisher. It receives a message whose
// retries ran out and gives each event of the batch that the consumer has
// not applied one more try on its own: the ones that fail again are
// recorded in the poison table and the checkpoint moves past them, so the
// consumer goes on with the next event.
type poisonSink struct{ r *Runner }

func (s poisonSink) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		name := msg.Metadata.Get(middleware.PoisonedHandlerKey)
		p, ok := s.r.byName[name]
		if !ok {
			return fmt.Errorf("poison queue: unknown consumer %q", name)
		}
		batches, err := batchesOf(msg)
		if err != nil {
			return err
		}
		for _, batch := range batches {
			for i, d := range batch {
				at, err := ApplyDecoded(msg.Context(), s.r.cfg.Store, p, batch[i:i+1])
				if err == nil {
					s.r.advanced(name, at, 1)
					continue
				}
				if _, err := s.r.quarantine(msg.Context(), name, d.Record, err.Error()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s poisonSink) Close() error { return nil }

// quarantine records rec as poisoned for consumer and moves its checkpoint
// past it; false if the consumer had already passed rec.
func (r *Runner) quarantine(ctx context.Context, consumer string, rec eventstore.Record, reason string) (bool, error) {
	done := false
	err := r.cfg.Store.Update(ctx, consumer, func(tx Tx, cp eventstore.Position) (eventstore.Position, error) {
		if !cp.Less(rec.Position) {
			return cp, ErrStopUpdate
		}
		done = true
		return rec.Position, tx.Put(ctx, PoisonTable, PoisonKey(consumer, rec.Position), Poisoned{
			Consumer: consumer, Position: rec.Position, EventID: rec.ID, Type: rec.Type,
			Stream: rec.Stream, Revision: rec.Revision, Reason: reason, At: time.Now().UTC(), Account: rec.Meta.Account,
		})
	})
	if err != nil {
		return false, fmt.Errorf("quarantine %s for %s: %w", rec.ID, consumer, err)
	}
	if done {
		r.cfg.Logger.Error("event moved to the poison table", "consumer", consumer, "event", rec.ID, "type", rec.Type, "position", rec.Position.String(), "reason", reason)
		r.progress.advanced(consumer, rec.Position)
	}
	return done, nil
}

// feedQueue is how many decoded batches wait for each projection (8 of up
// to Batch events: about as many events held as 32 of 256 were); a
// projection that lets its queue stay full for feedPatience (a notifier
// whose mail server is down, or one slower than the rate of new events)
// is left to read the log on its own, so that it never holds the others
// back: a projection that reads for itself costs a second decoding, one
// that paces the others costs every reader its freshness.
const (
	feedQueue    = 8
	feedPatience = 200 * time.Millisecond
)

// maxGather bounds how long a projection gathers events for being slow
// (a delivery that took long, retried through an outage, say); a Paced
// projection's own interval may be longer.
const maxGather = 250 * time.Millisecond

// behind is how many batches' worth of events a projection that is behind
// takes in one transaction from those already queued for it: each commit
// waits for the read models' syncs, and a projection applies nothing
// while its commit runs, so a catch-up that committed every batch spent
// a quarter of its time waiting on them (docs/benchmarks.md). It only
// takes what is queued (at most feedQueue batches, held already), and
// gathers what has yet to arrive only up to one batch.
const behind = 4

// minGather is the least a projection gathers events for while no reader
// waits on it: under load it then commits at most about fifty times a
// second, each commit with the read models' syncs that the event log's
// own syncs wait behind on the same disk, where gathering only for as
// long as its last delivery took (a millisecond or two) committed several
// hundred times (docs/benchmarks.md). A reader that waits ends the
// gathering at once, and a quiet projection, whose last delivery is
// further back than this, commits at once.
const minGather = 20 * time.Millisecond

// feed reads the log once for every projection of a runner, from the
// checkpoint of the one furthest behind, decodes each event once, and puts
// each batch in every projection's queue.
type feed struct {
	runner *Runner
	from   eventstore.Position
	subs   []*subscriber
}

func (f *feed) run(ctx context.Context) {
	err := f.runner.cfg.Events.Subscribe(ctx, f.from, func(ctx context.Context, recs []eventstore.Record) error {
		for start := 0; start < len(recs); start += f.runner.cfg.Batch {
			batch := DecodeBatch(f.runner.cfg.Registry, recs[start:min(start+f.runner.cfg.Batch, len(recs))])
			// Every projection with room takes the batch at once; only
			// then does the feed wait for the ones whose queues are full,
			// so a slow projection never delays a fast one's next batch.
			var full []*subscriber
			for _, s := range f.subs {
				if !s.put(batch) {
					full = append(full, s)
				}
			}
			for _, s := range full {
				if !s.offer(ctx, batch) {
					f.subs = slices.DeleteFunc(f.subs, func(x *subscriber) bool { return x == s })
				}
			}
			if len(f.subs) == 0 {
				return errFeedDone
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFeedDone) && ctx.Err() == nil {
		f.runner.cfg.Logger.Error("event subscription ended", "err", err)
	}
	for _, s := range f.subs {
		s.detach()
	}
}

var errFeedDone = errors.New("no projection reads the feed")

// subscriber is a watermill subscriber for one projection. It delivers
// the feed's decoded batches one at a time, waiting for each to be
// acknowledged; left by the feed, it reads the log itself from where the
// feed left it. Each message carries its batch in its context, decoded
// already: nothing is serialized on the way.
type subscriber struct {
	runner    *Runner
	name      string
	closeOnce sync.Once
	closed    chan struct{}
	queue     chan Batch    // the feed's batches; closed (by the feed's goroutine only) when the feed leaves this projection
	left      chan struct{} // closed when the subscriber stops taking the feed's batches
	leaveOnce sync.Once
	feedFrom  eventstore.Position // where the feed started
	detached  sync.Once
	every     time.Duration // the least time from one delivery's end to the next (Paced)
	last      time.Time     // when the last delivery was acknowledged (committed)
	took      time.Duration // how long the last delivery took, from handing it to its acknowledgement
}

// put puts a batch in the queue if there is room and the subscriber
// still takes them.
func (s *subscriber) put(b Batch) bool {
	select {
	case <-s.left:
		return false
	case <-s.closed:
		return false
	default:
	}
	select {
	case s.queue <- b:
		return true
	default:
		return false
	}
}

// offer puts a batch in the queue, waiting at most feedPatience for room;
// false when the subscriber is left to read on its own (queue closed).
func (s *subscriber) offer(ctx context.Context, b Batch) bool {
	select {
	case <-s.closed:
		s.detach()
		return false
	case <-s.left:
		s.detach()
		return false
	default:
	}
	wait := time.NewTimer(feedPatience)
	defer wait.Stop()
	select {
	case s.queue <- b:
		return true
	case <-s.closed:
	case <-s.left:
	case <-wait.C:
		s.runner.cfg.Logger.Warn("projection fell behind the shared feed; it reads the log on its own", "consumer", s.name)
	case <-ctx.Done():
	}
	s.detach()
	return false
}

// detach closes the queue; only the feed's goroutine calls it, so that the
// feed never sends on a closed queue.
func (s *subscriber) detach() { s.detached.Do(func() { close(s.queue) }) }

// leave tells the feed that this subscriber takes no more of its batches;
// the feed then closes the queue (detach) and drops it.
func (s *subscriber) leave() { s.leaveOnce.Do(func() { close(s.left) }) }

func (s *subscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	from, err := s.runner.cfg.Store.Checkpoint(ctx, s.name)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", s.name, err)
	}
	s.runner.progress.advanced(s.name, from)
	out := make(chan *message.Message)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	go func() {
		defer close(out)
		defer cancel()
		at := from
		if s.feedFrom.Less(from) || s.feedFrom == from {
			// The feed starts at or before this projection: take its
			// batches, past what the projection has.
			for b, open := s.next(ctx, at); len(b) > 0 || open; b, open = s.next(ctx, at) {
				if len(b) == 0 {
					continue
				}
				start := time.Now()
				if err := s.deliver(ctx, out, b); err != nil {
					return
				}
				s.last = time.Now()
				s.took = s.last.Sub(start)
				at = b.Last()
			}
		} else {
			s.leave() // the feed starts after this projection: it cannot serve it
		}
		if ctx.Err() != nil {
			return
		}
		err := s.runner.cfg.Events.Subscribe(ctx, at, func(ctx context.Context, recs []eventstore.Record) error {
			for start := 0; start < len(recs); start += s.runner.cfg.Batch {
				if err := s.deliver(ctx, out, Batches{DecodeBatch(s.runner.cfg.Registry, recs[start:min(start+s.runner.cfg.Batch, len(recs))])}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			s.runner.cfg.Logger.Error("event subscription ended", "consumer", s.name, "err", err)
		}
	}()
	return out, nil
}

// next takes the next batch from the queue, after position at, with the
// batches queued behind it until they hold behind times the
// runner's batch size: under load or catching up a projection then
// applies many events per transaction, as it did when it read the log
// itself, instead of one small batch per append. While no reader waits
// on the projection and it holds less than one batch size, it also takes
// what arrives until as long as its last delivery took (at least
// minGather, or its Paced interval, if longer) has passed since that
// delivery: under load a projection commits less often and larger, as a
// group commit does, and a reader that starts waiting ends the gathering
// at once.
// open is false once the queue is closed and empty.
func (s *subscriber) next(ctx context.Context, at eventstore.Position) (Batches, bool) {
	first, open := <-s.queue
	if !open {
		return nil, false
	}
	// The batches taken, as they are: batches are shared, and copying
	// them into one was 7% of the CPU of a catch-up (and, growing a copy
	// append by append, a tenth of the service's garbage under load).
	var taken Batches
	if first = first.After(at); len(first) > 0 {
		taken = Batches{first}
	}
	n := len(first)
	// Gather more for as long as the last delivery took (or the Paced
	// interval), unless a reader waits on the projection.
	var until <-chan time.Time
	var called <-chan struct{}
	if wait := time.Until(s.last.Add(max(s.every, minGather, min(s.took, maxGather)))); wait > 0 {
		var awaited bool
		if awaited, called = s.runner.progress.awaiting(s.name); !awaited {
			t := time.NewTimer(wait)
			defer t.Stop()
			until = t.C
		}
	}
	last := at
	if n > 0 {
		last = first.Last()
	}
	for n < behind*s.runner.cfg.Batch {
		var more Batch
		var ok bool
		select {
		case more, ok = <-s.queue:
		default:
			if until == nil || n >= s.runner.cfg.Batch {
				return taken, true
			}
			select {
			case more, ok = <-s.queue:
			case <-until:
				return taken, true
			case <-called:
				return taken, true
			case <-s.closed:
				return taken, true
			case <-ctx.Done():
				return taken, true
			}
		}
		if !ok {
			return taken, true // the closed queue is seen on the next call
		}
		if more = more.After(last); len(more) > 0 {
			taken, n, last = append(taken, more), n+len(more), more.Last()
		}
	}
	return taken, true
}

type batchKey struct{}

// batchesOf are the decoded batches a message carries.
func batchesOf(msg *message.Message) (Batches, error) {
	b, ok := msg.Context().Value(batchKey{}).(Batches)
	if !ok || len(b) == 0 {
		return nil, fmt.Errorf("message %s carries no events", msg.UUID)
	}
	return b, nil
}

func (s *subscriber) deliver(ctx context.Context, out chan<- *message.Message, batches Batches) error {
	for {
		msg := message.NewMessage(watermill.NewUUID(), nil)
		msg.Metadata.Set("first_position", batches[0][0].Record.Position.String())
		msg.Metadata.Set("events", strconv.Itoa(batches.Len()))
		msg.SetContext(context.WithValue(ctx, batchKey{}, batches))
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			return nil
		case <-msg.Nacked():
			// A transient failure, or the poison queue itself failed: try
			// again after a pause.
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

type counter struct {
	mu sync.Mutex
	n  int64
}

func (c *counter) add(n int64) { c.mu.Lock(); c.n += n; c.mu.Unlock() }
func (c *counter) get() int64  { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
