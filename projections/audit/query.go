package audit

import (
	"context"
	"slices"

	"github.com/shareledger/shareledger/domain"
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
func (q Query) History(ctx context.Context, kind, id string, acc domain.AccountID, page projections.Page, keep func(*Entry) bool) ([]Entry, string, error) {
	return projections.List(ctx, q.R, Table, projections.Within(Key(kind, id), page), func(e *Entry) bool {
		return slices.Contains(e.Accounts, string(acc)) && (keep == nil || keep(e))
	})
}
