package projections

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/shareledger/shareledger/eventstore"
)

// GenerationsTable says, per projection, which generation of its tables is
// live. A rebuild writes a new generation beside the live one and swaps by
// changing this one document, in the transaction that also moves the
// projection's checkpoint; readers resolve tables in the snapshot they read
// documents from, so they see the old model or the new one, never a mix.
const GenerationsTable = "_generations"

// Generation is the live generation of a projection's tables.
type Generation struct {
	Number int       `json:"number"`
	Tables []string  `json:"tables"`
	Since  time.Time `json:"since"`
}

// TableIn names table in generation n; generation 0 is the plain name, so
// a store that was never rebuilt keeps its documents where they were.
func TableIn(table string, n int) string {
	if n == 0 {
		return table
	}
	return table + "~" + strconv.Itoa(n)
}

// Generational wraps s so that every read and write of a projection's
// tables goes to its live generation.
func Generational(s Store) Store { return generational{s} }

type generational struct{ Store }

func (g generational) Update(ctx context.Context, consumer string, fn func(Tx, eventstore.Position) (eventstore.Position, error)) error {
	return g.Store.Update(ctx, consumer, func(tx Tx, cp eventstore.Position) (eventstore.Position, error) {
		live, err := LiveTables(ctx, tx)
		if err != nil {
			return cp, err
		}
		return fn(Renamed(tx, live), cp)
	})
}

func (g generational) UpdateEach(ctx context.Context, us []Update) []error {
	renamed := make([]Update, len(us))
	for i, u := range us {
		renamed[i] = Update{Consumer: u.Consumer, Fn: func(tx Tx, cp eventstore.Position) (eventstore.Position, error) {
			live, err := LiveTables(ctx, tx)
			if err != nil {
				return cp, err
			}
			return u.Fn(Renamed(tx, live), cp)
		}}
	}
	return UpdateEach(ctx, g.Store, renamed)
}

// Awaited passes on to the store what Progress tells of waiting readers
// (Awaited).
func (g generational) Awaited(readers int) {
	if a, ok := g.Store.(Awaited); ok {
		a.Awaited(readers)
	}
}

func (g generational) View(ctx context.Context, fn func(Reader) error) error {
	return g.Store.View(ctx, func(r Reader) error {
		live, err := LiveTables(ctx, r)
		if err != nil {
			return err
		}
		rr := renamedReader{r, live}
		if p, ok := r.(Pipelined); ok {
			return fn(renamedPipelined{renamedBatched{rr, p}, p})
		}
		if b, ok := r.(Batched); ok {
			return fn(renamedBatched{rr, b})
		}
		return fn(rr)
	})
}

// LiveTables maps each table that lives in another generation than 0 to
// the name it has there.
func LiveTables(ctx context.Context, r Reader) (map[string]string, error) {
	var out map[string]string
	err := r.Scan(ctx, GenerationsTable, Page{}, func(_ string, doc []byte) error {
		var g Generation
		if err := json.Unmarshal(doc, &g); err != nil {
			return err
		}
		for _, t := range g.Tables {
			if out == nil {
				out = map[string]string{}
			}
			out[t] = TableIn(t, g.Number)
		}
		return nil
	})
	return out, err
}

// Renamed is tx with the tables in names read and written under their
// mapped names.
func Renamed(tx Tx, names map[string]string) Tx {
	if len(names) == 0 {
		return tx
	}
	return renamedTx{Tx: tx, names: names}
}

type renamedReader struct {
	Reader
	names map[string]string
}

func rename(names map[string]string, table string) string {
	if n, ok := names[table]; ok {
		return n
	}
	return table
}

func (r renamedReader) Get(ctx context.Context, table, key string, v any) (bool, error) {
	return r.Reader.Get(ctx, rename(r.names, table), key, v)
}

func (r renamedReader) Scan(ctx context.Context, table string, page Page, fn func(string, []byte) error) error {
	return r.Reader.Scan(ctx, rename(r.names, table), page, fn)
}

// Remote is the wrapped reader's (Remote).
func (r renamedReader) Remote() bool { return Remote(r.Reader) }

// DocsOwned is the wrapped reader's (Owning): the documents pass through.
func (r renamedReader) DocsOwned() bool { return DocsOwned(r.Reader) }

// renamedBatched is a renamedReader over a Batched reader.
type renamedBatched struct {
	renamedReader
	b Batched
}

