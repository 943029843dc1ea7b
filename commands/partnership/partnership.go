// Package partnership holds the partnership use cases: asking another
// account to partner, answering, withdrawing, ending, and sharing devices
// with the partner.
package partnership

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
)

// Request asks the account with a short organization name to partner:
// Type is what that account is to the caller's, OwnType what the caller's
// is to it (empty: the counterpart of Type).
type Request struct {
	Meta         commands.Meta
	Organization string
	Type         string
	OwnType      string
	Notify       []string
	Message      string
}

// Decision is what a partner does to a partnership.
type Decision int

const (
	Approve Decision = iota + 1
	Decline
	Withdraw
	End
)

// Decide approves, declines, withdraws or ends the partnership with the
// account of a short organization name.
type Decide struct {
	Meta         commands.Meta
	Organization string
	Decision     Decision
}

// Share lends devices of the caller's account to a partner; Unshare takes
// them back.
type Share struct {
	Meta         commands.Meta
	Organization string
	Devices      []device.ID
}

// Unshare takes shared devices back from a partner.
type Unshare Share

// Release takes a device its owner deleted back from one partner, out of
// the partner's projects: the deletion's consequence in a partnership,
// which the Releaser sends on behalf of whoever deleted the device.
type Release struct {
	Meta    commands.Meta
	Partner domain.AccountID
	Device  device.ID
}

// Handlers are the partnership use cases.
type Handlers struct {
	Request commands.Handler[Request]
	Decide  commands.Handler[Decide]
	Share   commands.Handler[Share]
	Unshare commands.Handler[Unshare]
	Release commands.Handler[Release]
}

// New builds the handlers on repo, decorated. A request's notices count
// against its caller's mail quota (nil: none).
func New(repo commands.Repo, log *slog.Logger, mails *commands.MailQuota) Handlers {
	u := useCases{repo, mails}
	return Handlers{
		Request: commands.Decorate(u.request, log, "RequestPartner", repo.Metrics),
		Decide:  commands.Decorate(u.decide, log, "DecidePartnership", repo.Metrics),
		Share:   commands.Decorate(u.share, log, "ShareDevices", repo.Metrics),
		Unshare: commands.Decorate(u.unshare, log, "UnshareDevices", repo.Metrics),
		Release: commands.Decorate(u.release, log, "ReleaseDeletedDevice", repo.Metrics),
	}
}

type useCases struct {
	repo  commands.Repo
	mails *commands.MailQuota
}

func (u useCases) request(ctx context.Context, c Request) (commands.Result, error) {
	typ, err := partnership.ParseType(c.Type)
	if err != nil {
		return commands.Result{}, err
	}
	var own partnership.Type
	if c.OwnType != "" {
		if own, err = partnership.ParseType(c.OwnType); err != nil {
			return commands.Result{}, err
		}
	}
	notify, err := domain.ParseUsers("notify", c.Notify)
	if err != nil {
		return commands.Result{}, err
	}
	took := false
	res, err := u.change(ctx, c.Meta, c.Organization, func(p *partnership.Partnership, by domain.Member, partner domain.AccountID) error {
		if err := p.Request(by, partner, typ, own, notify, c.Message); err != nil {
			return err
		}
		err := u.mails.Take(c.Meta.Caller, len(notify), c.Meta.Time)
		took = err == nil
		return err
	})
	if err != nil && took {
		u.mails.Give(c.Meta.Caller, len(notify), c.Meta.Time)
	}
	return res, err
}

func (u useCases) decide(ctx context.Context, c Decide) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Organization, func(p *partnership.Partnership, by domain.Member, _ domain.AccountID) error {
		switch c.Decision {
		case Approve:
			return p.Approve(by)
		case Decline:
			return p.Decline(by)
		case Withdraw:
			return p.Withdraw(by)
		case End:
			return p.End(by)
		}
		return domain.Invalidf("invalid-decision", "unknown decision %d", c.Decision)
	})
}

