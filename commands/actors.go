package commands

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/partnership"
)

// AccountStream is the stream of an account.
func AccountStream(id domain.AccountID) string { return "account-" + string(id) }

// Member loads the caller's account and checks that the caller belongs to
// it. Every command starts here: nobody acts for an account they are not in.
func (r Repo) Member(ctx context.Context, m Meta) (*account.Account, domain.Member, error) {
	l, err := r.Load(ctx, AccountStream(m.Caller.Account))
	if err != nil {
		return nil, domain.Member{}, err
	}
	acc := account.FromHistory(l.History)
	if acc == nil {
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
	l, err := r.Load(ctx, AccountStream(id))
	if err != nil {
		return nil, err
	}
	acc := account.FromHistory(l.History)
	if acc == nil {
		return nil, account.ErrAccountNotFound.Withf("no account has the short organization name %q", organization)
	}
	return acc, nil
}

// DeviceStream is the stream of a device.
func DeviceStream(id string) string { return "device-" + id }

// PartnershipStream is the stream of the partnership of two accounts.
func PartnershipStream(a, b domain.AccountID) string {
	return "partnership-" + string(partnership.IDOf(a, b))
}

// AccessStream is the stream of an account's roles and direct rights.
func AccessStream(acc domain.AccountID) string { return "access-" + string(acc) }

// HierarchyStream is the stream of an account's hierarchy.
func HierarchyStream(acc domain.AccountID) string { return "hierarchy-" + string(acc) }

// CollectionStream is the stream of a fleet, team, category or report.
func CollectionStream(id string) string { return "collection-" + id }

// CloudProjectStream is the stream of a cloud project.
func CloudProjectStream(id string) string { return "cloudproject-" + id }

// IdentityStream is the stream of a person's identity.
func IdentityStream(u domain.UserID) string { return "identity-" + string(u) }
