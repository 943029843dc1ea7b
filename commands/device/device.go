// Package device holds the device use cases: registering a device, putting
// it into projects, sending it designs and starting its base-station
// service. The same commands work on a device a partner shares: they then
// change the partnership, where the partner's use of the device lives.
package device

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
)

// Register records a new device of the caller's account.
type Register struct {
	Meta        commands.Meta
	Serial      string
	Name        string
	Model       string
	Credentials string
}

// Assign puts a device (own or shared with the caller) into a project.
type Assign struct {
	Meta    commands.Meta
	Device  device.ID
	Project account.ProjectID
}

// Unassign takes a device out of a project.
type Unassign Assign

// SendDesign transfers a design to a device in a project.
type SendDesign struct {
	Meta    commands.Meta
	Device  device.ID
	Project account.ProjectID
	Design  string
}

// StartBaseStation starts the Internet Base Station Service on a device.
type StartBaseStation Assign

// Delete deletes a device of the caller's account: it leaves the owner's
// projects at once, and the partnerships that share it release it right
// after (partnership.Releaser).
type Delete struct {
	Meta   commands.Meta
	Device device.ID
}

// Handlers are the device use cases.
type Handlers struct {
	Register         commands.Handler[Register]
	Assign           commands.Handler[Assign]
	Unassign         commands.Handler[Unassign]
	SendDesign       commands.Handler[SendDesign]
	StartBaseStation commands.Handler[StartBaseStation]
	Delete           commands.Handler[Delete]
}

// New builds the handlers on repo, decorated.
func New(repo commands.Repo, log *slog.Logger) Handlers {
	u := useCases{repo}
	return Handlers{
		Register:         commands.Decorate(u.register, log, "RegisterDevice", repo.Metrics),
		Assign:           commands.Decorate(u.assign, log, "AssignDevice", repo.Metrics),
		Unassign:         commands.Decorate(u.unassign, log, "UnassignDevice", repo.Metrics),
		SendDesign:       commands.Decorate(u.sendDesign, log, "SendDesign", repo.Metrics),
		StartBaseStation: commands.Decorate(u.startBaseStation, log, "StartBaseStation", repo.Metrics),
		Delete:           commands.Decorate(u.delete, log, "DeleteDevice", repo.Metrics),
	}
}

type useCases struct{ repo commands.Repo }

func (u useCases) register(ctx context.Context, c Register) (commands.Result, error) {
	id := commands.NewID(c.Meta.CommandID, "device")
	_, by, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	return commands.Create(ctx, u.repo, device.Stream(device.ID(id)), c.Meta, id, device.ErrDeviceRegistered, func() ([]domain.Event, error) {
		d, err := device.Register(by, device.ID(id), c.Serial, c.Name, c.Model, c.Credentials)
		if err != nil {
			return nil, err
		}
		return d.Changes(), nil
	})
}

func (u useCases) assign(ctx context.Context, c Assign) (commands.Result, error) {
	return u.use(ctx, c.Meta, c.Device,
		func(d *device.Device, acc *account.Account, by domain.Member) error {
			return d.Assign(by, acc, c.Project)
		},
		func(p *partnership.Partnership, acc *account.Account, by domain.Member) error {
			return p.Assign(by, acc, c.Device, c.Project)
		})
}

func (u useCases) unassign(ctx context.Context, c Unassign) (commands.Result, error) {
	return u.use(ctx, c.Meta, c.Device,
		func(d *device.Device, _ *account.Account, by domain.Member) error { return d.Unassign(by, c.Project) },
		func(p *partnership.Partnership, _ *account.Account, by domain.Member) error {
			return p.Unassign(by, c.Device, c.Project)
		})
}

func (u useCases) sendDesign(ctx context.Context, c SendDesign) (commands.Result, error) {
	_, by, owner, err := u.whose(ctx, c.Meta, c.Device)
	if err != nil {
		return commands.Result{}, err
	}
	if owner == by.Account {
		return commands.Change(ctx, u.repo, device.Stream(c.Device), c.Meta, device.Empty, "", func(_ *commands.Loaded, d *device.Device) (any, error) {
			return nil, d.SendDesign(by, c.Project, c.Design)
		})
	}
	// Decided on the partnership, recorded in the transfers of this
	// device: designs sent by many clients of a pair do not contend.
	return commands.Guarded(ctx, u.repo, partnership.Stream(by.Account, owner), partnership.TransferStream(by.Account, owner, c.Device),
		c.Meta, partnershipOf(by.Account, owner), "", func(p *partnership.Partnership) (any, error) {
			if !p.IsSharedWith(by.Account, c.Device) {
				return nil, device.ErrUnknownDevice.Withf("no device %s is visible to account %s", c.Device, by.Account)
			}
			return nil, p.SendDesign(by, c.Device, c.Project, c.Design)
		})
}

func (u useCases) startBaseStation(ctx context.Context, c StartBaseStation) (commands.Result, error) {
	return u.use(ctx, c.Meta, c.Device,
		func(d *device.Device, _ *account.Account, by domain.Member) error {
			return d.StartBaseStation(by, c.Project)
		},
		func(p *partnership.Partnership, _ *account.Account, by domain.Member) error {
			return p.StartBaseStation(by, c.Device)
		})
}

