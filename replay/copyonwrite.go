package replay

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// versioned is a snapshotted projection as it writes: live, or a
// rebuild's shadow writing another generation of its tables under a
// checkpoint of its own. Its writes keep, copy-on-write, what its
// snapshots need (projections.Versions: every document it writes is
// stamped with the position of the run's first event, and one replaced or
// deleted that the latest snapshot still sees is kept as a version), and
// every so many events the run that reaches the count ends with a snapshot
// at its last event: an entry in SnapshotsTable, written in the run's
// transaction with its documents and checkpoint, so no write ever falls
// between a snapshot and the versions it needs.
//
// A snapshot so costs one entry. A rebuild that copied every document it
// changed into the next snapshot's versions wrote nearly a second copy of
// the models, a third of a PostgreSQL rebuild's rows (docs/benchmarks.md);
// most documents are created and never changed across a snapshot, and now
// cost nothing more than their write.
//
// The live projection reads the latest snapshot of its generation
// (HeadsTable) in each run's transaction, so that another instance, or a
// rebuild's swap, is never missed; a shadow is the only writer of its
// generation and keeps it in memory. The runs of one projection are
// applied one after the other, each after the one before has been applied
// (not necessarily committed): a run that fails fails the rebuild of its
// shadow, and a live one is applied again, counting its events again,
// which only brings its next snapshot earlier.
type versioned struct {
	Tabled
	every int // events between snapshots (0: none; the versions are still kept for those taken)
	// shadow: a rebuild's, of generation gen, whose tables are named by
	// names in the store's transaction; head is its latest snapshot.
	shadow bool
	gen    int
	names  map[string]string
	head   *Snapshot

	since int // events applied since the latest snapshot (or the start)
	// snapshots counts the snapshots written, for the rebuild's state
	// (read by the rebuild while the next run may be applying).
	snapshots atomic.Int64
	// taken hears of each snapshot a live projection writes (the
	// transaction may yet fail).
	taken func(Snapshot)
}

func newShadow(p Tabled, gen, every int) *versioned {
	names := map[string]string{}
	for _, t := range p.Tables() {
		names[t] = projections.TableIn(t, gen)
	}
	return &versioned{Tabled: p, every: every, shadow: true, gen: gen, names: names}
}

func (v *versioned) Name() string {
	if v.shadow {
		return v.Tabled.Name() + "~" + strconv.Itoa(v.gen)
	}
	return v.Tabled.Name()
}

// snapshotted says whether the projection keeps versions: every live one
// wrapped, and a shadow of a snapshotted projection.
func (v *versioned) snapshotted() bool { return !v.shadow || v.every > 0 }

// Apply is a run of one event.
func (v *versioned) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	r := v.Gather()
	if err := r.Apply(ctx, tx, e); err != nil {
		return err
	}
	return r.Flush(ctx, tx)
}

// Gather implements projections.Gathering: a run of the projection's,
// gathered as it gathers one (or applied an event at a time, as Apply
// does, if it does not). Every run ends with Flush, where a snapshot that
// is due is written.
func (v *versioned) Gather() projections.Gatherer {
	r := &versionedRun{v: v}
	if gp, ok := v.Tabled.(projections.Gathering); ok {
		r.g = gp.Gather()
	}
	return r
}

// Prefetch implements projections.Prefetcher: what the projection names,
// under a shadow's table names, and a live projection's latest snapshot,
// which its run reads.
func (v *versioned) Prefetch(envs iter.Seq[*projections.Envelope]) []projections.TableKeys {
	var keys []projections.TableKeys
	if pf, ok := v.Tabled.(projections.Prefetcher); ok {
		keys = pf.Prefetch(envs)
	}
	if v.shadow {
		for i := range keys {
			if n, ok := v.names[keys[i].Table]; ok {
				keys[i].Table = n
			}
		}
		return keys
	}
	return append(keys, projections.TableKeys{Table: HeadsTable, Keys: []string{v.Tabled.Name()}})
}

// versionedRun is a run of a versioned projection's events, in one
// transaction.
type versionedRun struct {
	v    *versioned
	g    projections.Gatherer // nil: the projection does not gather
	tx   projections.Tx       // the transaction as the projection writes it (nil until the first event)
	gen  int
	head Snapshot // the latest snapshot as the run began (Position zero: none)
	due  bool     // a snapshot is due at the end whatever the count
	last projections.Envelope
	n    int
}