func (r renamedBatched) GetMany(ctx context.Context, table string, keys []string, fn func(string, []byte) error) error {
	return r.b.GetMany(ctx, rename(r.names, table), keys, fn)
}

func (r renamedBatched) GetTables(ctx context.Context, keys []TableKeys, fn func(string, string, []byte) error) error {
	renamed, back := r.renamed(keys)
	return r.b.GetTables(ctx, renamed, func(table, key string, doc []byte) error { return fn(back[table], key, doc) })
}

// renamed is keys under their tables' live names, and the way back.
func (r renamedBatched) renamed(keys []TableKeys) ([]TableKeys, map[string]string) {
	renamed := make([]TableKeys, len(keys))
	back := map[string]string{}
	for i, tk := range keys {
		renamed[i] = TableKeys{Table: rename(r.names, tk.Table), Keys: tk.Keys}
		back[renamed[i].Table] = tk.Table
	}
	return renamed, back
}

func (r renamedBatched) ScanMany(ctx context.Context, table string, prefixes []string, fn func(string, []byte) error) error {
	return r.b.ScanMany(ctx, rename(r.names, table), prefixes, fn)
}

// FirstOfEach implements Firsts, at once where the reader it wraps does.
func (r renamedBatched) FirstOfEach(ctx context.Context, table string, pages []Page, fn func(int, string, []byte) error) error {
	return FirstOfEach(ctx, r.Reader, rename(r.names, table), pages, fn)
}

// ScanPages implements PageScanner, at once where the reader it wraps does.
func (r renamedBatched) ScanPages(ctx context.Context, pages []TablePage, fn func(int, string, []byte) error) error {
	renamed := make([]TablePage, len(pages))
	for i, p := range pages {
		renamed[i] = TablePage{Table: rename(r.names, p.Table), Page: p.Page}
	}
	return ScanPages(ctx, r.Reader, renamed, fn)
}

// renamedPipelined is a renamedBatched over a Pipelined reader.
type renamedPipelined struct {
	renamedBatched
	p Pipelined
}

func (r renamedPipelined) GetAndScan(ctx context.Context, keys []TableKeys, scan TableKeys, got func(string, string, []byte) error, scanned func(string, []byte) error) error {
	renamed, back := r.renamed(keys)
	scan.Table = rename(r.names, scan.Table)
	return r.p.GetAndScan(ctx, renamed, scan, func(table, key string, doc []byte) error { return got(back[table], key, doc) }, scanned)
}

type renamedTx struct {
	Tx
	names map[string]string
}

func (t renamedTx) Get(ctx context.Context, table, key string, v any) (bool, error) {
	return t.Tx.Get(ctx, rename(t.names, table), key, v)
}

func (t renamedTx) Scan(ctx context.Context, table string, page Page, fn func(string, []byte) error) error {
	return t.Tx.Scan(ctx, rename(t.names, table), page, fn)
}

func (t renamedTx) Put(ctx context.Context, table, key string, v any) error {
	return t.Tx.Put(ctx, rename(t.names, table), key, v)
}

func (t renamedTx) Delete(ctx context.Context, table, key string) error {
	return t.Tx.Delete(ctx, rename(t.names, table), key)
}

// Prefetch implements Prefetching, under the mapped names.
func (t renamedTx) Prefetch(ctx context.Context, keys []TableKeys) error {
	renamed := make([]TableKeys, len(keys))
	for i, tk := range keys {
		renamed[i] = TableKeys{Table: rename(t.names, tk.Table), Keys: tk.Keys}
	}
	return Prefetch(ctx, t.Tx, renamed)
}

// Version implements Versioning, under the mapped name.
func (t renamedTx) Version(table string, v Versions) error {
	return Version(t.Tx, rename(t.names, table), v)
}

// TableName is the name table has in the store (its live generation's).
func (t renamedTx) TableName(table string) string { return rename(t.names, table) }

// GenerationIn is the generation of table that tx writes: the live one,
// through a Generational store's transaction (0 through any other).
func GenerationIn(tx Tx, table string) int {
	n, ok := tx.(interface{ TableName(string) string })
	if !ok {
		return 0
	}
	name := n.TableName(table)
	if name == table || !strings.HasPrefix(name, table+"~") {
		return 0
	}
	g, err := strconv.Atoi(name[len(table)+1:])
	if err != nil {
		return 0
	}
	return g
}
