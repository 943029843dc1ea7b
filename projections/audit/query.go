package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// Query reads the audit index: how the read side asks this projection, so
// that its tables and keys stay its own. An account reads only the entries
// it is entitled to (Entry.Accounts).
type Query struct{ R projections.Reader }

// Knows says whether an account may see any of an entity's history: an
// entity of another account and an entity that does not exist are alike
// to it.
func (q Query) Knows(ctx context.Context, kind, id string, acc domain.AccountID) (bool, error) {
	found := false
	err := q.R.Scan(ctx, FiledFor, projections.Page{Prefix: ForKey(Key(kind, id), string(acc)), Limit: 1}, func(string, []byte) error {
		found = true
		return nil
	})
	if found || err != nil {
		return found, err
	}
	return q.legacy(ctx, kind, id, acc)
}

// legacy says whether an index built before 2026-12-03 (third) holds some
// of the entity's history for the account in Filed (a mark in Seen).
func (q Query) legacy(ctx context.Context, kind, id string, acc domain.AccountID) (bool, error) {
	var seen bool
	return q.R.Get(ctx, Seen, SeenKey(Key(kind, id), string(acc)), &seen)
}

// SeenKey is the key in Seen of an entity (its Key) for an account.
func SeenKey(entity, account string) string { return entity + projections.KeyPart(account) }

// History is a page of the entries of an entity's history that an account
// may see and keep accepts (nil: all), oldest first, after the cursor in
// page.After (an entry's PositionKey), and the cursor of the next page.
//
// It reads the account's filings of the entity a chunk at a time (a row
// of FiledFor holds one or several) and their entries at once (one query
// on PostgreSQL). In an index built before 2026-12-03 (third), the
// filings in Filed that the account may see come first: they are all
// older than those in FiledFor.
func (q Query) History(ctx context.Context, kind, id string, acc domain.AccountID, page projections.Page, keep func(*Entry) bool) ([]Entry, string, error) {
	h := history{q: q, acc: string(acc), after: page.After}
	legacy, err := q.legacy(ctx, kind, id, acc)
	if err != nil {
		return nil, "", err
	}
	if legacy {
		h.sources = append(h.sources, &source{table: Filed, prefix: Key(kind, id)})
	}
	h.sources = append(h.sources, &source{table: FiledFor, prefix: ForKey(Key(kind, id), string(acc))})
	for _, s := range h.sources {
		if page.After != "" {
			s.rowsAfter = s.prefix + page.After
		}
	}
	entries := []Entry{}
	want := page.Limit + 1 // the page and the filing that says a next exists
	if page.Limit == 0 {
		want = maxChunk
	}
	seen, kept, last := 0, 0, ""
	for {
		if err := h.fill(ctx, want); err != nil {
			return nil, "", err
		}
		chunk := h.queue[:min(want, len(h.queue))]
		h.queue = h.queue[len(chunk):]
		if len(chunk) == 0 {
			return entries, "", nil
		}
		read := make(map[string]*Entry, len(chunk))
		err := projections.GetMany(ctx, q.R, Entries, chunk, func(key string, doc []byte) error {
			var e Entry
			if err := json.Unmarshal(doc, &e); err != nil {
				return fmt.Errorf("audit entry %s: %w", key, err)
			}
			read[key] = &e
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		keptNow := 0
		for _, at := range chunk {
			seen++
			e, ok := read[at]
			if !ok || (keep != nil && !keep(e)) {
				continue
			}
			kept++
			keptNow++
			if page.Limit > 0 && len(entries) == page.Limit {
				return entries, last, nil
			}
			entries, last = append(entries, *e), at
		}
		want = projections.NextChunk(want, page.Limit, len(entries), seen, kept, keptNow)
	}
}

// maxChunk is the most filings a history reads the entries of at once.
const maxChunk = 4096

// history reads an account's filings of an entity in order, from each of
// its sources in turn, the rows a chunk at a time, into a queue of their
// entries' keys.
type history struct {
	q       Query
	acc     string
	after   string // the cursor: filings at or before it are passed over
	sources []*source
	queue   []string
}

// source is a table of filings of the entity, read in key order.
type source struct {
	table     string // FiledFor, or Filed (where only the account's filings are kept)
	prefix    string
	rowsAfter string // the last row read ("": none yet, from the start)
	done      bool   // the rows have run out
	rows      int    // rows read so far
	read      int    // filings queued so far
}

// fill reads rows until the queue holds n filings or the rows of every
// source run out. The first scan of a source asks for a few rows (one may
// hold maxPacked filings); each later one for as many as the filings
// still needed take at the rate its rows have held them so far.
func (h *history) fill(ctx context.Context, n int) error {
	for _, s := range h.sources {
		for len(h.queue) < n && !s.done {
			limit := min(n, 16)
			if s.rows > 0 {
				need := n - len(h.queue)
				limit = max(1, min(maxChunk, need*s.rows/max(1, s.read)+1))
			}
			scanned := 0
			err := h.q.R.Scan(ctx, s.table, projections.Page{Prefix: s.prefix, After: s.rowsAfter, Limit: limit}, func(key string, doc []byte) error {
				scanned++
				s.rowsAfter = key
				queue := func(at string) bool {
					if at > h.after {
						h.queue = append(h.queue, at)
						s.read++
					}
					return true
				}
				if s.table == FiledFor {
					_, err := unpackFor(key, doc, queue)
					return err
				}
				_, err := unpack(key, doc, func(f Filing) bool {
					return !slices.Contains(f.Accounts, h.acc) || queue(f.At)
				})
				return err
			})
			if err != nil {
				return err
			}
			s.rows += scanned
			if scanned < limit {
				s.done = true
			}
		}
		if len(h.queue) >= n {
			return nil
		}
	}
	return nil
}

// Feed is the entries of an entity's history that an account may see and
// keep accepts, in log order, after position after, at most limit: how a
// change feed pages through an account's events (kind "account") or one
// entity's.
func (q Query) Feed(ctx context.Context, kind, id string, acc domain.AccountID, after eventstore.Position, limit int, keep func(*Entry) bool) ([]Entry, error) {
	page := projections.Page{Limit: limit}
	if !after.IsZero() {
		page.After = PositionKey(after)
	}
	entries, _, err := q.History(ctx, kind, id, acc, page, keep)
	return entries, err
}

// PositionKey is the part of an entry's key that orders it: its position,
// as fmt's "%020d.%020d" writes it (written by hand: it is made for every
// event the index is given).
func PositionKey(p eventstore.Position) string {
	var b [positionKeyLen]byte
	return string(appendPositionKey(b[:0], p))
}

// positionKeyLen is the length of a PositionKey.
const positionKeyLen = 41

// appendPositionKey appends p's PositionKey to b.
func appendPositionKey(b []byte, p eventstore.Position) []byte {
	n := len(b)
	b = append(b, make([]byte, positionKeyLen)...)
	padded(b[n:n+20], p.Commit)
	b[n+20] = '.'
	padded(b[n+21:], p.Prepare)
	return b
}

// padded writes n's decimal digits at the end of b, and zeros before them.
func padded(b []byte, n uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}