func (u useCases) share(ctx context.Context, c Share) (commands.Result, error) {
	var owned []partnership.Owned
	for _, id := range c.Devices {
		l, d, err := commands.LoadState(ctx, u.repo, device.Stream(id), commands.Meta{}, device.Empty)
		if err != nil {
			return commands.Result{}, err
		}
		if !l.Exists() || d.Owner() != c.Meta.Caller.Account || d.Deleted() {
			// Another account's device is reported as unknown: sharing
			// must not reveal which devices other accounts have.
			return commands.Result{}, device.ErrUnknownDevice.Withf("account %s has no device %s to share", c.Meta.Caller.Account, id)
		}
		owned = append(owned, partnership.Owned{ID: d.ID(), Owner: d.Owner()})
	}
	return u.change(ctx, c.Meta, c.Organization, func(p *partnership.Partnership, by domain.Member, _ domain.AccountID) error {
		return p.Share(by, owned)
	})
}

func (u useCases) unshare(ctx context.Context, c Unshare) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Organization, func(p *partnership.Partnership, by domain.Member, _ domain.AccountID) error {
		return p.Unshare(by, c.Devices)
	})
}

// release is decided on the device's stream (it must be deleted, by its
// owner, the caller's account) and recorded on the partnership; the
// deletion is final, so that read cannot be stale.
func (u useCases) release(ctx context.Context, c Release) (commands.Result, error) {
	owner := c.Meta.Caller.Account
	_, d, err := commands.LoadState(ctx, u.repo, device.Stream(c.Device), commands.Meta{}, device.Empty)
	if err != nil {
		return commands.Result{}, err
	}
	if !d.Deleted() || d.Owner() != owner {
		return commands.Result{}, device.ErrUnknownDevice.Withf("account %s has no deleted device %s to release", owner, c.Device)
	}
	empty := func() *partnership.Partnership { return partnership.New(owner, c.Partner) }
	return commands.Change(ctx, u.repo, partnership.Stream(owner, c.Partner), c.Meta, empty, "", func(_ *commands.Loaded, p *partnership.Partnership) (any, error) {
		p.Release(owner, c.Device)
		return nil, nil
	})
}

// change checks the caller, finds the partner account by its short
// organization name, loads the partnership of the two, decides and saves.
func (u useCases) change(ctx context.Context, m commands.Meta, organization string, decide func(*partnership.Partnership, domain.Member, domain.AccountID) error) (commands.Result, error) {
	_, by, err := u.repo.Member(ctx, m)
	if err != nil {
		return commands.Result{}, err
	}
	partner, err := u.repo.Account(ctx, organization)
	if err != nil {
		return commands.Result{}, err
	}
	if partner.ID() == by.Account {
		return commands.Result{}, partnership.ErrSelf
	}
	empty := func() *partnership.Partnership { return partnership.New(by.Account, partner.ID()) }
	id := string(partnership.IDOf(by.Account, partner.ID()))
	return commands.Change(ctx, u.repo, partnership.Stream(by.Account, partner.ID()), m, empty, id, func(_ *commands.Loaded, p *partnership.Partnership) (any, error) {
		return nil, decide(p, by, partner.ID())
	})
}

// Routes mounts the partnership commands.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	r.Post("/v1/partners", commands.Serve(h.Request, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Request, error) {
		var b struct {
			Organization string   `json:"organization"`
			Type         string   `json:"type"`
			OwnType      string   `json:"ownType"`
			Notify       []string `json:"notify"`
			Message      string   `json:"message"`
		}
		err := httpapi.Decode(w, r, &b)
		return Request{Meta: m, Organization: b.Organization, Type: b.Type, OwnType: b.OwnType, Notify: b.Notify, Message: b.Message}, err
	}))
	for path, d := range map[string]Decision{"approve": Approve, "decline": Decline, "withdraw": Withdraw, "end": End} {
		r.Post("/v1/partners/{organization}/"+path, commands.Serve(h.Decide, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (Decide, error) {
			return Decide{Meta: m, Organization: chi.URLParam(r, "organization"), Decision: d}, nil
		}))
	}
	devices := func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Share, error) {
		var b struct {
			Devices []string `json:"devices"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return Share{}, err
		}
		ids, err := device.ParseIDs(b.Devices)
		return Share{Meta: m, Organization: chi.URLParam(r, "organization"), Devices: ids}, err
	}
	r.Post("/v1/partners/{organization}/devices", commands.Serve(h.Share, now, false, devices))
	r.Post("/v1/partners/{organization}/unshare", commands.Serve(h.Unshare, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Unshare, error) {
		s, err := devices(w, r, m)
		return Unshare(s), err
	}))
}
