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
	var seen bool
	return q.R.Get(ctx, Seen, SeenKey(Key(kind, id), string(acc)), &seen)
}

// History is a page of the entries of an entity's history that an account
// may see and keep accepts (nil: all), oldest first, after the cursor in
// page.After (an entry's PositionKey), and the cursor of the next page.
//
// It reads the entity's filings a chunk at a time (a row of Filed holds
// one or several, filedRow) and reads the entries of the chunk that the
// account may see at once (one query on PostgreSQL).
func (q Query) History(ctx context.Context, kind, id string, acc domain.AccountID, page projections.Page, keep func(*Entry) bool) ([]Entry, string, error) {
	h := history{q: q, acc: string(acc), prefix: Key(kind, id), after: page.After}
	h.rowsAfter = h.prefix + page.After
	if page.After == "" {
		h.rowsAfter = ""
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
		var at []string
		for _, f := range chunk {
			if slices.Contains(f.Accounts, h.acc) {
				at = append(at, f.At)
			}
		}
		read := make(map[string]*Entry, len(at))
		err := projections.GetMany(ctx, q.R, Entries, at, func(key string, doc []byte) error {
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
		for _, f := range chunk {
			seen++
			e, ok := read[f.At]
			if !ok || !slices.Contains(f.Accounts, h.acc) || (keep != nil && !keep(e)) {
				continue
			}
			kept++
			keptNow++
			if page.Limit > 0 && len(entries) == page.Limit {
				return entries, last, nil
			}
			entries, last = append(entries, *e), f.At
		}
		want = projections.NextChunk(want, page.Limit, len(entries), seen, kept, keptNow)
	}
}

// maxChunk is the most filings a history reads the entries of at once.
const maxChunk = 4096

// history reads an entity's filings in order, the rows of Filed a chunk
// at a time, into a queue.
type history struct {
	q         Query
	acc       string
	prefix    string // the entity's Key
	after     string // the cursor: filings at or before it are passed over
	rowsAfter string // the last row read ("": none yet, from the start)
	done      bool   // the rows have run out
	rows      int    // rows read so far
	read      int    // filings queued so far
	queue     []Filing
}

// fill reads rows until the queue holds n filings or the rows run out.
// The first scan asks for a few rows (one may hold maxPacked filings);
// each later one for as many as the filings still needed take at the
// rate rows have held them so far.
func (h *history) fill(ctx context.Context, n int) error {
	for len(h.queue) < n && !h.done {
		limit := min(n, 16)
		if h.rows > 0 {
			need := n - len(h.queue)
			limit = max(1, min(maxChunk, need*h.rows/max(1, h.read)+1))
		}
		scanned := 0
		err := h.q.R.Scan(ctx, Filed, projections.Page{Prefix: h.prefix, After: h.rowsAfter, Limit: limit}, func(key string, doc []byte) error {
			scanned++
			h.rowsAfter = key
			_, err := unpack(key, doc, func(f Filing) bool {
				if f.At > h.after {
					h.queue = append(h.queue, f)
					h.read++
				}
				return true
			})
			return err
		})
		if err != nil {
			return err
		}
		h.rows += scanned
		if scanned < limit {
			h.done = true
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