func (u useCases) delete(ctx context.Context, c Delete) (commands.Result, error) {
	_, by, err := u.repo.Member(ctx, c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	_, d, err := commands.LoadState(ctx, u.repo, device.Stream(c.Device), commands.Meta{}, device.Empty)
	if err != nil {
		return commands.Result{}, err
	}
	if d.Owner() != by.Account {
		// Another account's device is unknown, unless it is shared with
		// the caller, who sees it and is told whose it is.
		if d.Owner() != "" && !d.Deleted() {
			_, p, err := commands.LoadState(ctx, u.repo, partnership.Stream(by.Account, d.Owner()), commands.Meta{}, partnershipOf(by.Account, d.Owner()))
			if err != nil {
				return commands.Result{}, err
			}
			if p.IsSharedWith(by.Account, c.Device) {
				return commands.Result{}, device.ErrNotOwner.Withf("device %s is shared with account %s; only its owner may delete it", c.Device, by.Account)
			}
		}
		return commands.Result{}, device.ErrUnknownDevice.Withf("no device %s is visible to account %s", c.Device, by.Account)
	}
	// A deletion sent again finds its first outcome before the device,
	// deleted by then, is decided on.
	return commands.Change(ctx, u.repo, device.Stream(c.Device), c.Meta, device.Empty, "", func(_ *commands.Loaded, d *device.Device) (any, error) {
		return nil, d.Delete(by)
	})
}

// use runs a decision on the caller's own device, or on the partnership
// through which the device is shared with the caller. A device the caller
// can neither own nor use is reported as unknown, so that its existence
// does not leak across accounts.
func (u useCases) use(ctx context.Context, m commands.Meta, id device.ID,
	own func(*device.Device, *account.Account, domain.Member) error,
	shared func(*partnership.Partnership, *account.Account, domain.Member) error,
) (commands.Result, error) {
	acc, by, owner, err := u.whose(ctx, m, id)
	if err != nil {
		return commands.Result{}, err
	}
	if owner == by.Account {
		return commands.Change(ctx, u.repo, device.Stream(id), m, device.Empty, "", func(_ *commands.Loaded, d *device.Device) (any, error) {
			return nil, own(d, acc, by)
		})
	}
	return commands.Change(ctx, u.repo, partnership.Stream(by.Account, owner), m, partnershipOf(by.Account, owner), "", func(_ *commands.Loaded, p *partnership.Partnership) (any, error) {
		if !p.IsSharedWith(by.Account, id) {
			return nil, device.ErrUnknownDevice.Withf("no device %s is visible to account %s", id, by.Account)
		}
		return nil, shared(p, acc, by)
	})
}

// whose loads the caller and the owner of a device the caller names. Who
// owns the device decides which stream the command changes; an owner never
// changes, so this read needs no lock.
func (u useCases) whose(ctx context.Context, m commands.Meta, id device.ID) (*account.Account, domain.Member, domain.AccountID, error) {
	acc, by, err := u.repo.Member(ctx, m)
	if err != nil {
		return nil, by, "", err
	}
	dl, d, err := commands.LoadState(ctx, u.repo, device.Stream(id), commands.Meta{}, device.Empty)
	if err != nil {
		return nil, by, "", err
	}
	if !dl.Exists() || d.Deleted() {
		// A deleted device is gone for its partners at once, even before
		// their partnership has released it.
		return nil, by, "", device.ErrUnknownDevice.Withf("no device %s is visible to account %s", id, by.Account)
	}
	return acc, by, d.Owner(), nil
}

func partnershipOf(a, b domain.AccountID) func() *partnership.Partnership {
	return func() *partnership.Partnership { return partnership.New(a, b) }
}

// Routes mounts the device commands.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	r.Post("/v1/devices", commands.Serve(h.Register, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Register, error) {
		var b struct {
			Serial      string `json:"serial"`
			Name        string `json:"name"`
			Model       string `json:"model"`
			Credentials string `json:"credentials"`
		}
		err := httpapi.Decode(w, r, &b)
		return Register{Meta: m, Serial: b.Serial, Name: b.Name, Model: b.Model, Credentials: b.Credentials}, err
	}))
	r.Delete("/v1/devices/{device}", commands.Serve(h.Delete, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (Delete, error) {
		d, err := device.ParseID(chi.URLParam(r, "device"))
		return Delete{Meta: m, Device: d}, err
	}))
	r.Post("/v1/devices/{device}/projects", commands.Serve(h.Assign, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Assign, error) {
		var b struct {
			Project string `json:"project"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return Assign{}, err
		}
		return parseUse(r, m, b.Project)
	}))
	r.Delete("/v1/devices/{device}/projects/{project}", commands.Serve(h.Unassign, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (Unassign, error) {
		a, err := parseUse(r, m, chi.URLParam(r, "project"))
		return Unassign(a), err
	}))
	r.Post("/v1/devices/{device}/designs", commands.Serve(h.SendDesign, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (SendDesign, error) {
		var b struct {
			Project string `json:"project"`
			Design  string `json:"design"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return SendDesign{}, err
		}
		a, err := parseUse(r, m, b.Project)
		return SendDesign{Meta: a.Meta, Device: a.Device, Project: a.Project, Design: b.Design}, err
	}))
	r.Post("/v1/devices/{device}/base-station", commands.Serve(h.StartBaseStation, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (StartBaseStation, error) {
		var b struct {
			Project string `json:"project"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return StartBaseStation{}, err
		}
		a, err := parseUse(r, m, b.Project)
		return StartBaseStation(a), err
	}))
}

// parseUse reads the device of the path and a project.
func parseUse(r *http.Request, m commands.Meta, project string) (Assign, error) {
	d, err := device.ParseID(chi.URLParam(r, "device"))
	if err != nil {
		return Assign{}, err
	}
	p, err := account.ParseProjectID(project)
	return Assign{Meta: m, Device: d, Project: p}, err
}