// begin declares, at the run's first event, how its tables keep versions;
// the run goes on in the transaction it returns.
func (r *versionedRun) begin(ctx context.Context, tx projections.Tx, first projections.Envelope) (projections.Tx, error) {
	v := r.v
	r.gen = v.gen
	if v.shadow {
		tx = projections.Renamed(tx, v.names)
		if !v.snapshotted() {
			return tx, nil
		}
		r.head = Snapshot{Projection: v.Tabled.Name(), Generation: v.gen, Format: CopyOnWriteFormat}
		if v.head != nil {
			r.head = *v.head
		}
	} else {
		if tables := v.Tables(); len(tables) > 0 {
			r.gen = projections.GenerationIn(tx, tables[0])
		}
		var err error
		if r.head, r.due, err = liveHead(ctx, tx, v.Tabled.Name(), r.gen); err != nil {
			return nil, err
		}
	}
	for _, t := range v.Tables() {
		err := projections.Version(tx, t, projections.Versions{
			At: first.Record.Position, Keep: r.head.Position, Legacy: r.head.Legacy,
			Into: VersionsTable, Prefix: versionsPrefix(v.Tabled.Name(), r.gen, t),
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name(), err)
		}
	}
	return tx, nil
}

func (r *versionedRun) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	if r.tx == nil {
		t, err := r.begin(ctx, tx, e)
		if err != nil {
			return err
		}
		r.tx = t
	}
	var err error
	if r.g == nil {
		err = r.v.Tabled.Apply(ctx, r.tx, e)
	} else {
		err = r.g.Apply(ctx, r.tx, e)
	}
	if err == nil {
		r.last = e
		r.n++
	}
	return err
}

func (r *versionedRun) Flush(ctx context.Context, tx projections.Tx) error {
	if r.tx == nil {
		return nil // no event
	}
	if r.g != nil {
		if err := r.g.Flush(ctx, r.tx); err != nil {
			return err
		}
	}
	v := r.v
	v.since += r.n
	if !v.snapshotted() || !(r.due || (v.every > 0 && v.since >= v.every)) {
		return nil
	}
	at := r.last.Record
	snap := Snapshot{Projection: v.Tabled.Name(), Generation: r.gen, Position: at.Position, Time: at.Meta.Time,
		Format: CopyOnWriteFormat, Taken: time.Now().UTC(), Legacy: r.head.Legacy}
	if err := putSnapshot(ctx, tx, snap); err != nil {
		return err
	}
	if v.shadow {
		// The swap writes it as the live projection's latest.
		v.head = &snap
	} else {
		if err := tx.Put(ctx, HeadsTable, snap.Projection, snap); err != nil {
			return err
		}
		if v.taken != nil {
			v.taken(snap)
		}
	}
	v.since = 0
	v.snapshots.Add(1)
	return nil
}

// liveHead is the latest snapshot of a projection's generation gen, as its
// live runs read it (HeadsTable). Where none is written for gen (a store
// written before snapshots were kept copy-on-write, or never snapshotted),
// it is found among the generation's snapshots once, and written: the
// latest copy-on-write one, if any, and after which position documents
// without a stamp were last written (just after the latest snapshot of
// the format before, which holds them as versions). Due says a snapshot is
// to be taken at once: the newest one is of an earlier format.
func liveHead(ctx context.Context, tx projections.Tx, projection string, gen int) (head Snapshot, due bool, err error) {
	found, err := tx.Get(ctx, HeadsTable, projection, &head)
	if err != nil || (found && head.Generation == gen && head.Format == CopyOnWriteFormat) {
		return head, false, err
	}
	all, err := snapshotsOf(ctx, tx, projection, gen)
	if err != nil {
		return head, false, err
	}
	head = Snapshot{Projection: projection, Generation: gen, Format: CopyOnWriteFormat}
	for _, s := range all {
		switch s.Format {
		case CopyOnWriteFormat:
			head = s
		case VersionedFormat:
			head.Legacy = eventstore.Position{Commit: s.Position.Commit, Prepare: s.Position.Prepare + 1}
		}
	}
	due = len(all) > 0 && all[len(all)-1].Format != CopyOnWriteFormat
	return head, due, tx.Put(ctx, HeadsTable, projection, head)
}
