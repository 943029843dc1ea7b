package readapi

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	devicedomain "github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/projections/partners"
)

// The device-sharing surface: My Devices, one device, the Partners page,
// and the mail the account's commands caused.
func (a *API) sharingRoutes(r chi.Router) {
	r.Get("/v1/devices", a.serve([]string{devices.Name}, a.myDevices))
	r.Get("/v1/devices/{device}", a.serve([]string{devices.Name}, a.oneDevice))
	r.Get("/v1/partners", a.serve([]string{partners.Name}, a.partnersPage))
	r.Get("/v1/notifications", a.serve([]string{notify.Name}, a.outbox))
}

func (a *API) myDevices(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	source, err := filter(r, "source", "own", "shared-in")
	if err != nil {
		return nil, err
	}
	items, next, err := devices.Query{R: tx}.Mine(ctx, caller.Account, source, page)
	return Page[devices.Device]{Items: items, Next: next}, err
}

func (a *API) oneDevice(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	d, found, err := devices.Query{R: tx}.One(ctx, caller.Account, devicedomain.ID(chi.URLParam(r, "device")))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound.Withf("no device %s is visible to account %s", chi.URLParam(r, "device"), caller.Account)
	}
	return d, nil
}

func (a *API) partnersPage(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	state, err := filter(r, "state", "pending", "approved", "declined", "withdrawn", "ended")
	if err != nil {
		return nil, err
	}
	rows, next, err := partners.Query{R: tx}.Of(ctx, caller.Account, state, page)
	if err != nil {
		return nil, err
	}
	out := Page[Partner]{Items: make([]Partner, 0, len(rows)), Next: next}
	for _, p := range rows {
		by := domain.Member{User: caller.User, Account: caller.Account, Admin: caller.Role == account.Administrator.String()}
		can := p.State == "pending" && p.Direction == "received" && partnership.MayAnswer(p.Notify, by)
		out.Items = append(out.Items, Partner{Partner: p, CanApprove: can})
	}
	return out, nil
}

func (a *API) outbox(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	items, next, err := notify.Query{R: tx}.Outbox(ctx, caller.Account, page)
	return Page[notify.Notification]{Items: items, Next: next}, err
}
