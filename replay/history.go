package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/memory"
)

// Moment is a point in the past: a position in the log, or a time (the
// last event recorded at or before it, in log order). Zero fields do not
// limit.
type Moment struct {
	Position eventstore.Position
	Time     time.Time
}

func (m Moment) includes(rec eventstore.Record) bool {
	return (m.Position.IsZero() || !m.Position.Less(rec.Position)) &&
		(m.Time.IsZero() || !rec.Meta.Time.After(m.Time))
}

func (m Moment) includesSnapshot(s Snapshot) bool {
	return (m.Position.IsZero() || !m.Position.Less(s.Position)) &&
		(m.Time.IsZero() || !s.Time.After(m.Time))
}

// Then is the read models as they stood at a moment.
type Then struct {
	// Store holds them; it is in memory and read-only by convention.
	Store projections.Store
	// Position is the last event they include, and Time when it was
	// recorded (zero: the log held nothing yet).
	Position eventstore.Position
	Time     time.Time
	// Replayed counts the events replayed on top of the snapshots.
	Replayed int
}

// History answers read-model questions as of a past moment: for each
// projection it finds the newest snapshot at or before the moment, lays an
// in-memory store over the snapshots' versions (read by key, as the answer
// needs them, never loaded whole) and replays the events between the
// snapshots and the moment into it. What a question costs is the events it
// replays and the documents it reads, not the size of the models.
type History struct {
	Events      eventstore.Store
	Store       projections.Store // the raw store
	Registry    *domain.Registry
	Projections []Tabled
}

// At builds the read models as they stood at m.
func (h *History) At(ctx context.Context, m Moment) (Then, error) {
	chosen := make([]Snapshot, len(h.Projections))
	err := h.Store.View(ctx, func(r projections.Reader) error {
		for i, p := range h.Projections {
			g, all, err := liveSnapshots(ctx, r, p.Name())
			if err != nil {
				return err
			}
			chosen[i] = Snapshot{Projection: p.Name(), Generation: g.Number}
			for _, s := range all {
				if s.Format == VersionedFormat && m.includesSnapshot(s) {
					chosen[i] = s
				}
			}
		}
		return nil
	})
	if err != nil {
		return Then{}, err
	}
	base := &past{store: h.Store, tables: map[string]versions{}, checkpoints: map[string]eventstore.Position{}}
	then := Then{}
	from := chosen[0].Position
	for i, s := range chosen {
		if s.Position.Less(from) {
			from = s.Position
		}
		if s.Position.IsZero() {
			continue
		}
		for _, t := range h.Projections[i].Tables() {
			base.tables[t] = versionsAt(s.Projection, s.Generation, t, s.Position)
		}
		base.checkpoints[s.Projection] = s.Position
		if then.Position.Less(s.Position) {
			then.Position, then.Time = s.Position, s.Time
		}
	}
	store := memory.New(base)
	ps := make([]projections.Projection, len(h.Projections))
	for i, p := range h.Projections {
		ps[i] = p
	}
	// The replay reads the snapshots through one read transaction; the
	// answer's own reads, after it, each take one.
	err = h.Store.View(ctx, func(r projections.Reader) error {
		base.r = r
		defer func() { base.r = nil }()
		// Each page is decoded once, for every projection, a page ahead.
		return projections.Pages(ctx, h.Events, h.Registry, from, 1000, m.includes, func(decoded projections.Batch) error {
			for _, p := range ps {
				if _, err := projections.ApplyDecoded(ctx, store, p, decoded); err != nil {
					return err
				}
			}
			then.Replayed += len(decoded)
			if last := decoded[len(decoded)-1].Record; then.Position.Less(last.Position) {
				then.Position, then.Time = last.Position, last.Meta.Time
			}
			return nil
		})
	})
	if err != nil {
		return Then{}, err
	}
	then.Store = store
	return then, nil
}

// past is the snapshots' documents as they stood at the chosen snapshots
// (memory.ManyBase), read from the store that holds them: one ordered
// look-up each, or many at once for what a projection names ahead.
type past struct {
	store       projections.Store
	tables      map[string]versions
	checkpoints map[string]eventstore.Position
	r           projections.Reader // while At replays: its read transaction
}

// view runs fn in the replay's read transaction, or in one of its own.
func (p *past) view(ctx context.Context, fn func(projections.Reader) error) error {
	if p.r != nil {
		return fn(p.r)
	}
	return p.store.View(ctx, fn)
}

func (p *past) Doc(ctx context.Context, table, key string) (doc []byte, found bool, err error) {
	v, ok := p.tables[table]
	if !ok {
		return nil, false, nil
	}
	err = p.view(ctx, func(r projections.Reader) error {
		doc, found, err = v.doc(ctx, r, key)
		return err
	})
	return doc, found, err
}

