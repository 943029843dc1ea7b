package partnership

import (
	"context"
	"log/slog"
	"time"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/device"
)

// Owed is a release that one partnership owes a deleted device: who
// deleted it, the event that made the release owed (the deletion, or a
// share that raced it) and the deletion's correlation id.
type Owed struct {
	Device      device.ID
	Owner       domain.AccountID
	Partner     domain.AccountID
	By          domain.UserID
	Cause       string
	Correlation string
}

// Releaser finishes device deletions. Deleting a device is decided on the
// device's stream; the partnerships that share it live in streams of their
// own, so the device cannot take itself back from them in the same step.
// The devices projection keeps what is owed (every partnership that shared
// the device when it was deleted, and any share that raced the deletion),
// and the Releaser sends a Release for each, on behalf of whoever deleted
// the device and under the deletion's correlation id, until nothing is
// owed. Each release's command id derives from the event that made it
// owed and the partner, so a release sent twice (a restart, two
// instances, a projection that has not caught up) appends once, while a
// share that raced the deletion, released already or not, is owed a
// release of its own; a projection rebuilt from the log owes the same.
type Releaser struct {
	Release commands.Handler[Release]
	// Owed lists what is owed, up to limit entries.
	Owed func(ctx context.Context, limit int) ([]Owed, error)
	// Every is the wait between two looks (default 1 s). A device is gone
	// for its partners as soon as it is deleted (their commands are refused
	// and their pages no longer show it); the release records that in the
	// partnership and takes it out of their projects.
	Every time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// Run works until ctx ends.
func (r Releaser) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("device releases: will try again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once sends the releases owed now, and says how it went for the first that
// failed (the others are still sent).
func (r Releaser) Once(ctx context.Context) error {
	owed, err := r.Owed(ctx, 100)
	if err != nil {
		return err
	}
	var first error
	for _, o := range owed {
		m := commands.Meta{
			Caller:        domain.Actor{User: o.By, Account: o.Owner},
			CommandID:     commands.NewID(o.Cause+"\x00"+string(o.Partner), "device-release"),
			CorrelationID: o.Correlation,
			Time:          r.Now(),
		}
		if _, err := r.Release.Handle(ctx, Release{Meta: m, Partner: o.Partner, Device: o.Device}); err != nil && first == nil {
			first = err
		}
	}
	return first
}
