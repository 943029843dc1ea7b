package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// Batch caps how many events one message (and one transaction) holds.
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
		c.Batch = 256
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
// router: each projection is a router handler with its own subscriber that
// starts from the projection's durable checkpoint. Middleware recovers
// panics, retries, and moves an event that keeps failing to the poison
// table, so one bad event never stops the other consumers.
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
	poison, err := middleware.PoisonQueueWithFilter(poisonSink{r}, poisonTopic, func(err error) bool { return !IsTransient(err) })
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
	for _, p := range r.cfg.Projections {
		sub := &subscriber{runner: r, name: p.Name(), closed: make(chan struct{})}
		router.AddConsumerHandler(p.Name(), topic, sub, r.handler(p))
	}
	return router.Run(ctx)
}

func (r *Runner) handler(p Projection) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		batch, err := decodeBatch(msg.Payload)
		if err != nil {
			return err
		}
		ctx := msg.Context()
		at, err := ApplyBatch(ctx, r.cfg.Store, r.cfg.Registry, p, batch)
		if err == nil {
			r.advanced(p.Name(), at, len(batch))
			return nil
		}
		if len(batch) == 1 {
			return err
		}
		// Find the failing event: apply one by one; those before it commit.
		for _, rec := range batch {
			at, err := ApplyBatch(ctx, r.cfg.Store, r.cfg.Registry, p, []eventstore.Record{rec})
			if err != nil {
				return err
			}
			r.advanced(p.Name(), at, 1)
		}
		return nil
	}
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
		batch, err := decodeBatch(msg.Payload)
		if err != nil {
			return err
		}
		for _, rec := range batch {
			at, err := ApplyBatch(msg.Context(), s.r.cfg.Store, s.r.cfg.Registry, p, []eventstore.Record{rec})
			if err == nil {
				s.r.advanced(name, at, 1)
				continue
			}
			if _, err := s.r.quarantine(msg.Context(), name, rec, err.Error()); err != nil {
				return err
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

// subscriber is a watermill subscriber over the event store for one
// consumer. It starts after the consumer's checkpoint and delivers batches
// one at a time, waiting for each to be acknowledged.
type subscriber struct {
	runner    *Runner
	name      string
	closeOnce sync.Once
	closed    chan struct{}
}

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
		err := s.runner.cfg.Events.Subscribe(ctx, from, func(ctx context.Context, recs []eventstore.Record) error {
			for start := 0; start < len(recs); start += s.runner.cfg.Batch {
				end := min(start+s.runner.cfg.Batch, len(recs))
				if err := s.deliver(ctx, out, recs[start:end]); err != nil {
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

func (s *subscriber) deliver(ctx context.Context, out chan<- *message.Message, batch []eventstore.Record) error {
	payload, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	for {
		msg := message.NewMessage(watermill.NewUUID(), payload)
		msg.Metadata.Set("first_position", batch[0].Position.String())
		msg.Metadata.Set("events", strconv.Itoa(len(batch)))
		msg.SetContext(ctx)
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

func decodeBatch(b []byte) ([]eventstore.Record, error) {
	var batch []eventstore.Record
	if err := json.Unmarshal(b, &batch); err != nil {
		return nil, fmt.Errorf("decode event batch: %w", err)
	}
	return batch, nil
}

type counter struct {
	mu sync.Mutex
	n  int64
}

func (c *counter) add(n int64) { c.mu.Lock(); c.n += n; c.mu.Unlock() }
func (c *counter) get() int64  { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
