package partners

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections"
)

// Query reads the Partners page: how the read side asks this projection,
// so that its tables and keys stay its own.
type Query struct{ R projections.Reader }

// Of is a page of an account's partners in a state ("" for every state),
// after the cursor in page.After, and the cursor of the next page.
func (q Query) Of(ctx context.Context, acc domain.AccountID, state string, page projections.Page) ([]Partner, string, error) {
	page = projections.Within(string(acc)+"/", page)
	return projections.List(ctx, q.R, Table, page, func(p *Partner) bool { return state == "" || p.State == state })
}