// Docs implements memory.ManyBase: the documents as they stood, read at
// once for a page of events that names them ahead.
func (p *past) Docs(ctx context.Context, keys []projections.TableKeys, fn func(table, key string, doc []byte) error) error {
	return p.view(ctx, func(r projections.Reader) error {
		for _, tk := range keys {
			v, ok := p.tables[tk.Table]
			if !ok || len(tk.Keys) == 0 {
				continue
			}
			err := v.docs(ctx, r, tk.Keys, func(key string, doc []byte) error { return fn(tk.Table, key, doc) })
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Remote implements memory.ManyBase: reading ahead pays where the store's
// reads are round trips (a replay reads ahead inside At's transaction).
func (p *past) Remote() bool { return p.r != nil && projections.Remote(p.r) }

func (p *past) Each(ctx context.Context, table, prefix, after string, fn func(key string, doc []byte) error) error {
	v, ok := p.tables[table]
	if !ok {
		return nil
	}
	return p.view(ctx, func(r projections.Reader) error { return v.each(ctx, r, prefix, after, fn) })
}

func (p *past) Checkpoint(consumer string) eventstore.Position { return p.checkpoints[consumer] }

var _ memory.ManyBase = (*past)(nil)

// Covers says whether the history holds every projection named.
func (h *History) Covers(names []string) bool {
	for _, n := range names {
		found := false
		for _, p := range h.Projections {
			found = found || p.Name() == n
		}
		if !found {
			return false
		}
	}
	return true
}

// Snapshots lists the snapshots of the live generation of every
// projection, oldest first.
func (h *History) Snapshots(ctx context.Context) ([]Snapshot, error) {
	var out []Snapshot
	err := h.Store.View(ctx, func(r projections.Reader) error {
		for _, p := range h.Projections {
			_, s, err := liveSnapshots(ctx, r, p.Name())
			if err != nil {
				return err
			}
			out = append(out, s...)
		}
		return nil
	})
	return out, err
}

// Snapshotter takes a snapshot of each live projection whenever it has
// applied Every events since the last one. It runs beside the
// projections, on the instance that runs them. A snapshot writes the
// documents the projection noted as changed (Note) since the last one;
// without trustworthy notes (a projection not run through Note, the first
// snapshot after a start) it compares every document with the last
// snapshot's versions, which costs a read of the model and of its
// versions.
type Snapshotter struct {
	Events      eventstore.Store
	Store       projections.Store // the raw store
	Projections []Tabled
	Every       int
	// Tick is how often it looks (default one second).
	Tick time.Duration
	// Taken, if set, hears of every snapshot, and Failed of every
	// failure (the snapshotter tries again on its next tick).
	Taken  func(Snapshot)
	Failed func(error)

	cursors map[string]*cursor

	mu sync.Mutex
	// noted holds, per projection that runs through Note, the documents
	// it changed (table → key → the position of the latest change);
	// trusted says which projections' notes hold every change since their
	// last snapshot, so that the next one can write just those.
	noted   map[string]map[string]map[string]eventstore.Position
	noting  map[string]bool
	trusted map[string]bool
}

// Note is p as it runs live, telling the snapshotter which documents it
// changes, so that a snapshot writes those instead of comparing every
// document with the snapshot before. Wrap the live projections the
// snapshotter snapshots (not those a rebuild runs, which keep their own
// notes). Until a snapshot has been taken since the process started (or
// since a rebuild swapped a projection's generation), the snapshotter
// compares: changes made before the notes began are not in them.
func (s *Snapshotter) Note(p Tabled) Tabled {
	if s.Every <= 0 {
		return p // no snapshots: nothing would ever clear the notes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noting == nil {
		s.noting = map[string]bool{}
	}
	s.noting[p.Name()] = true
	return noted{Tabled: p, s: s}
}

type noted struct {
	Tabled
	s *Snapshotter
}

// Prefetch implements projections.Prefetcher: what the projection names.
func (n noted) Prefetch(envs []projections.Envelope) []projections.TableKeys {
	if pf, ok := n.Tabled.(projections.Prefetcher); ok {
		return pf.Prefetch(envs)
	}
	return nil
}

func (n noted) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	note := func(table, key string) { n.s.note(n.Name(), table, key, e.Record.Position) }
	return n.Tabled.Apply(ctx, noting{Tx: tx, note: note}, e)
}

// noting is a transaction that tells note of every document it changes.
type noting struct {
	projections.Tx
	note func(table, key string)
}

func (n noting) Put(ctx context.Context, table, key string, v any) error {
	n.note(table, key)
	return n.Tx.Put(ctx, table, key, v)
}

func (n noting) Delete(ctx context.Context, table, key string) error {
	n.note(table, key)
	return n.Tx.Delete(ctx, table, key)
}

// Prefetch implements projections.Prefetching: reading changes nothing.
func (n noting) Prefetch(ctx context.Context, keys []projections.TableKeys) error {
	return projections.Prefetch(ctx, n.Tx, keys)
}

// note records that a live projection changed a document at a position. A
// change noted in a transaction that then fails costs only a version
// written twice.
func (s *Snapshotter) note(projection, table, key string, at eventstore.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noted == nil {
		s.noted = map[string]map[string]map[string]eventstore.Position{}
	}
	byTable := s.noted[projection]
	if byTable == nil {
		byTable = map[string]map[string]eventstore.Position{}
		s.noted[projection] = byTable
	}
	if byTable[table] == nil {
		byTable[table] = map[string]eventstore.Position{}
	}
	byTable[table][key] = at
}

// changedSince is a copy of what a projection's notes hold, if they are to
// be trusted.
func (s *Snapshotter) changedSince(projection string) (map[string]map[string]bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.noting[projection] || !s.trusted[projection] {
		return nil, false
	}
	out := map[string]map[string]bool{}
	for t, keys := range s.noted[projection] {
		out[t] = make(map[string]bool, len(keys))
		for k := range keys {
			out[t][k] = true
		}
	}
	return out, true
}

// taken forgets the notes a snapshot at pos covered: those it wrote
// (covered; nil when it compared instead, and covered every change up to
// pos) of changes at or before pos. Notes of later changes, and notes
// taken after the snapshot chose what to write, stay for the next one.
// From now on the notes are trusted: every change after pos is either
// noted or still to come.
func (s *Snapshotter) taken(projection string, pos eventstore.Position, covered map[string]map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, keys := range s.noted[projection] {
		for k, at := range keys {
			if !pos.Less(at) && (covered == nil || covered[t][k]) {
				delete(keys, k)
			}
		}
	}
	if s.trusted == nil {
		s.trusted = map[string]bool{}
	}
	s.trusted[projection] = true
}

// distrust makes the next snapshot of a projection compare.
func (s *Snapshotter) distrust(projection string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.trusted, projection)
}

// cursor is how far the snapshotter has counted a projection's events.
type cursor struct {
	gen   int
	at    eventstore.Position
	time  time.Time
	count int
}

// Run takes snapshots until ctx ends. Its first snapshot of each
// projection compares: while it did not run (another instance held the
// projections), changes went unnoted here.
func (s *Snapshotter) Run(ctx context.Context) {
	s.mu.Lock()
	s.trusted = nil
	s.mu.Unlock()
	tick := s.Tick
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := s.Once(ctx); err != nil && ctx.Err() == nil && s.Failed != nil {
			s.Failed(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once looks at every projection once and snapshots those that are due.
func (s *Snapshotter) Once(ctx context.Context) error {
	if s.Every <= 0 {
		return nil
	}
	if s.cursors == nil {
		s.cursors = map[string]*cursor{}
	}
	for _, p := range s.Projections {
		if err := s.one(ctx, p); err != nil {
			return fmt.Errorf("snapshot %s: %w", p.Name(), err)
		}
	}
	return nil
}

func (s *Snapshotter) one(ctx context.Context, p Tabled) error {
	var g projections.Generation
	var last []Snapshot
	var cp eventstore.Position
	err := s.Store.View(ctx, func(r projections.Reader) error {
		var err error
		if g, last, err = liveSnapshots(ctx, r, p.Name()); err != nil {
			return err
		}
		cp, err = r.Checkpoint(ctx, p.Name())
		return err
	})
	if err != nil {
		return err
	}
	c := s.cursors[p.Name()]
	if c == nil || c.gen != g.Number {
		s.distrust(p.Name())
		c = &cursor{gen: g.Number}
		if len(last) > 0 {
			c.at, c.time = last[len(last)-1].Position, last[len(last)-1].Time
		}
		s.cursors[p.Name()] = c
	}
	// A projection whose newest snapshot is of the first format (written
	// before versioned snapshots) has none that answers: take one now.
	legacy := len(last) > 0 && last[len(last)-1].Format != VersionedFormat
	if err := s.count(ctx, c, cp, s.Every); err != nil || (c.count < s.Every && !legacy) {
		return err
	}
	var pl plan
	if n := len(last); n > 0 && last[n-1].Format == VersionedFormat {
		pl = plan{base: &last[n-1], compare: true}
		if changed, ok := s.changedSince(p.Name()); ok {
			pl = plan{base: &last[n-1], changed: changed}
		}
	}
	snap, err := takeSnapshot(ctx, s.Store, p, g.Number, p.Name(), pl, func(pos eventstore.Position) (time.Time, error) {
		err := s.count(ctx, c, pos, 0)
		return c.time, err
	})
	if err != nil || snap.Position.IsZero() {
		return err
	}
	s.taken(p.Name(), snap.Position, pl.changed)
	c.count = 0
	if s.Taken != nil {
		s.Taken(snap)
	}
	return nil
}

// count reads the log from c up to until, counting events, and stops
// early once enough (>0) are counted.
func (s *Snapshotter) count(ctx context.Context, c *cursor, until eventstore.Position, enough int) error {
	if !c.at.Less(until) || (enough > 0 && c.count >= enough) {
		return nil
	}
	return projections.Records(ctx, s.Events, c.at, 1000, projections.UpTo(until), func(recs []eventstore.Record) error {
		c.at, c.time = recs[len(recs)-1].Position, recs[len(recs)-1].Meta.Time
		c.count += len(recs)
		if enough > 0 && c.count >= enough {
			return projections.ErrEnough
		}
		return nil
	})
}
