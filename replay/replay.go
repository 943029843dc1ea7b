// Package replay reads the event log to answer questions about the past and
// to rebuild read models: it replays projections into fresh storage and
// compares them with the live ones.
package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Tabled is a projection that says which tables it owns; only these can
// be verified (a projection with side effects, like the notifier, has no
// comparable state).
type Tabled interface {
	projections.Projection
	Tables() []string
}

// Progress reports a rebuild: events done of total, and the rate so far.
type Progress func(projection string, done, total uint64, rate float64)

// Rebuild replays the projections from their checkpoints in target (0 in
// fresh storage) to the log's head at the start, in one pass over the log,
// reporting progress after every page.
func Rebuild(ctx context.Context, es eventstore.Store, target projections.Store, reg *domain.Registry, ps []projections.Projection, report Progress) error {
	return rebuildTo(ctx, es, target, reg, ps, nil, report)
}

// rebuildTo is Rebuild with each projection stopping at its position in
// until (absent: the log's head at the start).
func rebuildTo(ctx context.Context, es eventstore.Store, target projections.Store, reg *domain.Registry, ps []projections.Projection, until map[string]eventstore.Position, report Progress) error {
	head, err := es.Head(ctx)
	if err != nil || len(ps) == 0 {
		return err
	}
	end := func(p projections.Projection) eventstore.Position {
		if u, ok := until[p.Name()]; ok && u.Less(head) {
			return u
		}
		return head
	}
	from := head
	for _, p := range ps {
		cp, err := target.Checkpoint(ctx, p.Name())
		if err != nil {
			return err
		}
		if cp.Less(from) {
			from = cp
		}
	}
	name := fmt.Sprintf("%d projections", len(ps))
	start := time.Now()
	return projections.Pages(ctx, es, reg, from, 1000, projections.UpTo(head), func(decoded projections.Batch) error { // decoded once, for every projection
		var due []projections.Projection
		var batches []projections.Batch
		for _, p := range ps {
			batch := decoded
			if e := end(p); e.Less(decoded.Last()) {
				n := 0
				for n < len(batch) && !e.Less(batch[n].Record.Position) {
					n++
				}
				batch = batch[:n]
			}
			if len(batch) > 0 {
				due, batches = append(due, p), append(batches, batch)
			}
		}
		// One transaction for every projection's page, where the store groups them.
		_, errs := projections.ApplyDecodedEach(ctx, target, due, batches)
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("rebuild %s: %w", due[i].Name(), err)
			}
		}
		if report != nil {
			at := decoded.Last().Commit
			report(name, at, head.Commit, float64(at)/max(time.Since(start).Seconds(), 1e-9))
		}
		return nil
	})
}

// Difference is a document that differs between two read-model stores.
type Difference struct {
	Table   string `json:"table"`
	Key     string `json:"key"`
	Live    string `json:"live,omitempty"`    // empty: missing live
	Rebuilt string `json:"rebuilt,omitempty"` // empty: missing in the rebuild
}

// Compare lists every document of the tables that differs between live
// and rebuilt, comparing JSON by meaning (stores may order keys
// differently), and the rows of projections that pack several items in a
// row, or that an earlier version wrote (unpack), by their items, as runs
// of one event of this version would have written them: a rebuild cuts
// the log into other runs than the live model did, and the live model may
// hold what an earlier version wrote. An item is compared under the table
// its Unpacker names, which is one of tables.
func Compare(ctx context.Context, live, rebuilt projections.Store, tables []string, unpack ...projections.Unpacker) ([]Difference, error) {
	dump := func(s projections.Store) (map[string]map[string]string, error) {
		out := map[string]map[string]string{}
		err := s.View(ctx, func(r projections.Reader) error {
			for _, t := range tables {
				err := r.Scan(ctx, t, projections.Page{}, func(k string, doc []byte) error {
					return unpacked(unpack, t, k, doc, func(t, k string, doc []byte) error {
						var v any
						if err := json.Unmarshal(doc, &v); err != nil {
							return err
						}
						canon, _ := json.Marshal(v)
						if out[t] == nil {
							out[t] = map[string]string{}
						}
						out[t][k] = string(canon)
						return nil
					})
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		return out, err
	}
	a, err := dump(live)
	if err != nil {
		return nil, fmt.Errorf("read live read models: %w", err)
	}
	b, err := dump(rebuilt)
	if err != nil {
		return nil, fmt.Errorf("read rebuilt read models: %w", err)
	}
	var diffs []Difference
	for _, t := range tables {
		keys := map[string]bool{}
		for k := range a[t] {
			keys[k] = true
		}
		for k := range b[t] {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if a[t][k] != b[t][k] {
				diffs = append(diffs, Difference{Table: t, Key: k, Live: a[t][k], Rebuilt: b[t][k]})
			}
		}
	}
	return diffs, nil
}

// unpacked hands yield the items of a row as each of us unpacks it in
// turn (each hands on the rows of tables it does not pack).
func unpacked(us []projections.Unpacker, table, key string, doc []byte, yield func(table, key string, doc []byte) error) error {
	if len(us) == 0 {
		return yield(table, key, doc)
	}
	return us[0].Unpack(table, key, doc, func(table, key string, doc []byte) error {
		return unpacked(us[1:], table, key, doc, yield)
	})
}

// Verify rebuilds the projections that own tables into scratch, each up to
// the position its live model has reached, and compares them with live. A
// live model that lags the log (stopped before it caught up) is compared
// with the replay of what it has applied, not reported as different.
func Verify(ctx context.Context, es eventstore.Store, live, scratch projections.Store, reg *domain.Registry, ps []projections.Projection, report Progress) ([]Difference, error) {
	var tabled []projections.Projection
	var tables []string
	until := map[string]eventstore.Position{}
	for _, p := range ps {
		if t, ok := p.(Tabled); ok {
			tabled = append(tabled, p)
			tables = append(tables, t.Tables()...)
			cp, err := live.Checkpoint(ctx, p.Name())
			if err != nil {
				return nil, err
			}
			until[p.Name()] = cp
		}
	}
	if err := rebuildTo(ctx, es, scratch, reg, tabled, until, report); err != nil {
		return nil, err
	}
	var unpack []projections.Unpacker
	for _, p := range tabled {
		if u, ok := p.(projections.Unpacker); ok {
			unpack = append(unpack, u)
		}
	}
	return Compare(ctx, live, scratch, tables, unpack...)
}
