package replay

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections"
)

// ErrUnknownProjection: a rebuild names a projection that has no read
// models (or no such projection).
var ErrUnknownProjection = domain.NewError(domain.Invalid, "unknown-projection", "no such projection with read models")

// BlueGreen is the blue/green rebuild of one process, whole: which
// projections may be rebuilt, choosing them by name, refusing one whose
// rebuild is under way, and running rebuilds (Rebuilder: claim, progress,
// swap, give up), in the foreground for the command line or in the
// background for the service, where they run until the service stops.
type BlueGreen struct {
	Rebuilder Rebuilder
	// All are the projections that may be rebuilt: those with read models.
	All []Tabled
	Log *slog.Logger

	mu  sync.Mutex
	ctx context.Context
	wg  sync.WaitGroup
}

// Choose picks the named projections (none named: all of them).
func (bg *BlueGreen) Choose(names []string) ([]Tabled, error) {
	if len(names) == 0 {
		return bg.All, nil
	}
	var out []Tabled
	for _, name := range names {
		i := slices.IndexFunc(bg.All, func(p Tabled) bool { return p.Name() == name })
		if i < 0 {
			return nil, ErrUnknownProjection.Withf("no projection %q with read models (have %v)", name, Names(bg.All))
		}
		out = append(out, bg.All[i])
	}
	return out, nil
}

// Names lists projections' names.
func Names(ps []Tabled) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
}

// Run rebuilds the named projections and returns when each has swapped in
// or failed.
func (bg *BlueGreen) Run(ctx context.Context, names []string) ([]string, error) {
	chosen, err := bg.Choose(names)
	if err != nil {
		return nil, err
	}
	return Names(chosen), bg.Rebuilder.Run(ctx, chosen)
}

// Serve lets background rebuilds (Rebuild) run until ctx ends; Wait waits
// for them to stop.
func (bg *BlueGreen) Serve(ctx context.Context) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	bg.ctx = ctx
}

// Wait waits for the background rebuilds to stop.
func (bg *BlueGreen) Wait() { bg.wg.Wait() }

// Rebuild rebuilds the named projections in the background, unless one of
// them is being rebuilt already, and returns their names. Progress and the
// outcome are in the rebuild states (Rebuilds) and the log.
func (bg *BlueGreen) Rebuild(names []string) ([]string, error) {
	bg.mu.Lock()
	ctx := bg.ctx
	bg.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return nil, errors.New("the service is not running")
	}
	chosen, err := bg.Choose(names)
	if err != nil {
		return nil, err
	}
	var states []RebuildState
	if err := bg.Rebuilder.Store.View(ctx, func(r projections.Reader) error {
		states, err = Rebuilds(ctx, r)
		return err
	}); err != nil {
		return nil, err
	}
	for _, s := range states {
		if s.Running() && slices.Contains(Names(chosen), s.Projection) {
			return nil, ErrRebuilding.Withf("%s is being rebuilt (%d/%d)", s.Projection, s.Done, s.Total)
		}
	}
	log := bg.Log
	if log == nil {
		log = slog.Default()
	}
	bg.wg.Go(func() {
		start := time.Now()
		if err := bg.Rebuilder.Run(ctx, chosen); err != nil {
			log.Error("rebuild failed; the live read models are as they were", "projections", Names(chosen), "err", err)
			return
		}
		log.Info("rebuild swapped in", "projections", Names(chosen), "took", time.Since(start).Round(time.Millisecond))
	})
	return Names(chosen), nil
}
