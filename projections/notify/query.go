package notify

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections"
)

// Query reads the outbox: how the read side asks this projection, so that
// its tables and keys stay its own.
type Query struct{ R projections.Reader }

// Outbox is a page of the mail an account's commands caused, oldest first,
// after the cursor in page.After, and the cursor of the next page.
func (q Query) Outbox(ctx context.Context, acc domain.AccountID, page projections.Page) ([]Notification, string, error) {
	return projections.List[Notification](ctx, q.R, Table, projections.Within(string(acc)+"/", page), nil)
}
