package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// RebuildsTable holds the state of each projection's latest rebuild.
const RebuildsTable = "_rebuilds"

// Rebuild states.
const (
	Rebuilding = "rebuilding"
	Swapped    = "swapped"
	Failed     = "failed"
)

// RebuildState is how a projection's latest rebuild goes or went.
type RebuildState struct {
	Projection string     `json:"projection"`
	Generation int        `json:"generation"`
	State      string     `json:"state"`
	Done       uint64     `json:"done"`  // position reached
	Total      uint64     `json:"total"` // head of the log when it started
	Rate       float64    `json:"eventsPerSecond"`
	Snapshots  int        `json:"snapshots"`
	Started    time.Time  `json:"started"`
	Updated    time.Time  `json:"updated"`
	Finished   *time.Time `json:"finished,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// Running says whether the rebuild is under way: rebuilding, and heard of
// within the last minute (a rebuild whose process died goes quiet).
func (s RebuildState) Running() bool {
	return s.State == Rebuilding && time.Since(s.Updated) < stale
}

// ErrRebuilding is returned when another rebuild of the projection is
// under way.
var ErrRebuilding = &domain.Error{Kind: domain.Conflict, Code: "rebuild-in-progress", Message: "a rebuild of this projection is under way"}

// stale is how long a rebuild may go without a word before another may
// take over (its process died).
const stale = time.Minute

// Rebuilder rebuilds projections blue/green: each into a new generation of
// its tables beside the live one, swapped in once it has caught up with
// the live projection. Readers and the live projection go on meanwhile; a
// rebuild that fails leaves the live generation as it was.
type Rebuilder struct {
	Events   eventstore.Store
	Store    projections.Store // the raw store, not the Generational view
	Registry *domain.Registry
	Report   Progress
	// SnapshotEvery takes a snapshot of the projections named in
	// Snapshotted (the ones that answer about the past) every so many
	// events (0: none).
	SnapshotEvery int
	Snapshotted   []string
	// Page is how many events each transaction applies (default 1000).
	Page int
}

// Run rebuilds the projections together, in one pass over the log, and
// swaps each in as soon as it has caught up with its live projection. A
// projection whose rebuild fails is left as it was; the others go on.
func (rb Rebuilder) Run(ctx context.Context, ps []Tabled) error {
	var jobs []*job
	var errs []error
	for _, p := range ps {
		live, state, err := rb.claim(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rebuild %s: %w", p.Name(), err))
			continue
		}
		every := 0
		if slices.Contains(rb.Snapshotted, p.Name()) {
			every = max(rb.SnapshotEvery, 0)
		}
		jobs = append(jobs, &job{live: live, state: state, sh: newShadow(p, state.Generation, every)})
	}
	head, err := rb.Events.Head(ctx)
	if err != nil {
		for _, j := range jobs {
			rb.fail(ctx, j, err)
		}
		return errors.Join(append(errs, err)...)
	}
	for _, j := range jobs {
		j.state.Total = head.Commit
	}
	rb.catchUp(ctx, jobs, head)
	for _, j := range jobs {
		if j.err == nil {
			j.err = rb.swap(ctx, j)
		}
		if j.err != nil {
			errs = append(errs, fmt.Errorf("rebuild %s: %w", j.sh.Tabled.Name(), j.err))
		}
	}
	return errors.Join(errs...)
}

// job is one projection's rebuild.
type job struct {
	live  projections.Generation
	state RebuildState
	sh    *versioned
	err   error
}

// fail records that j failed and drops what it built: the live
// generation is untouched.
func (rb Rebuilder) fail(ctx context.Context, j *job, err error) {
	j.err = err
	bg := context.WithoutCancel(ctx)
	now := time.Now().UTC()
	j.state.State, j.state.Error, j.state.Updated, j.state.Finished = Failed, err.Error(), now, &now
	_ = rb.put(bg, j.state)
	if ctx.Err() == nil {
		// (Stopped by a shutdown, it leaves the drop to the next
		// rebuild's claim.)
		_ = rb.dropGeneration(bg, j.sh.Tables(), j.sh.Tabled.Name(), j.sh.gen)
	}
}

// swap catches j up with its live projection and swaps it in, in one
// transaction with the live checkpoint that the live projection waits on.
func (rb Rebuilder) swap(ctx context.Context, j *job) error {
	p, sh := j.sh.Tabled, j.sh
	for {
		if err := ctx.Err(); err != nil {
			rb.fail(ctx, j, err)
			return err
		}
		err := rb.Store.Update(ctx, p.Name(), func(tx projections.Tx, liveAt eventstore.Position) (eventstore.Position, error) {
			at, err := tx.Checkpoint(ctx, sh.Name())
			if err != nil {
				return liveAt, err
			}
			if at.Less(liveAt) {
				return liveAt, errBehind
			}
			if err := tx.Put(ctx, projections.GenerationsTable, p.Name(), projections.Generation{Number: sh.gen, Tables: p.Tables(), Since: time.Now().UTC()}); err != nil {
				return liveAt, err
			}
			if sh.every > 0 {
				// The live projection goes on from the rebuild's latest
				// snapshot (none: a head of none, read as such).
				head := Snapshot{Projection: p.Name(), Generation: sh.gen, Format: CopyOnWriteFormat}
				if sh.head != nil {
					head = *sh.head
				}
				if err := tx.Put(ctx, HeadsTable, p.Name(), head); err != nil {
					return liveAt, err
				}
			}
			now := time.Now().UTC()
			st := j.state
			st.State, st.Done, st.Updated, st.Finished = Swapped, at.Commit, now, &now
			return at, tx.Put(ctx, RebuildsTable, p.Name(), st)
		})
		if err == nil {
			break
		}
		if !errors.Is(err, errBehind) {
			rb.fail(ctx, j, err)
			return err
		}
		// The live projection moved on while we caught up: follow it.
		head, err := rb.Events.Head(ctx)
		if err != nil {
			rb.fail(ctx, j, err)
			return err
		}
		if rb.catchUp(ctx, []*job{j}, head); j.err != nil {
			return j.err
		}
	}
	// Readers have moved to the new generation; the old one is garbage.
	tables := j.live.Tables
	if len(tables) == 0 {
		tables = p.Tables()
	}
	return rb.dropGeneration(context.WithoutCancel(ctx), tables, p.Name(), j.live.Number)
}

var errBehind = errors.New("the rebuild is behind the live projection")

// claim records that p's rebuild starts, unless another is under way, and
// returns the live generation and the new state.
func (rb Rebuilder) claim(ctx context.Context, p Tabled) (projections.Generation, RebuildState, error) {
	var live projections.Generation
	var prev, next RebuildState
	err := rb.Store.Update(ctx, "_rebuilds", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		var err error
		if live, err = generationOf(ctx, tx, p.Name()); err != nil {
			return cp, err
		}
		if _, err := tx.Get(ctx, RebuildsTable, p.Name(), &prev); err != nil {
			return cp, err
		}
		if prev.Running() {
			return cp, ErrRebuilding.Withf("%s is being rebuilt into generation %d (%d/%d)", p.Name(), prev.Generation, prev.Done, prev.Total)
		}
		now := time.Now().UTC()
		next = RebuildState{Projection: p.Name(), Generation: max(live.Number, prev.Generation) + 1, State: Rebuilding, Started: now, Updated: now}
		return cp, tx.Put(ctx, RebuildsTable, p.Name(), next)
	})
	if err != nil {
		return live, next, err
	}
	// A rebuild that died or was stopped half-way left its generation
	// behind.
	if prev.Generation != 0 && prev.State != Swapped && prev.Generation != live.Number {
		if err := rb.dropGeneration(ctx, p.Tables(), p.Name(), prev.Generation); err != nil {
			return live, next, err
		}
	}
	return live, next, nil
}

// catchUp reads the log once up to until and applies each page to every
// job still going, reporting progress and taking snapshots on the way. A
// job that fails is marked and left behind.
func (rb Rebuilder) catchUp(ctx context.Context, jobs []*job, until eventstore.Position) {
	page := rb.Page
	if page <= 0 {
		page = 1000
	}
	going := func() []*job {
		var out []*job
		for _, j := range jobs {
			if j.err == nil {
				out = append(out, j)
			}
		}
		return out
	}
	name := fmt.Sprintf("%d projections", len(jobs))
	if len(jobs) == 1 {
		name = jobs[0].sh.Tabled.Name()
	}
	// Start from the job furthest behind; ApplyDecoded skips what a job
	// already has.
	var at eventstore.Position
	for i, j := range going() {
		cp, err := rb.Store.Checkpoint(ctx, j.sh.Name())
		if err != nil {
			rb.fail(ctx, j, err)
			continue
		}
		if i == 0 || cp.Less(at) {
			at = cp
		}
	}
	start, saved := time.Now(), time.Now()
	// A page is applied while the page before it commits, where the store
	// can (projections.Ahead): a page's results are taken in once the next
	// one is applied. Snapshots are written by the pages themselves.
	type applied struct {
		js      []*job
		decoded projections.Batch
		dones   []eventstore.Position
		wait    func() []error
		rate    float64
	}
	var last *applied
	finish := func(a *applied) {
		errs := a.wait()
		save := time.Since(saved) > time.Second
		for i, j := range a.js {
			if j.err != nil {
				continue // failed with an earlier page
			}
			if err := errs[i]; err != nil {
				rb.fail(ctx, j, err)
				continue
			}
			j.state.Done, j.state.Rate, j.state.Snapshots = a.dones[i].Commit, a.rate, int(j.sh.snapshots.Load())
			if save {
				j.state.Updated = time.Now().UTC()
				if err := rb.put(ctx, j.state); err != nil {
					rb.fail(ctx, j, err)
				}
			}
		}
		if save {
			saved = time.Now()
		}
		if rb.Report != nil {
			at := a.decoded.Last()
			rb.Report(name, at.Commit, max(until.Commit, at.Commit), a.rate)
		}
	}
	// Each page is decoded once, for every job, a page ahead.
	err := projections.Pages(ctx, rb.Events, rb.Registry, at, page, projections.UpTo(until), func(decoded projections.Batch) error {
		if len(going()) == 0 {
			return projections.ErrEnough
		}
		js := going()
		ps := make([]projections.Projection, len(js))
		for i, j := range js {
			ps[i] = j.sh
		}
		// Every job's page together, where the store groups them (the
		// embedded store in one transaction, applied while the page
		// before commits; PostgreSQL at once, each in its own).
		dones, wait := projections.ApplyDecodedEachAhead(ctx, rb.Store, ps, slices.Repeat([]projections.Batch{decoded}, len(js)))
		a := &applied{js: js, decoded: decoded, dones: dones, wait: wait, rate: float64(decoded.Last().Commit) / max(time.Since(start).Seconds(), 1e-9)}
		if last != nil {
			finish(last)
		}
		last = a
		return nil
	})
	if last != nil {
		finish(last)
	}
	if err != nil {
		for _, j := range going() {
			rb.fail(ctx, j, err)
		}
	}
}

func (rb Rebuilder) put(ctx context.Context, state RebuildState) error {
	return rb.Store.Update(ctx, "_rebuilds", func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		return cp, tx.Put(ctx, RebuildsTable, state.Projection, state)
	})
}

// dropGeneration deletes a generation's tables and snapshots.
func (rb Rebuilder) dropGeneration(ctx context.Context, tables []string, projection string, gen int) error {
	var errs []error
	for _, t := range tables {
		errs = append(errs, drop(ctx, rb.Store, projections.TableIn(t, gen), ""))
	}
	errs = append(errs, dropSnapshots(ctx, rb.Store, projection, gen))
	return errors.Join(errs...)
}

// Rebuilds lists the state of every projection's latest rebuild.
func Rebuilds(ctx context.Context, r projections.Reader) ([]RebuildState, error) {
	var out []RebuildState
	err := r.Scan(ctx, RebuildsTable, projections.Page{}, func(_ string, d []byte) error {
		var s RebuildState
		if err := json.Unmarshal(d, &s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}
