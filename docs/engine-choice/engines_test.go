// Package enginechoice measures the candidate embedded engines for the
// event store on the same workload: each append checks its stream's head
// and writes the event, the stream index entry and the new head, durably
// (fsync). Appends from concurrent writers are grouped into one
// transaction by the same group-commit loop for every engine; Pebble is
// also measured with its own concurrent commit pipeline.
//
//	cd docs/engine-choice && go test -run '^$' -bench . -benchtime 3s
package enginechoice

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	bbolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite"
)

type appendReq struct {
	stream string
	rev    uint64
	data   []byte
	done   chan error
}

// engine commits a group of appends in one durable transaction.
type engine interface {
	commit(reqs []*appendReq) error
	close()
}

var payload = make([]byte, 220)

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// --- bbolt

type boltEngine struct {
	db  *bbolt.DB
	seq uint64
}

func openBolt(b *testing.B) engine {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "x.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = db.Update(func(tx *bbolt.Tx) error {
		for _, n := range []string{"log", "index", "heads"} {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	})
	return &boltEngine{db: db}
}

func (e *boltEngine) commit(reqs []*appendReq) error {
	return e.db.Update(func(tx *bbolt.Tx) error {
		log, index, heads := tx.Bucket([]byte("log")), tx.Bucket([]byte("index")), tx.Bucket([]byte("heads"))
		for _, r := range reqs {
			if h := heads.Get([]byte(r.stream)); h != nil && binary.BigEndian.Uint64(h)+1 != r.rev {
				return fmt.Errorf("conflict")
			}
			e.seq++
			if err := log.Put(u64(e.seq), r.data); err != nil {
				return err
			}
			if err := index.Put(append([]byte(r.stream), u64(r.rev)...), u64(e.seq)); err != nil {
				return err
			}
			if err := heads.Put([]byte(r.stream), u64(r.rev)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltEngine) close() { _ = e.db.Close() }

// --- SQLite (modernc, pure Go), WAL with synchronous=FULL

type sqliteEngine struct {
	db  *sql.DB
	seq int64
}

func openSQLite(b *testing.B) engine {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "x.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE log (seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, rev INTEGER NOT NULL, data BLOB NOT NULL)`,
		`CREATE UNIQUE INDEX log_stream ON log (stream, rev)`,
		`CREATE TABLE heads (stream TEXT PRIMARY KEY, rev INTEGER NOT NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return &sqliteEngine{db: db}
}

func (e *sqliteEngine) commit(reqs []*appendReq) error {
	tx, err := e.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range reqs {
		var head int64
		err := tx.QueryRow(`SELECT rev FROM heads WHERE stream = ?`, r.stream).Scan(&head)
		if err == nil && uint64(head)+1 != r.rev {
			return fmt.Errorf("conflict")
		}
		e.seq++
		if _, err := tx.Exec(`INSERT INTO log (seq, stream, rev, data) VALUES (?, ?, ?, ?)`, e.seq, r.stream, r.rev, r.data); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO heads (stream, rev) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET rev = excluded.rev`, r.stream, r.rev); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (e *sqliteEngine) close() { _ = e.db.Close() }

// --- Pebble, one synced batch per group

type pebbleEngine struct {
	db  *pebble.DB
	seq uint64
	mu  sync.Mutex // serializes head checks for the native pipeline variant
}

func openPebble(b *testing.B) *pebbleEngine {
	db, err := pebble.Open(filepath.Join(b.TempDir(), "x"), &pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return &pebbleEngine{db: db}
}

func (e *pebbleEngine) write(batch *pebble.Batch, r *appendReq) error {
	h, closer, err := e.db.Get(append([]byte("h/"), r.stream...))
	if err == nil {
		ok := binary.BigEndian.Uint64(h)+1 == r.rev
		_ = closer.Close()
		if !ok {
			return fmt.Errorf("conflict")
		}
	}
	e.seq++
	_ = batch.Set(append([]byte("l/"), u64(e.seq)...), r.data, nil)
	_ = batch.Set(append(append([]byte("i/"), r.stream...), u64(r.rev)...), u64(e.seq), nil)
	return batch.Set(append([]byte("h/"), r.stream...), u64(r.rev), nil)
}

func (e *pebbleEngine) commit(reqs []*appendReq) error {
	batch := e.db.NewBatch()
	for _, r := range reqs {
		if err := e.write(batch, r); err != nil {
			return err
		}
	}
	return batch.Commit(pebble.Sync)
}

func (e *pebbleEngine) close() { _ = e.db.Close() }

// groupCommit runs the same loop the bolt event store uses: take one
// append, drain whatever else is queued, commit them together.
func groupCommit(e engine, in <-chan *appendReq) {
	for first := range in {
		reqs := []*appendReq{first}
	drain:
		for len(reqs) < 256 {
			select {
			case r, ok := <-in:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		err := e.commit(reqs)
		for _, r := range reqs {
			r.done <- err
		}
	}
}

func run(b *testing.B, writers int, appendOne func(stream string, rev uint64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			stream := fmt.Sprintf("device-%d", w)
			for rev := uint64(0); next.Add(1) <= int64(b.N); rev++ {
				if err := appendOne(stream, rev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkGroupCommit(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) engine
	}{
		{"bbolt", openBolt},
		{"sqlite", openSQLite},
		{"pebble", func(b *testing.B) engine { return openPebble(b) }},
	}
	for _, eng := range engines {
		for _, writers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", eng.name, writers), func(b *testing.B) {
				e := eng.open(b)
				defer e.close()
				in := make(chan *appendReq)
				go groupCommit(e, in)
				defer close(in)
				run(b, writers, func(stream string, rev uint64) error {
					r := &appendReq{stream: stream, rev: rev, data: payload, done: make(chan error, 1)}
					in <- r
					return <-r.done
				})
			})
		}
	}
}

// Pebble's own commit pipeline groups concurrent synced batches itself.
func BenchmarkPebbleNativePipeline(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			e := openPebble(b)
			defer e.close()
			run(b, writers, func(stream string, rev uint64) error {
				batch := e.db.NewBatch()
				e.mu.Lock()
				err := e.write(batch, &appendReq{stream: stream, rev: rev, data: payload})
				e.mu.Unlock()
				if err != nil {
					return err
				}
				return batch.Commit(pebble.Sync)
			})
		})
	}
}
