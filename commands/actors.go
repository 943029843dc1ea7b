package commands

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

// Member loads the caller's account and checks that the caller belongs to
// it. Every command starts here: nobody acts for an account they are not in.
func (r Repo) Member(ctx context.Context, m Meta) (*account.Account, domain.Member, error) {
	l, acc, err := LoadState(ctx, r, account.Stream(m.Caller.Account), Meta{}, account.Empty)
	if err != nil {
		return nil, domain.Member{}, err
	}
	if !l.Exists() {
		return nil, domain.Member{}, account.ErrNotMember.Withf("account %s does not exist; open it first", m.Caller.Account)
	}
	member, err := acc.Member(m.Caller.User)
	return acc, member, err
}

// Account loads another account by its short organization name.
func (r Repo) Account(ctx context.Context, organization string) (*account.Account, error) {
	id, err := domain.ParseOrganization(organization)
	if err != nil {
		return nil, err
	}
	l, acc, err := LoadState(ctx, r, account.Stream(id), Meta{}, account.Empty)
	if err != nil {
		return nil, err
	}
	if !l.Exists() {
		return nil, account.ErrAccountNotFound.Withf("no account has the short organization name %q", organization)
	}
	return acc, nil
}
