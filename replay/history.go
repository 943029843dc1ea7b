package replay

import (
	"bytes"
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

// History answers read-model questions as of a past moment: it loads,
// for each projection, the newest snapshot at or before the moment and
// replays the events between it and the moment. Loaded snapshots are kept
// in memory (up to CacheBytes) for the next question.
type History struct {
	Events      eventstore.Store
	Store       projections.Store // the raw store
	Registry    *domain.Registry
	Projections []Tabled
	CacheBytes  int // default 256 MiB

	mu     sync.Mutex
	layers map[string]*memory.Layer
	order  []string // least recently used first
	bytes  int
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
				if m.includesSnapshot(s) {
					chosen[i] = s
				}
			}
		}
		return nil
	})
	if err != nil {
		return Then{}, err
	}
	var layers []*memory.Layer
	then := Then{}
	from := chosen[0].Position
	for _, s := range chosen {
		if s.Position.Less(from) {
			from = s.Position
		}
		if s.Position.IsZero() {
			continue
		}
		l, err := h.layer(ctx, s)
		if err != nil {
			return Then{}, err
		}
		layers = append(layers, l)
		if then.Position.Less(s.Position) {
			then.Position, then.Time = s.Position, s.Time
		}
	}
	store := memory.New(memory.Merge(layers...))
	ps := make([]projections.Projection, len(h.Projections))
	for i, p := range h.Projections {
		ps[i] = p
	}
	err = pages(ctx, h.Events, from, 1000, m.includes, func(recs []eventstore.Record) error {
		decoded := projections.DecodeBatch(h.Registry, recs) // once, for every projection
		for _, p := range ps {
			if _, err := projections.ApplyDecoded(ctx, store, p, decoded); err != nil {
				return err
			}
		}
		then.Replayed += len(recs)
		if last := recs[len(recs)-1]; then.Position.Less(last.Position) {
			then.Position, then.Time = last.Position, last.Meta.Time
		}
		return nil
	})
	if err != nil {
		return Then{}, err
	}
	then.Store = store
	return then, nil
}

// layer loads a snapshot's documents, over those of the snapshot it holds
// the changes since, or takes them from the cache.
func (h *History) layer(ctx context.Context, s Snapshot) (*memory.Layer, error) {
	key := s.key()
	h.mu.Lock()
	if l, ok := h.layers[key]; ok {
		h.touch(key)
		h.mu.Unlock()
		return l, nil
	}
	h.mu.Unlock()
	var parent *memory.Layer
	if s.Base != "" {
		var base Snapshot
		err := h.Store.View(ctx, func(r projections.Reader) error {
			found, err := r.Get(ctx, SnapshotsTable, s.Base, &base)
			if err == nil && !found {
				err = fmt.Errorf("snapshot %s: its base %s is gone", key, s.Base)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if parent, err = h.layer(ctx, base); err != nil {
			return nil, err
		}
	}
	docs := map[string]map[string][]byte{}
	prefix := key + "/"
	err := h.Store.View(ctx, func(r projections.Reader) error {
		return r.Scan(ctx, SnapshotDocsTable, projections.Page{Prefix: prefix}, func(k string, d []byte) error {
			table, key, ok := splitDocKey(k[len(prefix):])
			if !ok {
				return fmt.Errorf("snapshot %s: malformed key %q", s.key(), k)
			}
			if docs[table] == nil {
				docs[table] = map[string][]byte{}
			}
			if bytes.Equal(d, deleted) {
				docs[table][key] = nil
			} else {
				docs[table][key] = append([]byte(nil), d...)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	cps := map[string]eventstore.Position{s.Projection: s.Position}
	var l *memory.Layer
	if parent != nil {
		l = parent.With(docs, cps)
	} else {
		l = memory.NewLayer(docs, cps)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.layers == nil {
		h.layers = map[string]*memory.Layer{}
	}
	if _, ok := h.layers[key]; !ok {
		h.layers[key] = l
		h.order = append(h.order, key)
		h.bytes += l.Bytes()
	}
	limit := h.CacheBytes
	if limit <= 0 {
		limit = 256 << 20
	}
	for h.bytes > limit && len(h.order) > 1 {
		old := h.order[0]
		h.order = h.order[1:]
		h.bytes -= h.layers[old].Bytes()
		delete(h.layers, old)
	}
	return l, nil
}

func (h *History) touch(key string) {
	for i, k := range h.order {
		if k == key {
			h.order = append(append(h.order[:i:i], h.order[i+1:]...), key)
			return
		}
	}
}

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
// projections, on the instance that runs them.
type Snapshotter struct {
	Events      eventstore.Store
	Store       projections.Store // the raw store
	Projections []Tabled
	Every       int
	// History, if set, loads the last snapshot so that the next holds only
	// the documents that changed since (nil: every snapshot is full).
	History *History
	// Tick is how often it looks (default one second).
	Tick time.Duration
	// Taken, if set, hears of every snapshot, and Failed of every
	// failure (the snapshotter tries again on its next tick).
	Taken  func(Snapshot)
	Failed func(error)

	cursors map[string]*cursor
}

// cursor is how far the snapshotter has counted a projection's events.
type cursor struct {
	gen   int
	at    eventstore.Position
	time  time.Time
	count int
}

// Run takes snapshots until ctx ends.
func (s *Snapshotter) Run(ctx context.Context) {
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
		c = &cursor{gen: g.Number}
		if len(last) > 0 {
			c.at, c.time = last[len(last)-1].Position, last[len(last)-1].Time
		}
		s.cursors[p.Name()] = c
	}
	if err := s.count(ctx, c, cp, s.Every); err != nil || c.count < s.Every {
		return err
	}
	var pl plan
	if n := len(last); n > 0 && last[n-1].Depth+1 < maxDepth && s.History != nil {
		if prev, err := s.History.layer(ctx, last[n-1]); err == nil {
			pl = plan{base: &last[n-1], prev: prev}
		}
	}
	snap, err := takeSnapshot(ctx, s.Store, p, g.Number, p.Name(), pl, func(pos eventstore.Position) (time.Time, error) {
		err := s.count(ctx, c, pos, 0)
		return c.time, err
	})
	if err != nil || snap.Position.IsZero() {
		return err
	}
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
	return pages(ctx, s.Events, c.at, 1000, upTo(until), func(recs []eventstore.Record) error {
		c.at, c.time = recs[len(recs)-1].Position, recs[len(recs)-1].Meta.Time
		c.count += len(recs)
		if enough > 0 && c.count >= enough {
			return errEnough
		}
		return nil
	})
}
