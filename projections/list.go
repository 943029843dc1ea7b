package projections

import (
	"context"
	"encoding/json"
	"errors"
)

// Within is a page of the keys under prefix, from a page whose After is a
// cursor relative to it (as List's next returns it).
func Within(prefix string, page Page) Page {
	if page.After != "" {
		page.After = prefix + page.After
	}
	page.Prefix = prefix
	return page
}

// List reads a page of a table's documents into values of type T, those
// that keep accepts (nil: all), and returns the cursor of the next page
// (empty on the last one): what projections' query types are made of.
func List[T any](ctx context.Context, tx Reader, table string, page Page, keep func(*T) bool) (items []T, next string, err error) {
	items = []T{}
	next, err = list(ctx, tx, table, page, func(_ string, v *T) bool { return keep == nil || keep(v) },
		func(_ string, v T) int { items = append(items, v); return len(items) })
	return items, next, err
}

// ListAhead is List for a filter that reads other documents for each row
// (an evaluation of rights): ahead is handed each chunk of rows before keep
// sees any of them, to read what keep will read for all of them at once
// (GetMany, ScanMany). Chunks hold at most maxChunk rows.
func ListAhead[T any](ctx context.Context, tx Reader, table string, page Page, ahead func([]T), keep func(*T) bool) (items []T, next string, err error) {
	return ListSifted(ctx, tx, table, page, nil, ahead, keep)
}

// ListSifted is ListAhead with a sieve that sees each document as stored,
// before it is decoded, and may pass over it (a search that the document's
// text does not contain): decoding is most of the cost of reading a row
// that no one keeps. A sieve must never pass over a document keep would
// accept.
func ListSifted[T any](ctx context.Context, tx Reader, table string, page Page, sieve func(doc []byte) bool, ahead func([]T), keep func(*T) bool) (items []T, next string, err error) {
	items = []T{}
	chunk := Page{Prefix: page.Prefix, After: page.After, Limit: page.Limit + 1}
	if page.Limit == 0 {
		chunk.Limit = maxChunk
	}
	seen, kept := 0, 0 // rows scanned and accepted so far
	for {
		var keys []string
		var rows []T
		scanned, keptNow := 0, 0
		err := tx.Scan(ctx, table, chunk, func(key string, doc []byte) error {
			scanned++
			seen++
			chunk.After = key
			if sieve != nil && !sieve(doc) {
				return nil
			}
			var v T
			if err := json.Unmarshal(doc, &v); err != nil {
				return err
			}
			keys, rows = append(keys, key), append(rows, v)
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		if len(rows) > 0 {
			ahead(rows)
		}
		for i := range rows {
			if keep != nil && !keep(&rows[i]) {
				continue
			}
			kept++
			keptNow++
			if page.Limit > 0 && len(items) == page.Limit {
				return items, next[len(page.Prefix):], nil
			}
			items, next = append(items, rows[i]), keys[i]
		}
		if scanned < chunk.Limit {
			return items, "", nil
		}
		chunk.Limit = NextChunk(chunk.Limit, page.Limit, len(items), seen, kept, keptNow)
	}
}

// NextChunk sizes the next chunk of a list whose page is not full, after
// a chunk of last rows (limit: the page's size, 0 for all; held: the items
// the page holds; seen and kept: the rows read and accepted so far, keptNow
// by the last chunk): four times the last, at most maxChunk; but when the
// last chunk kept rows, no more than the rows still needed (the page's
// rest and the one that says a next page exists) take at the rate rows
// were kept so far, with a margin.
// A page that a first chunk nearly filled then reads a few rows more, not
// four times as many, each with what its evaluation reads ahead; a run of
// rows that keep refuses still grows the chunks fourfold.
func NextChunk(last, limit, held, seen, kept, keptNow int) int {
	grown := min(last*4, maxChunk)
	if limit == 0 || keptNow == 0 {
		return grown
	}
	need := limit + 1 - held
	guess := need * seen / kept
	return max(1, min(grown, guess+guess/2+2))
}

// Keyed is a document with its key after the page's prefix.
type Keyed[T any] struct {
	Key   string
	Value T
}

// ListKeyed is List for documents whose key says what they are (a role's
// name): keep sees the key after the page's prefix, and so do the items.
func ListKeyed[T any](ctx context.Context, tx Reader, table string, page Page, keep func(key string, v *T) bool) (items []Keyed[T], next string, err error) {
	items = []Keyed[T]{}
	next, err = list(ctx, tx, table, page, keep, func(key string, v T) int {
		items = append(items, Keyed[T]{Key: key, Value: v})
		return len(items)
	})
	return items, next, err
}

// list pages through a table for List and ListKeyed: keep filters, add
// takes an item and says how many the page holds.
func list[T any](ctx context.Context, tx Reader, table string, page Page, keep func(key string, v *T) bool, add func(key string, v T) int) (next string, err error) {
	held := 0
	chunk := Page{Prefix: page.Prefix, After: page.After, Limit: page.Limit + 1}
	if page.Limit == 0 {
		chunk.Limit = 0
	}
	var returned string // key of the last item returned, across chunks
	for {
		scanned, more := 0, false
		err := tx.Scan(ctx, table, chunk, func(key string, doc []byte) error {
			scanned++
			chunk.After = key
			var v T
			if err := json.Unmarshal(doc, &v); err != nil {
				return err
			}
			if keep != nil && !keep(key[len(page.Prefix):], &v) {
				return nil
			}
			if page.Limit > 0 && held == page.Limit {
				more = true
				return errStop
			}
			held = add(key[len(page.Prefix):], v)
			returned = key
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return "", err
		}
		if more {
			return returned[len(page.Prefix):], nil
		}
		if chunk.Limit == 0 || scanned < chunk.Limit {
			return "", nil
		}
		// The filter kept too few to fill the page: read further in
		// larger chunks, so that a page found far into a table costs a
		// few reads, not one per page's worth of rows (on PostgreSQL,
		// each read is a round trip).
		chunk.Limit = min(chunk.Limit*4, maxChunk)
	}
}

// maxChunk is the most rows a List reads at once.
const maxChunk = 4096

var errStop = errors.New("stop")
