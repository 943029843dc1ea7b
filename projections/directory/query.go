package directory

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/projections"
)

// Query reads the directory: how the read side asks this projection, so
// that its tables and keys stay its own.
type Query struct{ R projections.Reader }

// User is a user of an account, if they belong to it.
func (q Query) User(ctx context.Context, acc domain.AccountID, u domain.UserID) (User, bool, error) {
	var out User
	found, err := q.R.Get(ctx, Users, UserKey(acc, u), &out)
	return out, found, err
}

// Account is an account's public face, if it was opened.
func (q Query) Account(ctx context.Context, acc domain.AccountID) (Account, bool, error) {
	var out Account
	found, err := q.R.Get(ctx, Accounts, projections.KeyPart(string(acc)), &out)
	return out, found, err
}

// Users is a page of an account's users, after the cursor in page.After,
// and the cursor of the next page.
func (q Query) Users(ctx context.Context, acc domain.AccountID, page projections.Page) ([]User, string, error) {
	return projections.List[User](ctx, q.R, Users, projections.Within(string(acc)+"/", page), nil)
}

// Projects is a page of an account's projects.
func (q Query) Projects(ctx context.Context, acc domain.AccountID, page projections.Page) ([]Project, string, error) {
	return projections.List[Project](ctx, q.R, Projects, projections.Within(string(acc)+"/", page), nil)
}

// AccountsOf is a page of the accounts a person acts for.
func (q Query) AccountsOf(ctx context.Context, u domain.UserID, page projections.Page) ([]Membership, string, error) {
	return projections.List[Membership](ctx, q.R, Memberships, projections.Within(projections.KeyPart(string(u))+"/", page), nil)
}
