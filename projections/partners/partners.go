// Package partners projects each account's Partners page: its partnerships
// by state, in which direction each was requested, and who may answer a
// pending request.
package partners

import (
	"context"
	"iter"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/projections"
)

// Tables the projection owns.
const (
	Table = "partners.list" // account/partnership -> Partner
	orgs  = "partners.orgs" // account -> organization
)

// Partner is one row of an account's Partners page.
type Partner struct {
	Partnership  partnership.ID   `json:"partnership"`
	Partner      domain.AccountID `json:"partner"`
	Organization string           `json:"organization"`
	// Type is what the partner is to this account (its rental agency,
	// subcontractor or contractor); OwnType what this account is to it.
	Type    string `json:"type"`
	OwnType string `json:"ownType"`
	State   string `json:"state"`
	// Direction is "sent" when this account asked, "received" otherwise.
	Direction   string          `json:"direction"`
	RequestedBy domain.UserID   `json:"requestedBy"`
	Message     string          `json:"message,omitempty"`
	Notify      []domain.UserID `json:"notify"`
	RequestedAt time.Time       `json:"requestedAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	UpdatedBy   domain.UserID   `json:"updatedBy"`
	// DevicesShared counts this account's devices lent to the partner;
	// DevicesReceived the partner's devices lent to this account.
	DevicesShared   int `json:"devicesShared"`
	DevicesReceived int `json:"devicesReceived"`
}

// Key is a partnership's key in Table for one of its accounts.
func Key(acc domain.AccountID, id partnership.ID) string {
	return projections.Key(string(acc), string(id))
}

// Projection maintains the Partners pages.
type Projection struct{}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "partners"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	at := env.Record.Meta.Time
	switch e := env.Event.(type) {
	case account.AccountOpened:
		return tx.Put(ctx, orgs, projections.KeyPart(string(e.Account)), e.Organization)
	case partnership.PartnerRequested:
		for _, side := range []struct {
			acc, other  domain.AccountID
			dir         string
			theirs, own partnership.Type
		}{{e.Requester, e.Partner, "sent", e.Type, e.RequesterType}, {e.Partner, e.Requester, "received", e.RequesterType, e.Type}} {
			row := Partner{
				Partnership: e.Partnership, Partner: side.other, Type: side.theirs.String(), OwnType: side.own.String(), State: string(partnership.Pending),
				Direction: side.dir, RequestedBy: e.By, Message: e.Message, Notify: e.Notify, RequestedAt: at, UpdatedAt: at, UpdatedBy: e.By,
			}
			if row.Notify == nil {
				row.Notify = []domain.UserID{}
			}
			if _, err := tx.Get(ctx, orgs, projections.KeyPart(string(side.other)), &row.Organization); err != nil {
				return err
			}
			if err := tx.Put(ctx, Table, Key(side.acc, e.Partnership), row); err != nil {
				return err
			}
		}
	case partnership.PartnerApproved:
		return setState(ctx, tx, partnership.PartnerApproved(e), partnership.Approved, at)
	case partnership.PartnerDeclined:
		return setState(ctx, tx, partnership.PartnerApproved(e), partnership.Declined, at)
	case partnership.PartnerRequestWithdrawn:
		return setState(ctx, tx, partnership.PartnerApproved(e), partnership.Withdrawn, at)
	case partnership.PartnershipEnded:
		return setState(ctx, tx, partnership.PartnerApproved(e), partnership.Ended, at)
	case partnership.DeviceSharedWithPartner:
		return count(ctx, tx, e.Partnership, e.Owner, e.Partner, 1)
	case partnership.DeviceUnsharedFromPartner:
		return count(ctx, tx, e.Partnership, e.Owner, e.Partner, -1)
	}
	return nil
}

func setState(ctx context.Context, tx projections.Tx, e partnership.PartnerApproved, s partnership.State, at time.Time) error {
	for _, acc := range []domain.AccountID{e.Requester, e.Partner} {
		if err := change(ctx, tx, acc, e.Partnership, func(p *Partner) {
			p.State, p.UpdatedAt, p.UpdatedBy = string(s), at, e.By
		}); err != nil {
			return err
		}
	}
	return nil
}

func count(ctx context.Context, tx projections.Tx, id partnership.ID, owner, partner domain.AccountID, delta int) error {
	if err := change(ctx, tx, owner, id, func(p *Partner) { p.DevicesShared += delta }); err != nil {
		return err
	}
	return change(ctx, tx, partner, id, func(p *Partner) { p.DevicesReceived += delta })
}

func change(ctx context.Context, tx projections.Tx, acc domain.AccountID, id partnership.ID, fn func(*Partner)) error {
	var p Partner
	found, err := tx.Get(ctx, Table, Key(acc, id), &p)
	if err != nil || !found {
		return err
	}
	fn(&p)
	return tx.Put(ctx, Table, Key(acc, id), p)
}

// Tables lists the tables the projection owns, for verification.
func (Projection) Tables() []string { return []string{Table, orgs} }

var _ projections.Prefetcher = Projection{}

// Prefetch implements projections.Prefetcher: the organizations and both
// sides' rows that applying envs reads.
func (Projection) Prefetch(envs iter.Seq[*projections.Envelope]) []projections.TableKeys {
	var names, rows []string
	both := func(id partnership.ID, a, b domain.AccountID) { rows = append(rows, Key(a, id), Key(b, id)) }
	for env := range envs {
		switch e := env.Event.(type) {
		case partnership.PartnerRequested:
			names = append(names, projections.KeyPart(string(e.Requester)), projections.KeyPart(string(e.Partner)))
		case partnership.PartnerApproved:
			both(e.Partnership, e.Requester, e.Partner)
		case partnership.PartnerDeclined:
			both(e.Partnership, e.Requester, e.Partner)
		case partnership.PartnerRequestWithdrawn:
			both(e.Partnership, e.Requester, e.Partner)
		case partnership.PartnershipEnded:
			both(e.Partnership, e.Requester, e.Partner)
		case partnership.DeviceSharedWithPartner:
			both(e.Partnership, e.Owner, e.Partner)
		case partnership.DeviceUnsharedFromPartner:
			both(e.Partnership, e.Owner, e.Partner)
		}
	}
	return []projections.TableKeys{{Table: orgs, Keys: names}, {Table: Table, Keys: rows}}
}
