package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync/atomic"
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
	// SnapshotDocs bounds the changed documents a rebuild keeps for the
	// next snapshot of a projection (default 200,000): with more, the
	// snapshot is taken at the end of the page, before SnapshotEvery
	// events, so that a rebuild's memory stays bounded however far apart
	// its snapshots are.
	SnapshotDocs int
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
		every, docs := 0, rb.SnapshotDocs
		if slices.Contains(rb.Snapshotted, p.Name()) {
			every = max(rb.SnapshotEvery, 0)
		}
		if docs <= 0 {
			docs = defaultSnapshotDocs
		}
		jobs = append(jobs, &job{live: live, state: state, sh: newShadow(p, state.Generation, every, docs)})
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
	sh    *shadow
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

// shadow is a projection writing into another generation of its tables,
// under a checkpoint of its own. If it is snapshotted, it keeps each
// document it changed since its last snapshot as it now stands, and once
// every so many events writes them as the next snapshot's versions in the
// transaction of the page that reaches the count, with the snapshot's
// entry and the page's checkpoint. A snapshot taken after the page
// committed, reading those documents back, stopped the rebuild for as
// long as that took, and its writes took transactions of their own: it
// was half of a rebuild's time on PostgreSQL (docs/benchmarks.md). A
// shadow that is not snapshotted keeps nothing (what no snapshot clears
// would grow with the model).
//
// The pages of one shadow are applied one after the other, each after the
// one before has been applied (not necessarily committed), so what the
// shadow keeps is changed by one page at a time. A page that fails fails
// the rebuild of its projection, and what the shadow kept goes with it.
type shadow struct {
	Tabled
	gen   int
	names map[string]string
	every int // events between snapshots (0: not snapshotted)
	most  int // documents kept before a snapshot is taken whatever the events

	changed map[string]map[string]change // since the last snapshot: by table and key
	noted   int                          // documents in changed
	since   int                          // events applied since the last snapshot
	last    *Snapshot
	// snapshots counts the snapshots written, for the rebuild's state
	// (read by the rebuild while the next page may be applying).
	snapshots atomic.Int64
}

// change is a document as a page left it: put, or deleted (gone).
type change struct {
	doc  projections.Kept
	gone bool
}

// defaultSnapshotDocs is Rebuilder.SnapshotDocs unless set.
const defaultSnapshotDocs = 200_000

func newShadow(p Tabled, gen, every, most int) *shadow {
	names := map[string]string{}
	for _, t := range p.Tables() {
		names[t] = projections.TableIn(t, gen)
	}
	s := &shadow{Tabled: p, gen: gen, names: names, every: every, most: most}
	if every > 0 {
		s.changed = map[string]map[string]change{}
	}
	return s
}

func (s *shadow) Name() string { return s.Tabled.Name() + "~" + strconv.Itoa(s.gen) }

// Apply is a run of one event.
func (s *shadow) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	r := s.Gather()
	if err := r.Apply(ctx, tx, e); err != nil {
		return err
	}
	return r.Flush(ctx, tx)
}

// Gather implements projections.Gathering: a run of the projection's,
// gathered as it gathers one (or applied an event at a time, as Apply
// does, if it does not), under the shadow's table names. Every run ends
// with Flush, where a snapshot that is due is written.
func (s *shadow) Gather() projections.Gatherer {
	g := &shadowRun{s: s}
	if gp, ok := s.Tabled.(projections.Gathering); ok {
		g.g = gp.Gather()
	}
	return g
}

// shadowRun is a run of a shadow's events.
type shadowRun struct {
	s    *shadow
	g    projections.Gatherer // nil: the projection does not gather
	last projections.Envelope // the last event applied
}

func (r *shadowRun) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	var err error
	if r.g == nil {
		err = r.s.Tabled.Apply(ctx, r.s.tx(tx), e)
	} else {
		err = r.g.Apply(ctx, r.s.tx(tx), e)
	}
	if err == nil {
		r.last = e
		r.s.since++
	}
	return err
}

