package replay

import (
	"context"
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
// projection it finds the newest snapshot at or before the moment (one
// ordered look-up, however many were taken), lays an in-memory store over
// the documents as they stood then (the live ones stamped at or before
// it, and the versions kept of the others; read by key, as the answer
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
			g, err := generationOf(ctx, r, p.Name())
			if err != nil {
				return err
			}
			chosen[i] = Snapshot{Projection: p.Name(), Generation: g.Number}
			s, found, err := newestAt(ctx, r, p.Name(), g.Number, m)
			if err == nil && !found {
				s, found, err = legacyAt(ctx, r, p.Name(), g.Number, m)
			}
			if err != nil {
				return err
			}
			if found {
				chosen[i] = s
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
			base.tables[t] = versionsOf(s, t)
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
	var reads []versionsKeys
	for _, tk := range keys {
		if v, ok := p.tables[tk.Table]; ok && len(tk.Keys) > 0 {
			reads = append(reads, versionsKeys{v, tk.Table, tk.Keys})
		}
	}
	return p.view(ctx, func(r projections.Reader) error { return readAsOf(ctx, r, reads, fn) })
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

// Snapshotter snapshots the live projections: each one it wraps (Note)
// keeps, copy-on-write, the versions of its documents that its snapshots
// need, and takes a snapshot every Every events (0: none, the versions of
// those taken are still kept), in the transaction of the run that reaches
// the count (versioned). Wrap every live projection that History answers
// for, whether or not Every is set: a write that keeps no versions would
// change what the snapshots already taken answer.
type Snapshotter struct {
	Every int
	// Taken, if set, hears of every snapshot written (its transaction may
	// yet fail and be applied again).
	Taken func(Snapshot)
}

// Note is p as it runs live, keeping versions and taking snapshots. Wrap
// the live projections (not those a rebuild runs, which it wraps itself).
func (s *Snapshotter) Note(p Tabled) Tabled {
	return &versioned{Tabled: p, every: max(s.Every, 0), taken: s.Taken}
}
