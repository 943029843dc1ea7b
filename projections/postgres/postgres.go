// Package postgres is the PostgreSQL read-model store (pgx/v5). Documents
// live in one table keyed by (table, key) with byte-order keys, so prefix
// scans are index range scans; checkpoints commit in the same transaction.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures the store.
type Config struct {
	URL    string // postgres://...
	Schema string // default "shareledger"
}

func (c *Config) defaults() {
	if c.Schema == "" {
		c.Schema = "shareledger"
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("postgres read models: URL is required"))
	}
	if c.Schema == "" || strings.ContainsAny(c.Schema, "\"\x00") {
		errs = append(errs, fmt.Errorf("postgres read models: invalid schema %q", c.Schema))
	}
	return errors.Join(errs...)
}

// Store is the PostgreSQL read-model store.
type Store struct{ pool *pgxpool.Pool }

// Open connects, creates the schema if needed and runs the migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres read models: %w", err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	// Read models answer short queries: compiling one with JIT (which a
	// large row estimate triggers) costs more than running it.
	pc.ConnConfig.RuntimeParams["jit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres read models: %w", err)
	}
	if err := migrate(ctx, pool, cfg.Schema); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate read models: %w", err)
	}
	defer conn.Release()
	// One migrator at a time across instances.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('shareledger-readmodel-migrations'))`); err != nil {
		return fmt.Errorf("migrate read models: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('shareledger-readmodel-migrations'))`)
	}()
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident); err != nil {
		return fmt.Errorf("migrate read models: create schema: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS rm_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate read models: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rm_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
			return fmt.Errorf("migrate read models: %w", err)
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO rm_migrations (name) VALUES ($1)`, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate read models: %s: %w", name, err)
		}
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

// Update implements projections.Store. The commit does not wait for the
// WAL flush: a crash may lose the last transactions, but their changes and
// checkpoint together, so the consumer redoes them and nothing is applied
// twice. The transaction's begin, its settings and the checkpoint's lock
// go to the server in one round trip, its writes in another (and its
// many documents new to their keys by COPY in one more), and its commit
// in the last.
func (s *Store) Update(ctx context.Context, consumer string, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	err := s.update(ctx, consumer, fn)
	if errors.Is(err, projections.ErrStopUpdate) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update read model %s: %w", consumer, err)
	}
	return nil
}

func (s *Store) update(ctx context.Context, consumer string, fn func(projections.Tx, eventstore.Position) (eventstore.Position, error)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var c, p int64
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue(`SET LOCAL synchronous_commit = off`)
	b.Queue(`INSERT INTO rm_checkpoints (consumer, commit_pos, prepare_pos) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING`, consumer)
	b.Queue(`SELECT commit_pos, prepare_pos FROM rm_checkpoints WHERE consumer = $1 FOR UPDATE`, consumer).QueryRow(func(row pgx.Row) error {
		return row.Scan(&c, &p)
	})
	res := conn.SendBatch(ctx, b)
	ptx := res.Tx()
	// Rolls back unless committed below (then it does nothing).
	defer func() { _ = ptx.Rollback(ctx) }()
	if err := res.Close(); err != nil {
		return err
	}
	t := &tx{reader: reader{ptx}, w: ptx, pending: map[docKey]*pending{}}
	next, err := fn(t, eventstore.Position{Commit: uint64(c), Prepare: uint64(p)})
	if err != nil {
		return err
	}
	err = t.flush(ctx, func(b *pgx.Batch) {
		b.Queue(`UPDATE rm_checkpoints SET commit_pos = $2, prepare_pos = $3, updated_at = now() WHERE consumer = $1`,
			consumer, int64(next.Commit), int64(next.Prepare))
	})
	if err != nil {
		return err
	}
	return ptx.Commit(ctx)
}

// UpdateEach implements projections.Grouped: the updates at once, each in
// a transaction of its own on a connection of its own, as Update runs
// it. One after the other, each waited on the server for its reads and
// its commit while this process had nothing to do, and the server waited
// on this process while it applied: a rebuild's page of six projections
// left the two cores of a small machine idle two fifths of the time. The
// consumers own distinct tables, so the transactions do not conflict;
// each still commits or fails alone, with its own checkpoint. At most half
// of the pool's connections are taken (two at least), leaving the others
// to the reads of the API that a rebuild runs beside.
func (s *Store) UpdateEach(ctx context.Context, us []projections.Update) []error {
	errs := make([]error, len(us))
	panics := make([]any, len(us))
	slots := make(chan struct{}, max(2, int(s.pool.Stat().MaxConns())/2))
	var wg sync.WaitGroup
	for i, u := range us {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() {
				panics[i] = recover()
				<-slots
			}()
			errs[i] = s.Update(ctx, u.Consumer, u.Fn)
		})
	}
	wg.Wait()
	// A projection's panic is raised again here, where it would have
	// been raised had the updates run one after the other (the others
	// have committed or failed by then).
	for _, p := range panics {
		if p != nil {
			panic(p)
		}
	}
	return errs
}

// Checkpoint implements projections.Store.
func (s *Store) Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error) {
	return checkpoint(ctx, s.pool, consumer)
}

func (r reader) Checkpoint(ctx context.Context, consumer string) (eventstore.Position, error) {
	return checkpoint(ctx, r.q, consumer)
}

func checkpoint(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, consumer string) (eventstore.Position, error) {
	var c, p int64
	err := q.QueryRow(ctx, `SELECT commit_pos, prepare_pos FROM rm_checkpoints WHERE consumer = $1`, consumer).Scan(&c, &p)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Position{}, nil
	}
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("checkpoint of %s: %w", consumer, err)
	}
	return eventstore.Position{Commit: uint64(c), Prepare: uint64(p)}, nil
}

// View implements projections.Store with a read-only repeatable-read
// transaction, so a multi-query read sees one snapshot. The transaction
// costs the view no round trip of its own: it begins with the view's first
// query (snapshot), and ends after the view has answered.
func (s *Store) View(ctx context.Context, fn func(projections.Reader) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("read models: %w", err)
	}
	snap := &snapshot{conn: conn}
	defer snap.end()
	return fn(viewReader{reader{snap}})
}

// viewReader is a view's reader: its documents are the caller's to keep
// (projections.Owning), each copied out of the rows once (collect). A
// transaction's reader (tx) is not: it hands documents it may change.
type viewReader struct{ reader }

// DocsOwned implements projections.Owning.
func (viewReader) DocsOwned() bool { return true }

// querier is what a reader sends its queries through: a transaction, or
// a view's snapshot.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

type reader struct{ q querier }

// Remote implements projections.Remote: every read is a round trip.
func (reader) Remote() bool { return true }

func (r reader) Get(ctx context.Context, table, key string, v any) (bool, error) {
	var doc []byte
	err := r.q.QueryRow(ctx, `SELECT doc FROM rm_documents WHERE tbl = $1 AND key = $2`, table, key).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s/%s: %w", table, key, err)
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return true, nil
}

func (r reader) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	sql, args := pageQuery("key, doc", table, page)
	return r.query(ctx, "scan "+table, sql, args, fn)
}

// pageQuery is Scan's query, of the columns named. Keys compare bytewise
// (COLLATE "C"): the bounds make an index range scan.
func pageQuery(columns, table string, page projections.Page) (string, []any) {
	sql := `SELECT ` + columns + ` FROM rm_documents WHERE tbl = $1 AND key >= $2 AND key > $3`
	args := []any{table, page.Prefix, page.After}
	if end, ok := after(page.Prefix); ok {
		sql += ` AND key < $4`
		args = append(args, end)
	}
	sql += ` ORDER BY key`
	if page.Limit > 0 {
		sql += fmt.Sprintf(` LIMIT %d`, page.Limit)
	}
	return sql, args
}

// ScanPages implements projections.PageScanner: all the pages in one
// batch, one round trip. The pages of one table that read all of a
// prefix (no limit, no cursor), such as the nodes above a member, go in
// one query, each row tagged with its page; every other page is a query
// of its own (pageQuery).
func (r reader) ScanPages(ctx context.Context, pages []projections.TablePage, fn func(int, string, []byte) error) error {
	var b pgx.Batch
	var queries [][]int // the pages of each query
	whole := map[string]int{}
	for i, p := range pages {
		if p.Limit == 0 && p.After == "" {
			if q, ok := whole[p.Table]; ok {
				queries[q] = append(queries[q], i)
				continue
			}
			whole[p.Table] = len(queries)
		}
		queries = append(queries, []int{i})
	}
	withPage := make([]bool, len(queries))
	for q, of := range queries {
		if len(of) == 1 {
			sql, args := pageQuery("key, doc", pages[of[0]].Table, pages[of[0]].Page)
			b.Queue(sql, args...)
			continue
		}
		los, his := make([]string, len(of)), make([]string, len(of))
		for j, i := range of {
			los[j], his[j] = pages[i].Prefix, bound(pages[i].Prefix)
		}
		// The page's ordinal as the row's first column, where a table
		// would be (collect).
		b.Queue(`SELECT p.i::text, d.key, d.doc FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS p(lo, hi, i)
			CROSS JOIN LATERAL (SELECT key, doc FROM rm_documents
				WHERE tbl = $1 AND key >= p.lo COLLATE "C" AND key < p.hi COLLATE "C" OFFSET 0) d
			ORDER BY p.i, d.key`, pages[of[0]].Table, los, his)
		withPage[q] = true
	}
	found, err := r.batch(ctx, &b, withPage...)
	if err != nil {
		return fmt.Errorf("scan %d pages: %w", len(pages), err)
	}
	perPage := make([][]row, len(pages))
	for q, rows := range found {
		if !withPage[q] {
			perPage[queries[q][0]] = rows
			continue
		}
		for _, e := range rows {
			j, err := strconv.Atoi(e.table)
			if err != nil || j < 1 || j > len(queries[q]) {
				return fmt.Errorf("scan %d pages: a row of no page (%q)", len(pages), e.table)
			}
			i := queries[q][j-1]
			perPage[i] = append(perPage[i], e)
		}
	}
	for i, rows := range perPage {
		for _, e := range rows {
			if err := fn(i, e.key, e.doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// GetMany implements projections.Batched in one query.
func (r reader) GetMany(ctx context.Context, table string, keys []string, fn func(string, []byte) error) error {
	return r.many(ctx, table, `SELECT key, doc FROM rm_documents WHERE tbl = $1 AND key = ANY($2)`, fn, keys)
}

// GetTables implements projections.Batched in one query: an index scan
// of each table for all of its keys at once (= ANY), which PostgreSQL runs
// with the keys sorted, a descent of the index each, where a look-up per
// key joined to the list (a lateral subquery) took half again as long.
func (r reader) GetTables(ctx context.Context, keys []projections.TableKeys, fn func(string, string, []byte) error) error {
	sql, args := tablesQuery(keys)
	return r.queryTables(ctx, fmt.Sprintf("read documents of %d tables", len(keys)), sql, args, true, fn)
}

// tablesQuery is GetTables' query: one index scan a table, their rows
// appended. Its text depends only on how many tables have keys, so the
// statement cache holds a handful of them.
func tablesQuery(keys []projections.TableKeys) (string, []any) {
	var sql strings.Builder
	var args []any
	for _, tk := range keys {
		if len(tk.Keys) == 0 {
			continue
		}
		if len(args) > 0 {
			sql.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&sql, "SELECT tbl, key, doc FROM rm_documents WHERE tbl = $%d AND key = ANY($%d::text[])", len(args)+1, len(args)+2)
		args = append(args, tk.Table, tk.Keys)
	}
	if len(args) == 0 {
		return "SELECT tbl, key, doc FROM rm_documents WHERE false", nil
	}
	return sql.String(), args
}

// ScanMany implements projections.Batched in one query: an index range
// scan per prefix, as Scan makes for one.
func (r reader) ScanMany(ctx context.Context, table string, prefixes []string, fn func(string, []byte) error) error {
	sql, args := scanQuery(table, prefixes)
	return r.query(ctx, "read "+table, sql, args, fn)
}

// scanQuery is ScanMany's query.
func scanQuery(table string, prefixes []string) (string, []any) {
	ends := make([]string, len(prefixes))
	for i, p := range prefixes {
		ends[i] = bound(p)
	}
	// A range scan of the index per prefix; the subquery keeps the
	// planner from estimating the join as a product of both sides.
	return `SELECT d.key, d.doc FROM unnest($2::text[], $3::text[]) AS p(lo, hi)
		CROSS JOIN LATERAL (SELECT key, doc FROM rm_documents
			WHERE tbl = $1 AND key >= p.lo COLLATE "C" AND key < p.hi COLLATE "C" OFFSET 0) d
		ORDER BY d.key`, []any{table, prefixes, ends}
}

// GetAndScan implements projections.Pipelined: GetTables' and ScanMany's
// queries in one batch, one round trip.
func (r reader) GetAndScan(ctx context.Context, keys []projections.TableKeys, scan projections.TableKeys, got func(string, string, []byte) error, scanned func(string, []byte) error) error {
	var b pgx.Batch
	sql, args := tablesQuery(keys)
	b.Queue(sql, args...)
	sql, args = scanQuery(scan.Table, scan.Keys)
	b.Queue(sql, args...)
	results, err := r.batch(ctx, &b, true, false)
	if err != nil {
		return fmt.Errorf("read documents of %d tables and scan %s: %w", len(keys), scan.Table, err)
	}
	found, under := results[0], results[1]
	for _, e := range found {
		if err := got(e.table, e.key, e.doc); err != nil {
			return err
		}
	}
	for _, e := range under {
		if err := scanned(e.key, e.doc); err != nil {
			return err
		}
	}
	return nil
}

// firstOfEachSQL reads the first document of each page of table $1
// (prefixes $2, their bounds $3, cursors $4), tagged with the page's
// ordinal: an index range scan per page that stops at its first row.
const firstOfEachSQL = `SELECT p.i, d.key, d.doc FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS p(lo, hi, after, i)
	CROSS JOIN LATERAL (SELECT key, doc FROM rm_documents
		WHERE tbl = $1 AND key >= p.lo COLLATE "C" AND key < p.hi COLLATE "C" AND key > p.after COLLATE "C"
		ORDER BY key LIMIT 1) d`

// FirstOfEach implements projections.Firsts in one query: an index range
// scan per page that stops at its first row.
func (r reader) FirstOfEach(ctx context.Context, table string, pages []projections.Page, fn func(int, string, []byte) error) error {
	los, his, afters := make([]string, len(pages)), make([]string, len(pages)), make([]string, len(pages))
	for i, p := range pages {
		los[i], his[i], afters[i] = p.Prefix, bound(p.Prefix), p.After
	}
	rows, err := r.q.Query(ctx, firstOfEachSQL, table, los, his, afters)
	if err != nil {
		return fmt.Errorf("read the first documents of %d pages of %s: %w", len(pages), table, err)
	}
	type first struct {
		i   int64
		key string
		doc []byte
	}
	var found []first
	for rows.Next() {
		var f first
		if err := rows.Scan(&f.i, &f.key, &f.doc); err != nil {
			rows.Close()
			return err
		}
		found = append(found, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the first documents of %d pages of %s: %w", len(pages), table, err)
	}
	for _, f := range found {
		if err := fn(int(f.i-1), f.key, f.doc); err != nil {
			return err
		}
	}
	return nil
}

// bound is a text above every key that starts with prefix, for a range
// scan's upper end: after(prefix), or, for a prefix of nothing but
// U+10FFFF, which has none, the prefix followed by more of it (every key
// that starts with it sorts below that).
func bound(prefix string) string {
	if end, ok := after(prefix); ok {
		return end
	}
	return prefix + strings.Repeat("\U0010FFFF", 64)
}

// after is the least text greater than every text that starts with prefix
// (its last character that can be raised, raised; in UTF-8, byte order is
// the order of code points), if there is one: none for "".
func after(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] < utf8.MaxRune {
			next := rs[i] + 1
			if next >= 0xD800 && next <= 0xDFFF { // surrogates are not text
				next = 0xE000
			}
			return string(rs[:i]) + string(next), true
		}
	}
	return "", false
}

func (r reader) many(ctx context.Context, table, sql string, fn func(string, []byte) error, lists ...[]string) error {
	args := []any{table}
	for _, l := range lists {
		args = append(args, l)
	}
	return r.query(ctx, "read "+table, sql, args, fn)
}

// query runs a query of keys and documents and calls fn with each row. It
// reads every row before calling fn, which may query the same transaction
// (one connection runs one query at a time).
func (r reader) query(ctx context.Context, what, sql string, args []any, fn func(string, []byte) error) error {
	return r.queryTables(ctx, what, sql, args, false, func(_, key string, doc []byte) error { return fn(key, doc) })
}

// queryTables is query for rows that start with their table, if withTable.
func (r reader) queryTables(ctx context.Context, what, sql string, args []any, withTable bool, fn func(string, string, []byte) error) error {
	rows, err := r.q.Query(ctx, sql, args...)
	found, err := collect(rows, err, withTable)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for _, e := range found {
		if err := fn(e.table, e.key, e.doc); err != nil {
			return err
		}
	}
	return nil
}

// batch sends b's queries in one round trip and reads every row of each
// (collect), each row starting with its table where withTable says so
// for its query, before any is handed on: the caller may query again.
func (r reader) batch(ctx context.Context, b *pgx.Batch, withTable ...bool) ([][]row, error) {
	res := r.q.SendBatch(ctx, b)
	out := make([][]row, len(withTable))
	var err error
	for i, t := range withTable {
		rows, qerr := res.Query()
		if out[i], err = collect(rows, qerr, t); err != nil {
			break
		}
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	return out, err
}

// row is a document read, with its table where the query returns it.
type row struct {
	table, key string
	doc        []byte
}

// collect reads every row of a query of keys and documents (err: the
// query's), each starting with its table if withTable.
//
// A read ahead of a page of rights brings about a thousand rows, and the
// three or four allocations each row took were a third of what the read
// allocated. Now a row allocates its key, exactly; its document is copied
// into chunks shared by the rows (whoever keeps a document copies it: see
// projections.Batched), and its table is one of the handful of names kept
// once. The bytes allocated stay those of the rows: one buffer grown by
// doubling would copy them again and again, and the garbage collector's
// work follows the bytes, not the count.
func collect(rows pgx.Rows, err error, withTable bool) ([]row, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	first := 0
	if withTable {
		first = 1
	}
	var (
		found  []row
		docs   chunks
		tables []string
	)
	for rows.Next() {
		vals := rows.RawValues()
		if len(vals) != first+2 {
			return nil, fmt.Errorf("a row of %d values, not %d", len(vals), first+2)
		}
		doc := vals[first+1]
		if !binaryDoc(rows.FieldDescriptions(), first+1) {
			// A connection that asks for text (the simple protocol):
			// the document decoded from its escaped form.
			if err := rows.Scan(append(make([]any, first), nil, &doc)...); err != nil {
				return nil, err
			}
		}
		e := row{key: string(vals[first]), doc: docs.copy(doc)}
		if withTable {
			e.table = intern(&tables, vals[0])
		}
		found = append(found, e)
	}
	return found, rows.Err()
}

// chunks copies byte strings into shared buffers that grow from 1 KiB to
// 32 KiB, never moving what they hold.
type chunks struct {
	buf  []byte
	size int
}

func (c *chunks) copy(b []byte) []byte {
	if len(b) > cap(c.buf)-len(c.buf) {
		c.size = min(max(2*c.size, 1<<10), 32<<10)
		c.buf = make([]byte, 0, max(c.size, len(b)))
	}
	n := len(c.buf)
	c.buf = append(c.buf, b...)
	return c.buf[n:len(c.buf):len(c.buf)]
}

// binaryDoc says whether the column at i (a document, bytea) comes in the
// binary format, its bytes as they are; a key or a table (text) is its
// bytes in either format.
func binaryDoc(fields []pgconn.FieldDescription, i int) bool {
	return i < len(fields) && fields[i].Format == pgx.BinaryFormatCode
}

// intern is the string of b among tables, added if new: a query's rows name
// a handful of tables, each kept once.
func intern(tables *[]string, b []byte) string {
	for _, t := range *tables {
		if t == string(b) {
			return t
		}
	}
	*tables = append(*tables, string(b))
	return (*tables)[len(*tables)-1]
}

var (
	_ projections.Grouped     = (*Store)(nil)
	_ projections.Pipelined   = reader{}
	_ projections.Owning      = viewReader{}
	_ projections.Firsts      = reader{}
	_ projections.PageScanner = reader{}
)

// tx buffers a transaction's writes and remembers what it read, so that a
// projection's read-modify-write of the same documents across a batch of
// events costs one round trip per document at most, and the writes go to
// the server as one pipelined batch at commit.
type tx struct {
	reader
	w       pgx.Tx // what reader queries through, for COPY
	pending map[docKey]*pending
	// the tables whose documents it stamps and keeps versions of
	projections.Declared
}

type docKey struct{ table, key string }

// pending is a document as this transaction knows it, kept decoded where
// it can be (projections.Kept), so that a page of events that changes it
// many times decodes and encodes it once each.
//
// A document put that the server does not hold (fresh: put as
// projections.Fresh, or read as absent in this transaction, or deleted
// and flushed) is written with a plain INSERT instead of an upsert, which
// costs the server nearly a third less a row (docs/benchmarks.md). The
// transaction holds its consumer's checkpoint row locked, and consumers
// own distinct tables, so nothing else writes the key meanwhile; a key
// that was there after all fails the transaction, never a silent loss.
type pending struct {
	doc    projections.Kept
	absent bool
	dirty  bool
	fresh  bool
}

func (t *tx) Get(ctx context.Context, table, key string, v any) (bool, error) {
	if p, ok := t.pending[docKey{table, key}]; ok {
		if p.absent {
			return false, nil
		}
		if err := p.doc.Decode(v); err != nil {
			return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
		}
		return true, nil
	}
	var doc []byte
	err := t.q.QueryRow(ctx, `SELECT doc FROM rm_documents WHERE tbl = $1 AND key = $2`, table, key).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		t.pending[docKey{table, key}] = &pending{absent: true}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s/%s: %w", table, key, err)
	}
	t.pending[docKey{table, key}] = &pending{doc: projections.KeptAs(doc)}
	if err := json.Unmarshal(doc, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return true, nil
}

// Prefetch implements projections.Prefetching: the documents at keys that
// the transaction does not know yet, in one query, remembered as if each
// had been read by Get (absent ones as absent).
func (t *tx) Prefetch(ctx context.Context, keys []projections.TableKeys) error {
	fresh := make([]projections.TableKeys, 0, len(keys))
	for _, tk := range keys {
		var ks []string
		for _, k := range tk.Keys {
			dk := docKey{tk.Table, k}
			if _, ok := t.pending[dk]; !ok {
				t.pending[dk] = &pending{absent: true} // unless read below
				ks = append(ks, k)
			}
		}
		if len(ks) > 0 {
			fresh = append(fresh, projections.TableKeys{Table: tk.Table, Keys: ks})
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	err := t.reader.GetTables(ctx, fresh, func(table, key string, doc []byte) error {
		t.pending[docKey{table, key}] = &pending{doc: projections.KeptAs(slices.Clone(doc))}
		return nil
	})
	if err != nil {
		for _, tk := range fresh {
			for _, k := range tk.Keys {
				delete(t.pending, docKey{tk.Table, k})
			}
		}
	}
	return err
}

// GetMany implements projections.Batched, seeing the transaction's own
// writes: what it does not know yet is read ahead in one query (Prefetch),
// then every key is answered as the transaction knows it.
func (t *tx) GetMany(ctx context.Context, table string, keys []string, fn func(string, []byte) error) error {
	return t.GetTables(ctx, []projections.TableKeys{{Table: table, Keys: keys}}, func(_, key string, doc []byte) error { return fn(key, doc) })
}

// GetTables implements projections.Batched, as GetMany does.
func (t *tx) GetTables(ctx context.Context, keys []projections.TableKeys, fn func(string, string, []byte) error) error {
	if err := t.Prefetch(ctx, keys); err != nil {
		return err
	}
	for _, tk := range keys {
		for _, k := range tk.Keys {
			if p := t.pending[docKey{tk.Table, k}]; p != nil && !p.absent {
				doc, err := p.doc.Bytes()
				if err != nil {
					return fmt.Errorf("encode %s/%s: %w", tk.Table, k, err)
				}
				if err := fn(tk.Table, k, doc); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ScanMany sees the transaction's own writes: they are flushed first.
func (t *tx) ScanMany(ctx context.Context, table string, prefixes []string, fn func(string, []byte) error) error {
	if err := t.flush(ctx, nil); err != nil {
		return err
	}
	return t.reader.ScanMany(ctx, table, prefixes, fn)
}

// GetAndScan sees the transaction's own writes, as GetTables and ScanMany
// do: without it, the reader's would read what the server holds, before
// them.
func (t *tx) GetAndScan(ctx context.Context, keys []projections.TableKeys, scan projections.TableKeys, got func(string, string, []byte) error, scanned func(string, []byte) error) error {
	if err := t.GetTables(ctx, keys, got); err != nil {
		return err
	}
	return t.ScanMany(ctx, scan.Table, scan.Keys, scanned)
}

// FirstOfEach sees the transaction's own writes: they are flushed first.
func (t *tx) FirstOfEach(ctx context.Context, table string, pages []projections.Page, fn func(int, string, []byte) error) error {
	if err := t.flush(ctx, nil); err != nil {
		return err
	}
	return t.reader.FirstOfEach(ctx, table, pages, fn)
}

// ScanPages sees the transaction's own writes, as Scan does.
func (t *tx) ScanPages(ctx context.Context, pages []projections.TablePage, fn func(int, string, []byte) error) error {
	if err := t.flush(ctx, nil); err != nil {
		return err
	}
	return t.reader.ScanPages(ctx, pages, fn)
}

// Scan sees the transaction's own writes: they are flushed first.
func (t *tx) Scan(ctx context.Context, table string, page projections.Page, fn func(string, []byte) error) error {
	if err := t.flush(ctx, nil); err != nil {
		return err
	}
	return t.reader.Scan(ctx, table, page, fn)
}

func (t *tx) Put(ctx context.Context, table, key string, v any) error {
	doc, err := projections.Keep(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	k := docKey{table, key}
	_, fresh := v.(projections.Fresh)
	if p, ok := t.pending[k]; ok {
		// What the transaction knows of the server's row: none, if it
		// read none (or deleted it, flushed) and has not written it
		// since; it may have been flushed by a scan, so a Fresh after a
		// write in this transaction is not trusted.
		fresh = p.fresh || (p.absent && !p.dirty)
	}
	t.pending[k] = &pending{doc: doc, dirty: true, fresh: fresh}
	return nil
}

func (t *tx) Delete(ctx context.Context, table, key string) error {
	t.pending[docKey{table, key}] = &pending{absent: true, dirty: true}
	return nil
}

// escapedKey is projections.EscapeVersionKey of d.key, in SQL.
const escapedKey = `replace(replace(d.key, chr(2), chr(2) || chr(2)), chr(1), chr(2) || chr(1))`

// flush sends every buffered write, plus whatever also queues, in one
// pipelined batch, in key order.
func (t *tx) flush(ctx context.Context, also func(*pgx.Batch)) error {
	keys := make([]docKey, 0, len(t.pending))
	for k, p := range t.pending {
		if p.dirty {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].table != keys[j].table {
			return keys[i].table < keys[j].table
		}
		return keys[i].key < keys[j].key
	})
	// One statement for every document deleted, one for every document
	// put that the server may hold (an upsert) and one for those it does
	// not (an insert, or COPY when there are many), each taking its rows
	// as arrays: a page's writes cost three statements at most, not one
	// each.
	var putTables, putKeys, delTables, delKeys, newTables, newKeys []string
	var putDocs, newDocs, putAts, newAts [][]byte
	// Of each versioned table, the keys the server may hold a document
	// at, and those of them deleted.
	replaced, deletedKeys := map[string][]string{}, map[string][]string{}
	for _, k := range keys {
		p := t.pending[k]
		v, versioned := t.Versions(k.table)
		var at []byte // null: no stamp
		if versioned {
			at = projections.InvertedBytes(v.At)
			if !p.fresh {
				replaced[k.table] = append(replaced[k.table], k.key)
				if p.absent {
					deletedKeys[k.table] = append(deletedKeys[k.table], k.key)
				}
			}
		}
		if p.absent {
			delTables, delKeys = append(delTables, k.table), append(delKeys, k.key)
		} else {
			doc, err := p.doc.Bytes()
			if err != nil {
				return fmt.Errorf("encode %s/%s: %w", k.table, k.key, err)
			}
			if p.fresh {
				newTables, newKeys, newDocs, newAts = append(newTables, k.table), append(newKeys, k.key), append(newDocs, doc), append(newAts, at)
			} else {
				putTables, putKeys, putDocs, putAts = append(putTables, k.table), append(putKeys, k.key), append(putDocs, doc), append(putAts, at)
			}
		}
		p.dirty, p.fresh = false, false
	}
	b := &pgx.Batch{}
	// Before the writes, the server copies what they replace where a
	// snapshot still sees it, and leaves a tombstone where they delete:
	// the documents do not come to this process and back.
	for _, table := range slices.Sorted(maps.Keys(replaced)) {
		v, _ := t.Versions(table)
		if !v.Keep.IsZero() {
			b.Queue(`INSERT INTO rm_documents (tbl, key, doc)
				SELECT $1, $2 || `+escapedKey+` || chr(1) || encode(coalesce(d.at, $3), 'hex') || '.', d.doc
				FROM rm_documents d WHERE d.tbl = $4 AND d.key = ANY($5) AND coalesce(d.at, $3) >= $6
				ON CONFLICT (tbl, key) DO UPDATE SET doc = EXCLUDED.doc`,
				v.Into, v.Prefix, projections.InvertedBytes(v.Legacy), table, replaced[table], projections.InvertedBytes(v.Keep))
		}
		if dk := deletedKeys[table]; len(dk) > 0 && v.Tombstones() {
			b.Queue(`INSERT INTO rm_documents (tbl, key, doc)
				SELECT $1, $2 || `+escapedKey+` || chr(1) || $3 || '.', $4::bytea
				FROM rm_documents d WHERE d.tbl = $5 AND d.key = ANY($6)
				ON CONFLICT (tbl, key) DO NOTHING`,
				v.Into, v.Prefix, projections.InvertedPosition(v.At), []byte(projections.Tombstone), table, dk)
		}
	}
	if len(delKeys) > 0 {
		b.Queue(`DELETE FROM rm_documents d USING unnest($1::text[], $2::text[]) AS u(tbl, key)
			WHERE d.tbl = u.tbl AND d.key = u.key`, delTables, delKeys)
	}
	if len(putKeys) > 0 {
		b.Queue(`INSERT INTO rm_documents (tbl, key, doc, at)
			SELECT u.tbl, u.key, u.doc, u.at FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS u(tbl, key, doc, at)
			ON CONFLICT (tbl, key) DO UPDATE SET doc = EXCLUDED.doc, at = EXCLUDED.at`, putTables, putKeys, putDocs, putAts)
	}
	copied := len(newKeys) >= copyAtLeast
	if len(newKeys) > 0 && !copied {
		b.Queue(`INSERT INTO rm_documents (tbl, key, doc, at)
			SELECT u.tbl, u.key, u.doc, u.at FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS u(tbl, key, doc, at)`, newTables, newKeys, newDocs, newAts)
	}
	if also != nil {
		also(b)
	}
	if b.Len() > 0 {
		if err := t.q.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("write read-model documents: %w", err)
		}
	}
	if copied {
		// After the batch, as the insert would be: a version the batch
		// copies under a key that a fresh document also takes fails the
		// transaction either way, never overwrites.
		_, err := t.w.CopyFrom(ctx, pgx.Identifier{"rm_documents"}, []string{"tbl", "key", "doc", "at"}, pgx.CopyFromSlice(len(newKeys), func(i int) ([]any, error) {
			return []any{newTables[i], newKeys[i], newDocs[i], newAts[i]}, nil
		}))
		if err != nil {
			return fmt.Errorf("copy read-model documents: %w", err)
		}
	}
	return nil
}

// copyAtLeast is how many documents new to their keys a flush writes by
// COPY rather than by a plain INSERT of arrays in its batch. Measured here
// (BenchmarkFreshDocuments), COPY took about 10 µs a document up to 352 of
// them a transaction and 7 from 384 on, where the insert took 8 to 12
// throughout; the catch-up of the sharing projections, whose flushes hold
// hundreds to thousands, was about 30% faster by COPY (docs/benchmarks.md).
const copyAtLeast = 512

// GetStamped implements projections.Stamped.
func (r reader) GetStamped(ctx context.Context, table string, keys []string, fn func(string, []byte, eventstore.Position) error) error {
	return r.StampedFirsts(ctx, []projections.TableKeys{{Table: table, Keys: keys}}, nil,
		func(_, key string, doc []byte, at eventstore.Position) error { return fn(key, doc, at) }, nil)
}

// ScanStamped implements projections.Stamped.
func (r reader) ScanStamped(ctx context.Context, table string, page projections.Page, fn func(string, []byte, eventstore.Position) error) error {
	sql, args := pageQuery("key, doc, at", table, page)
	return r.stamped(ctx, "scan "+table, sql, args, fn)
}

func (r reader) stamped(ctx context.Context, what, sql string, args []any, fn func(string, []byte, eventstore.Position) error) error {
	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var key string
	var doc, at []byte
	for rows.Next() {
		if err := rows.Scan(&key, &doc, &at); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(key, doc, projections.FromInvertedBytes(at)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// StampedFirsts implements projections.StampedFirsts: one batch, one round
// trip, of a query for each table's documents (with their stamps) and one
// for the first document of each table's pages (FirstOfEach's).
func (r reader) StampedFirsts(ctx context.Context, gets []projections.TableKeys, firsts []projections.TablePage,
	got func(string, string, []byte, eventstore.Position) error, first func(int, string, []byte) error) error {
	type stampedRow struct {
		table, key string
		doc, at    []byte
	}
	type firstRow struct {
		i   int
		key string
		doc []byte
	}
	var stamped []stampedRow
	var found []firstRow
	b := &pgx.Batch{}
	for _, g := range gets {
		if len(g.Keys) == 0 {
			continue
		}
		b.Queue(`SELECT key, doc, at FROM rm_documents WHERE tbl = $1 AND key = ANY($2)`, g.Table, g.Keys).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				e := stampedRow{table: g.Table}
				if err := rows.Scan(&e.key, &e.doc, &e.at); err != nil {
					return err
				}
				stamped = append(stamped, e)
			}
			return rows.Err()
		})
	}
	byTable := map[string][]int{}
	var tables []string
	for i, p := range firsts {
		if _, ok := byTable[p.Table]; !ok {
			tables = append(tables, p.Table)
		}
		byTable[p.Table] = append(byTable[p.Table], i)
	}
	for _, table := range tables {
		of := byTable[table]
		los, his, afters := make([]string, len(of)), make([]string, len(of)), make([]string, len(of))
		for j, i := range of {
			los[j], his[j], afters[j] = firsts[i].Prefix, bound(firsts[i].Prefix), firsts[i].After
		}
		b.Queue(firstOfEachSQL, table, los, his, afters).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var j int64
				var f firstRow
				if err := rows.Scan(&j, &f.key, &f.doc); err != nil {
					return err
				}
				if j < 1 || int(j) > len(of) {
					return fmt.Errorf("a first document of no page (%d)", j)
				}
				f.i = of[j-1]
				found = append(found, f)
			}
			return rows.Err()
		})
	}
	if b.Len() == 0 {
		return nil
	}
	if err := r.q.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("read %d tables' documents and %d first documents: %w", len(gets), len(firsts), err)
	}
	for _, e := range stamped {
		if err := got(e.table, e.key, e.doc, projections.FromInvertedBytes(e.at)); err != nil {
			return err
		}
	}
	for _, f := range found {
		if err := first(f.i, f.key, f.doc); err != nil {
			return err
		}
	}
	return nil
}
