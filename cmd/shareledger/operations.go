package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/replay"
)

// operations runs rebuilds that operators ask the service for, in the
// background of the serving process (which, with the embedded stores, is
// the only one that may open them).
type operations struct {
	log     *slog.Logger
	all     []replay.Tabled
	rebuild replay.Rebuilder

	mu  sync.Mutex
	ctx context.Context
	wg  sync.WaitGroup
}

// start lets rebuilds run until ctx ends.
func (o *operations) start(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ctx = ctx
}

// wait waits for running rebuilds to stop.
func (o *operations) wait() { o.wg.Wait() }

var errUnknownProjection = domain.NewError(domain.Invalid, "unknown-projection", "no such projection with read models")

// choose picks the named projections of all (none named: all of them).
func choose(all []replay.Tabled, names []string) ([]replay.Tabled, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []replay.Tabled
	for _, name := range names {
		i := slices.IndexFunc(all, func(p replay.Tabled) bool { return p.Name() == name })
		if i < 0 {
			return nil, errUnknownProjection.Withf("no projection %q with read models (have %v)", name, projectionNames(all))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func projectionNames(ps []replay.Tabled) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
}

// Rebuild implements readapi.Operations.
func (o *operations) Rebuild(names []string) ([]string, error) {
	o.mu.Lock()
	ctx := o.ctx
	o.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return nil, errors.New("the service is not running")
	}
	chosen, err := choose(o.all, names)
	if err != nil {
		return nil, err
	}
	var states []replay.RebuildState
	if err := o.rebuild.Store.View(ctx, func(r projections.Reader) error {
		states, err = replay.Rebuilds(ctx, r)
		return err
	}); err != nil {
		return nil, err
	}
	for _, s := range states {
		if s.Running() && slices.Contains(projectionNames(chosen), s.Projection) {
			return nil, replay.ErrRebuilding.Withf("%s is being rebuilt (%d/%d)", s.Projection, s.Done, s.Total)
		}
	}
	o.wg.Go(func() {
		start := time.Now()
		if err := o.rebuild.Run(ctx, chosen); err != nil {
			o.log.Error("rebuild failed; the live read models are as they were", "projections", projectionNames(chosen), "err", err)
			return
		}
		o.log.Info("rebuild swapped in", "projections", projectionNames(chosen), "took", time.Since(start).Round(time.Millisecond))
	})
	return projectionNames(chosen), nil
}
