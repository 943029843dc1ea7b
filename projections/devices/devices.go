// Package devices projects each account's My Devices page: its own devices
// and the devices partners share with it, with the sharing badge, the
// accounts actively using each device, its owner and its projects.
package devices

import (
	"context"
	"slices"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/projections"
)

// Tables the projection owns.
const (
	Table    = "devices.mine"     // account/device -> Device
	projects = "devices.projects" // account/project -> name
	orgs     = "devices.orgs"     // account -> organization
)

// AccountRef names an account.
type AccountRef struct {
	ID           domain.AccountID `json:"id"`
	Organization string           `json:"organization"`
}

// ProjectRef names a project.
type ProjectRef struct {
	ID   account.ProjectID `json:"id"`
	Name string            `json:"name"`
}

// Transfer is the last data transfer to a device in this account.
type Transfer struct {
	Design  string            `json:"design"`
	Project account.ProjectID `json:"project"`
	By      domain.UserID     `json:"by"`
	At      time.Time         `json:"at"`
}

// Device is one row of an account's My Devices page.
type Device struct {
	ID     device.ID `json:"id"`
	Serial string    `json:"serial"`
	Name   string    `json:"name"`
	Model  string    `json:"model,omitempty"`
	// Source is "own" or "shared-in".
	Source string     `json:"source"`
	Owner  AccountRef `json:"owner"`
	// Shared is the sharing badge: shared with a partner (own devices) or
	// shared by one (shared-in devices).
	Shared bool `json:"shared"`
	// ActiveAccounts are the accounts using the device: for an owner, the
	// partners it is shared with; for a partner, itself.
	ActiveAccounts []AccountRef `json:"activeAccounts"`
	// Credentials stay the owner's: only the owner's page shows them, and
	// CredentialsOwner says whose they are on every page.
	Credentials      string       `json:"credentials,omitempty"`
	CredentialsOwner AccountRef   `json:"credentialsOwner"`
	Projects         []ProjectRef `json:"projects"`
	LastTransfer     *Transfer    `json:"lastTransfer,omitempty"`
	BaseStation      *ProjectRef  `json:"baseStation,omitempty"`
}

// Key is a device's key in Table.
func Key(acc domain.AccountID, d device.ID) string {
	return projections.Key(string(acc), string(d))
}

// Projection maintains My Devices.
type Projection struct{}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "devices"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Apply implements projections.Projection.
func (p Projection) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	switch e := env.Event.(type) {
	case account.AccountOpened:
		return tx.Put(ctx, orgs, projections.KeyPart(string(e.Account)), e.Organization)
	case account.ProjectCreated:
		return tx.Put(ctx, projects, projections.Key(string(e.Account), string(e.Project)), e.Name)
	case device.DeviceRegistered:
		owner, err := ref(ctx, tx, e.Owner)
		if err != nil {
			return err
		}
		return tx.Put(ctx, Table, Key(e.Owner, e.Device), Device{
			ID: e.Device, Serial: e.Serial, Name: e.Name, Model: e.Model, Source: "own", Owner: owner,
			ActiveAccounts: []AccountRef{}, Credentials: e.Credentials, CredentialsOwner: owner, Projects: []ProjectRef{},
		})
	case partnership.DeviceSharedWithPartner:
		partner, err := ref(ctx, tx, e.Partner)
		if err != nil {
			return err
		}
		var own Device
		if err := update(ctx, tx, e.Owner, e.Device, func(d *Device) {
			own = *d
			d.Shared = true
			if !slices.ContainsFunc(d.ActiveAccounts, func(a AccountRef) bool { return a.ID == e.Partner }) {
				d.ActiveAccounts = append(d.ActiveAccounts, partner)
			}
		}); err != nil {
			return err
		}
		return tx.Put(ctx, Table, Key(e.Partner, e.Device), Device{
			ID: own.ID, Serial: own.Serial, Name: own.Name, Model: own.Model, Source: "shared-in", Owner: own.Owner,
			Shared: true, ActiveAccounts: []AccountRef{partner}, CredentialsOwner: own.Owner, Projects: []ProjectRef{},
		})
	case partnership.DeviceUnsharedFromPartner:
		if err := update(ctx, tx, e.Owner, e.Device, func(d *Device) {
			d.ActiveAccounts = slices.DeleteFunc(d.ActiveAccounts, func(a AccountRef) bool { return a.ID == e.Partner })
			d.Shared = len(d.ActiveAccounts) > 0
		}); err != nil {
			return err
		}
		return tx.Delete(ctx, Table, Key(e.Partner, e.Device))
	case device.DeviceAssignedToProject:
		var name string
		if _, err := tx.Get(ctx, projects, projections.Key(string(e.Account), string(e.Project)), &name); err != nil {
			return err
		}
		return update(ctx, tx, e.Account, e.Device, func(d *Device) {
			if !slices.ContainsFunc(d.Projects, func(p ProjectRef) bool { return p.ID == e.Project }) {
				d.Projects = append(d.Projects, ProjectRef{ID: e.Project, Name: name})
			}
		})
	case device.DeviceUnassignedFromProject:
		return update(ctx, tx, e.Account, e.Device, func(d *Device) {
			d.Projects = slices.DeleteFunc(d.Projects, func(p ProjectRef) bool { return p.ID == e.Project })
		})
	case device.DesignSentToDevice:
		return update(ctx, tx, e.Account, e.Device, func(d *Device) {
			d.LastTransfer = &Transfer{Design: e.Design, Project: e.Project, By: e.By, At: env.Record.Meta.Time}
		})
	case device.BaseStationServiceStarted:
		return update(ctx, tx, e.Account, e.Device, func(d *Device) {
			for _, p := range d.Projects {
				if p.ID == e.Project {
					d.BaseStation = &p
				}
			}
		})
	}
	return nil
}

func ref(ctx context.Context, tx projections.Tx, acc domain.AccountID) (AccountRef, error) {
	r := AccountRef{ID: acc}
	_, err := tx.Get(ctx, orgs, projections.KeyPart(string(acc)), &r.Organization)
	return r, err
}

func update(ctx context.Context, tx projections.Tx, acc domain.AccountID, id device.ID, change func(*Device)) error {
	var d Device
	found, err := tx.Get(ctx, Table, Key(acc, id), &d)
	if err != nil {
		return err
	}
	if !found {
		// Commands never record a use of a device the account cannot
		// see, so this is a log written some other way: the event
		// changes nothing here, and the projection goes on.
		return nil
	}
	change(&d)
	return tx.Put(ctx, Table, Key(acc, id), d)
}

// Tables lists the tables the projection owns, for verification.
func (Projection) Tables() []string { return []string{Table, projects, orgs} }
