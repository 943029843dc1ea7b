package projections

import (
	"context"
	"encoding/json"
	"slices"
)

// Batched is a Reader that reads many documents at once: on PostgreSQL, one
// round trip where one read per document would take as many. An evaluation
// that knows what a chunk of rows will read (the rights of a page of
// vehicles) reads it with GetMany and ScanMany; a store that is not
// Batched answers them one read at a time, which is as fast where reads
// are in-process. A doc handed to fn is valid only while fn runs (an
// embedded store hands its pages' bytes); fn copies what it keeps.
type Batched interface {
	// GetMany calls fn with the documents of table at those of keys that
	// it holds, in no particular order.
	GetMany(ctx context.Context, table string, keys []string, fn func(key string, doc []byte) error) error
	// ScanMany calls fn with the documents of table whose keys start with
	// any of prefixes, in key order (prefixes none of which is a prefix
	// of another, so that no document comes twice).
	ScanMany(ctx context.Context, table string, prefixes []string, fn func(key string, doc []byte) error) error
	// GetTables is GetMany for keys of several tables at once.
	GetTables(ctx context.Context, keys []TableKeys, fn func(table, key string, doc []byte) error) error
}

// Owning is a Reader that says whether its Batched and Pipelined reads
// hand documents that are the caller's to keep: PostgreSQL's rows are
// copied out of the connection's buffer once, into memory no later read
// reuses. A reader that keeps what it is handed (a rights view remembers
// every document it read) need not copy it again.
type Owning interface {
	Reader
	DocsOwned() bool
}

// DocsOwned says whether the documents that r's Batched and Pipelined
// reads hand are the caller's to keep (Owning); if not, they are valid
// only while the call that hands them runs.
func DocsOwned(r Reader) bool {
	o, ok := r.(Owning)
	return ok && o.DocsOwned()
}

// Pipelined is a Batched reader that sends a read of keys and a scan of
// prefixes together: on PostgreSQL both queries go in one round trip, and
// the server runs the second while the first's rows travel back. A read
// ahead whose scan does not depend on its keys (a batch of checks: the
// members' documents and their collections) waits for one answer instead
// of two.
type Pipelined interface {
	Batched
	// GetAndScan is GetTables of keys and ScanMany of scan.Table under
	// the prefixes scan.Keys: got is called for each document found at
	// keys, then scanned for each under the prefixes, in key order.
	GetAndScan(ctx context.Context, keys []TableKeys, scan TableKeys, got func(table, key string, doc []byte) error, scanned func(key string, doc []byte) error) error
}

// GetAndScan reads keys and scans prefixes (GetTables, then ScanMany), in
// one round trip where r is Pipelined.
func GetAndScan(ctx context.Context, r Reader, keys []TableKeys, scan TableKeys, got func(table, key string, doc []byte) error, scanned func(key string, doc []byte) error) error {
	if p, ok := r.(Pipelined); ok && len(scan.Keys) > 0 && slices.ContainsFunc(keys, func(tk TableKeys) bool { return len(tk.Keys) > 0 }) {
		return p.GetAndScan(ctx, keys, scan, got, scanned)
	}
	if err := GetTables(ctx, r, keys, got); err != nil {
		return err
	}
	return ScanMany(ctx, r, scan.Table, scan.Keys, scanned)
}

// Firsts is a Reader that reads the first document of many pages of one
// table at once: on PostgreSQL, one query where a Scan each would take a
// round trip each. A point-in-time answer reads each document as it stood
// at a snapshot, the first of its versions after a key, this way.
type Firsts interface {
	// FirstOfEach calls fn with the first document of each page (its
	// Prefix and After; its Limit is ignored), and the page's index, for
	// those pages that hold one, in no particular order.
	FirstOfEach(ctx context.Context, table string, pages []Page, fn func(i int, key string, doc []byte) error) error
}

// FirstOfEach reads the first document of each page, at once where r is
// Firsts, or else one Scan each.
func FirstOfEach(ctx context.Context, r Reader, table string, pages []Page, fn func(i int, key string, doc []byte) error) error {
	if len(pages) == 0 {
		return nil
	}
	if f, ok := r.(Firsts); ok {
		return f.FirstOfEach(ctx, table, pages, fn)
	}
	for i, p := range pages {
		p.Limit = 1
		if err := r.Scan(ctx, table, p, func(k string, doc []byte) error { return fn(i, k, doc) }); err != nil {
			return err
		}
	}
	return nil
}

