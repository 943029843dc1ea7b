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
// page.After, and the cursor of the next page.
//
// It scans the entity's filings a chunk at a time and reads the entries of
// the chunk that the account may see at once (one query on PostgreSQL).
func (q Query) History(ctx context.Context, kind, id string, acc domain.AccountID, page projections.Page, keep func(*Entry) bool) ([]Entry, string, error) {
	var (
		chunk   map[string]*Entry // the entries of the chunk of filings at hand
		kept    = map[string]*Entry{}
		readErr error
	)
	filings, next, err := projections.ListAhead(ctx, q.R, Filed, projections.Within(Key(kind, id), page), func(rows []Filing) {
		chunk = make(map[string]*Entry, len(rows))
		var at []string
		for _, f := range rows {
			if slices.Contains(f.Accounts, string(acc)) {
				at = append(at, f.At)
			}
		}
		if readErr != nil {
			return
		}
		readErr = projections.GetMany(ctx, q.R, Entries, at, func(key string, doc []byte) error {
			var e Entry
			if err := json.Unmarshal(doc, &e); err != nil {
				return fmt.Errorf("audit entry %s: %w", key, err)
			}
			chunk[key] = &e
			return nil
		})
	}, func(f *Filing) bool {
		e, ok := chunk[f.At]
		if !ok || !slices.Contains(f.Accounts, string(acc)) || (keep != nil && !keep(e)) {
			return false
		}
		kept[f.At] = e
		return true
	})
	if err == nil {
		err = readErr
	}
	if err != nil {
		return nil, "", err
	}
	entries := make([]Entry, len(filings))
	for i, f := range filings {
		entries[i] = *kept[f.At]
	}
	return entries, next, nil
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
	var b [41]byte
	padded(b[:20], p.Commit)
	b[20] = '.'
	padded(b[21:], p.Prepare)
	return string(b[:])
}

// padded writes n's decimal digits at the end of b, and zeros before them.
func padded(b []byte, n uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}