func (r *shadowRun) Flush(ctx context.Context, tx projections.Tx) error {
	if r.g != nil {
		if err := r.g.Flush(ctx, r.s.tx(tx)); err != nil {
			return err
		}
	}
	s := r.s
	if s.every > 0 && (s.since >= s.every || s.noted >= s.most) {
		return s.snapshot(ctx, tx, r.last.Record)
	}
	return nil
}

// snapshot writes, in tx (the store's own, which commits the page whose
// last event is at), the documents changed since the last snapshot as
// versions at that position, and the snapshot's entry. The first snapshot
// of a generation, which started empty, holds every document.
func (s *shadow) snapshot(ctx context.Context, tx projections.Tx, at eventstore.Record) error {
	snap := Snapshot{Projection: s.Tabled.Name(), Generation: s.gen, Position: at.Position, Time: at.Meta.Time, Format: VersionedFormat, Taken: time.Now().UTC()}
	if s.last != nil {
		snap.Base, snap.Depth = s.last.key(), s.last.Depth+1
	}
	for _, t := range slices.Sorted(maps.Keys(s.changed)) {
		vp := versionsPrefix(s.Tabled.Name(), s.gen, t)
		docs := s.changed[t]
		for _, k := range slices.Sorted(maps.Keys(docs)) {
			c := docs[k]
			doc := []byte(deleted)
			if !c.gone {
				var err error
				if doc, err = c.doc.Bytes(); err != nil {
					return fmt.Errorf("snapshot %s: encode %s/%s: %w", s.Tabled.Name(), t, k, err)
				}
			}
			// Its position is this page's checkpoint: no version is there
			// yet (projections.Fresh).
			if err := tx.Put(ctx, VersionsTable, versionKey(vp, k, snap.Position), projections.Fresh{V: projections.Encoded(doc)}); err != nil {
				return err
			}
			snap.Documents++
		}
	}
	if err := tx.Put(ctx, SnapshotsTable, snap.key(), snap); err != nil {
		return err
	}
	s.last, s.changed, s.noted, s.since = &snap, map[string]map[string]change{}, 0, 0
	s.snapshots.Add(1)
	return nil
}

// tx is tx under the shadow's table names, keeping what changes if the
// shadow is snapshotted.
func (s *shadow) tx(tx projections.Tx) projections.Tx {
	if s.changed == nil {
		return projections.Renamed(tx, s.names)
	}
	return keeping{Tx: projections.Renamed(tx, s.names), s: s}
}

// Prefetch implements projections.Prefetcher: what the projection names,
// under the shadow's table names (the transaction applying reads ahead
// into is the store's own).
func (s *shadow) Prefetch(envs []projections.Envelope) []projections.TableKeys {
	pf, ok := s.Tabled.(projections.Prefetcher)
	if !ok {
		return nil
	}
	keys := pf.Prefetch(envs)
	for i := range keys {
		if n, ok := s.names[keys[i].Table]; ok {
			keys[i].Table = n
		}
	}
	return keys
}

// note keeps what a page did to a document, its last change winning.
func (s *shadow) note(table, key string, c change) {
	docs := s.changed[table]
	if docs == nil {
		docs = map[string]change{}
		s.changed[table] = docs
	}
	if _, ok := docs[key]; !ok {
		s.noted++
	}
	docs[key] = c
}

// keeping is a transaction that tells its shadow of every document it
// changes.
type keeping struct {
	projections.Tx
	s *shadow
}

func (n keeping) Put(ctx context.Context, table, key string, v any) error {
	// A copy, as the store keeps one: the caller may change v after.
	doc, err := projections.Keep(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	if err := n.Tx.Put(ctx, table, key, v); err != nil {
		return err
	}
	n.s.note(table, key, change{doc: doc})
	return nil
}

func (n keeping) Delete(ctx context.Context, table, key string) error {
	if err := n.Tx.Delete(ctx, table, key); err != nil {
		return err
	}
	n.s.note(table, key, change{gone: true})
	return nil
}

// Prefetch implements projections.Prefetching: reading changes nothing.
func (n keeping) Prefetch(ctx context.Context, keys []projections.TableKeys) error {
	return projections.Prefetch(ctx, n.Tx, keys)
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