// PageScanner is a Reader that scans pages of several tables at once: on
// PostgreSQL one round trip for all of them, where a Scan each would take
// one each. Independent range reads, such as the indexes of who holds a
// level that a who-can answer merges, are read this way.
type PageScanner interface {
	// ScanPages calls fn with the documents of each page (as Scan reads
	// it) and the page's index: the pages in order, each in key order.
	ScanPages(ctx context.Context, pages []TablePage, fn func(i int, key string, doc []byte) error) error
}

// TablePage is a page of a table.
type TablePage struct {
	Table string
	Page
}

// ScanPages scans each of pages, at once where r is a PageScanner, or else one
// Scan each; fn sees the pages in order, each in key order.
func ScanPages(ctx context.Context, r Reader, pages []TablePage, fn func(i int, key string, doc []byte) error) error {
	if len(pages) == 0 {
		return nil
	}
	if p, ok := r.(PageScanner); ok {
		return p.ScanPages(ctx, pages, fn)
	}
	for i, p := range pages {
		if err := r.Scan(ctx, p.Table, p.Page, func(k string, doc []byte) error { return fn(i, k, doc) }); err != nil {
			return err
		}
	}
	return nil
}

// Remote says whether r's reads are round trips to a server, so that a
// reader that could read some documents one by one when it needs them
// should read them at once ahead instead (a store whose reads are
// in-process gains nothing from it). Wrappers pass it on.
func Remote(r Reader) bool {
	rr, ok := r.(interface{ Remote() bool })
	return ok && rr.Remote()
}

// TableKeys are keys of one table.
type TableKeys struct {
	Table string
	Keys  []string
}

// GetTables reads the documents at keys of several tables, at once where r
// is Batched (one round trip on PostgreSQL, where GetMany for each table
// would take one each).
func GetTables(ctx context.Context, r Reader, keys []TableKeys, fn func(table, key string, doc []byte) error) error {
	n := 0
	for _, tk := range keys {
		n += len(tk.Keys)
	}
	if n == 0 {
		return nil
	}
	if b, ok := r.(Batched); ok {
		return b.GetTables(ctx, keys, fn)
	}
	return TableByTable(ctx, r, keys, fn)
}

// TableByTable is GetTables as one GetMany a table: how a store whose
// reads are in-process (or that batches only one table a read) answers it.
func TableByTable(ctx context.Context, r Reader, keys []TableKeys, fn func(table, key string, doc []byte) error) error {
	for _, tk := range keys {
		err := GetMany(ctx, r, tk.Table, tk.Keys, func(key string, doc []byte) error { return fn(tk.Table, key, doc) })
		if err != nil {
			return err
		}
	}
	return nil
}

// GetMany reads the documents of table at keys, at once where r is
// Batched.
func GetMany(ctx context.Context, r Reader, table string, keys []string, fn func(key string, doc []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	if b, ok := r.(Batched); ok {
		return b.GetMany(ctx, table, keys, fn)
	}
	for _, k := range keys {
		var doc json.RawMessage
		found, err := r.Get(ctx, table, k, &doc)
		if err != nil {
			return err
		}
		if found {
			if err := fn(k, doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// ScanMany reads the documents of table under each of prefixes, at once
// where r is Batched.
func ScanMany(ctx context.Context, r Reader, table string, prefixes []string, fn func(key string, doc []byte) error) error {
	if len(prefixes) == 0 {
		return nil
	}
	if b, ok := r.(Batched); ok {
		return b.ScanMany(ctx, table, prefixes, fn)
	}
	return PrefixByPrefix(ctx, r, table, prefixes, fn)
}

// PrefixByPrefix is ScanMany as one Scan a prefix: how a store whose reads
// are in-process answers it. It scans the prefixes in order, so that the
// documents come in key order whatever the order of prefixes.
func PrefixByPrefix(ctx context.Context, r Reader, table string, prefixes []string, fn func(key string, doc []byte) error) error {
	if !slices.IsSorted(prefixes) {
		prefixes = slices.Sorted(slices.Values(prefixes))
	}
	for _, p := range prefixes {
		if err := r.Scan(ctx, table, Page{Prefix: p}, fn); err != nil {
			return err
		}
	}
	return nil
}
