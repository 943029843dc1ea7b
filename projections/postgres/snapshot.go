package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// snapshot is a view's read-only repeatable-read transaction, begun in the
// same round trip as the view's first query (pgx.Batch.BeginTx) rather
// than in one of its own, and rolled back when the view is over (it has
// nothing to commit). A view that sends no query begins none.
//
// The rollback waits: ending it on another goroutine, off the caller's
// path, was measured slower (the next view takes another connection while
// the last one's backend still runs, on two cores), see docs/benchmarks.md.
type snapshot struct {
	conn *pgxpool.Conn
	tx   pgx.Tx // nil until the first query
}

var snapshotOptions = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// endTimeout bounds the rollback that ends a snapshot; a connection that
// does not answer in time is closed, not returned to the pool.
const endTimeout = 10 * time.Second

// SendBatch sends b, after the begin if this is the view's first query.
func (s *snapshot) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if s.tx != nil {
		return s.tx.SendBatch(ctx, b)
	}
	first := &pgx.Batch{}
	first.BeginTx(snapshotOptions)
	first.QueuedQueries = append(first.QueuedQueries, b.QueuedQueries...)
	res := s.conn.SendBatch(ctx, first)
	s.tx = res.Tx()
	// The begin's result; an error there is every later result's too.
	_, _ = res.Exec()
	return res
}

// Query runs a query, after the begin if this is the view's first.
func (s *snapshot) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if s.tx != nil {
		return s.tx.Query(ctx, sql, args...)
	}
	var b pgx.Batch
	b.Queue(sql, args...)
	res := s.SendBatch(ctx, &b)
	rows, err := res.Query()
	if err != nil {
		_ = res.Close()
		return rows, err
	}
	return &batchRows{Rows: rows, res: res}, nil
}

// QueryRow is Query for one row.
func (s *snapshot) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if s.tx != nil {
		return s.tx.QueryRow(ctx, sql, args...)
	}
	rows, err := s.Query(ctx, sql, args...)
	return firstRow{rows, err}
}

// end rolls the transaction back, if one began, and returns the
// connection to the pool, which closes it if the rollback failed (pgx
// closes a connection whose rollback fails).
func (s *snapshot) end() {
	if s.tx == nil {
		s.conn.Release()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
	defer cancel()
	_ = s.tx.Rollback(ctx)
	s.conn.Release()
}

// batchRows are the rows of a query sent in a batch of its own: done with
// them, the batch is done too, and its error is theirs.
type batchRows struct {
	pgx.Rows
	res pgx.BatchResults
	err error
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if err := r.res.Close(); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// firstRow is pgx.Row over rows: the first one, or pgx.ErrNoRows.
type firstRow struct {
	rows pgx.Rows
	err  error
}

func (r firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}
