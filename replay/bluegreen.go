package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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

// Run rebuilds each projection in turn.
func (rb Rebuilder) Run(ctx context.Context, ps []Tabled) error {
	for _, p := range ps {
		if err := rb.one(ctx, p); err != nil {
			return fmt.Errorf("rebuild %s: %w", p.Name(), err)
		}
	}
	return nil
}

// shadow is a projection writing into another generation of its tables,
// under a checkpoint of its own. It notes which documents it changed since
// its last snapshot, so that the next one holds only those.
type shadow struct {
	Tabled
	gen     int
	names   map[string]string
	changed map[string]map[string]bool
	last    *Snapshot
}

func newShadow(p Tabled, gen int) *shadow {
	names := map[string]string{}
	for _, t := range p.Tables() {
		names[t] = projections.TableIn(t, gen)
	}
	return &shadow{Tabled: p, gen: gen, names: names, changed: map[string]map[string]bool{}}
}

func (s *shadow) Name() string { return s.Tabled.Name() + "~" + strconv.Itoa(s.gen) }

func (s *shadow) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	return s.Tabled.Apply(ctx, noting{Tx: projections.Renamed(tx, s.names), changed: s.changed}, e)
}

// plan is what the shadow's next snapshot holds: the changes since its
// last, or everything every maxDepth snapshots.
func (s *shadow) plan() plan {
	if s.last == nil || s.last.Depth+1 >= maxDepth {
		return plan{}
	}
	return plan{base: s.last, changed: s.changed}
}

// noting is a transaction that notes the documents it changes.
type noting struct {
	projections.Tx
	changed map[string]map[string]bool
}

func (n noting) note(table, key string) {
	if n.changed[table] == nil {
		n.changed[table] = map[string]bool{}
	}
	n.changed[table][key] = true
}

func (n noting) Put(ctx context.Context, table, key string, v any) error {
	n.note(table, key)
	return n.Tx.Put(ctx, table, key, v)
}

func (n noting) Delete(ctx context.Context, table, key string) error {
	n.note(table, key)
	return n.Tx.Delete(ctx, table, key)
}

func (rb Rebuilder) one(ctx context.Context, p Tabled) (err error) {
	live, state, err := rb.claim(ctx, p)
	if err != nil {
		return err
	}
	sh := newShadow(p, state.Generation)
	defer func() {
		if err == nil {
			return
		}
		// The live generation is untouched; drop what was built.
		bg := context.WithoutCancel(ctx)
		now := time.Now().UTC()
		state.State, state.Error, state.Updated, state.Finished = Failed, err.Error(), now, &now
		_ = rb.put(bg, state)
		if ctx.Err() == nil {
			// (Stopped by a shutdown, it leaves the drop to the next
			// rebuild's claim.)
			_ = rb.dropGeneration(bg, p.Tables(), p.Name(), state.Generation)
		}
	}()
	head, err := rb.Events.Head(ctx)
	if err != nil {
		return err
	}
	state.Total = head.Commit
	if err := rb.catchUp(ctx, sh, head, &state); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
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
			// The swap: one document and the live checkpoint, in one
			// transaction that the live projection waits on.
			if err := tx.Put(ctx, projections.GenerationsTable, p.Name(), projections.Generation{Number: sh.gen, Tables: p.Tables(), Since: time.Now().UTC()}); err != nil {
				return liveAt, err
			}
			now := time.Now().UTC()
			state.State, state.Done, state.Updated, state.Finished = Swapped, at.Commit, now, &now
			return at, tx.Put(ctx, RebuildsTable, p.Name(), state)
		})
		if err == nil {
			break
		}
		if !errors.Is(err, errBehind) {
			return err
		}
		// The live projection moved on while we caught up: follow it.
		if head, err = rb.Events.Head(ctx); err != nil {
			return err
		}
		if err := rb.catchUp(ctx, sh, head, &state); err != nil {
			return err
		}
	}
	// Readers have moved to the new generation; the old one is garbage.
	tables := live.Tables
	if len(tables) == 0 {
		tables = p.Tables()
	}
	return rb.dropGeneration(context.WithoutCancel(ctx), tables, p.Name(), live.Number)
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
		if prev.State == Rebuilding && time.Since(prev.Updated) < stale {
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

// catchUp applies events to the shadow up to until, reporting progress and
// taking snapshots on the way.
func (rb Rebuilder) catchUp(ctx context.Context, sh *shadow, until eventstore.Position, state *RebuildState) error {
	page := rb.Page
	if page <= 0 {
		page = 1000
	}
	at, err := rb.Store.Checkpoint(ctx, sh.Name())
	if err != nil {
		return err
	}
	start, since, saved := time.Now(), 0, time.Now()
	var last time.Time
	for at.Less(until) {
		recs, err := rb.Events.ReadAll(ctx, at, page)
		if err != nil {
			return err
		}
		n := 0
		for n < len(recs) && !until.Less(recs[n].Position) {
			n++
		}
		if n == 0 {
			break
		}
		if at, err = projections.ApplyBatch(ctx, rb.Store, rb.Registry, sh, recs[:n]); err != nil {
			return err
		}
		last = recs[n-1].Meta.Time
		since += n
		state.Done = at.Commit
		state.Rate = float64(at.Commit) / max(time.Since(start).Seconds(), 1e-9)
		if rb.SnapshotEvery > 0 && since >= rb.SnapshotEvery && slices.Contains(rb.Snapshotted, sh.Tabled.Name()) {
			when := last
			snap, err := takeSnapshot(ctx, rb.Store, sh.Tabled, sh.gen, sh.Name(), sh.plan(), func(eventstore.Position) (time.Time, error) { return when, nil })
			if err != nil {
				return err
			}
			sh.last, sh.changed = &snap, map[string]map[string]bool{}
			state.Snapshots++
			since = 0
		}
		if rb.Report != nil {
			rb.Report(sh.Tabled.Name(), at.Commit, max(until.Commit, at.Commit), state.Rate)
		}
		if time.Since(saved) > time.Second {
			state.Updated = time.Now().UTC()
			if err := rb.put(ctx, *state); err != nil {
				return err
			}
			saved = time.Now()
		}
	}
	return nil
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
