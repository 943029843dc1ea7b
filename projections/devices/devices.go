// Package devices projects each account's My Devices page: its own devices
// and the devices partners share with it, with the sharing badge, the
// accounts actively using each device, its owner and its projects.
package devices

import (
	"context"
	"errors"
	"iter"
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
	// Releases are what partnerships owe deleted devices, for the
	// partnership.Releaser to settle; deleted are all the deleted devices,
	// so that a share racing a deletion is owed a release too.
	Releases = "devices.releases" // device/partner -> Release
	deleted  = "devices.deleted"  // device -> Release (without a partner)
)

// Release is a deleted device that one partnership still shares, with what
// the release carries: who deleted the device, the event that made the
// release owed (the deletion, or a share that raced it; it names the
// release's command) and the deletion's correlation id.
type Release struct {
	Device      device.ID        `json:"device"`
	Owner       domain.AccountID `json:"owner"`
	Partner     domain.AccountID `json:"partner,omitempty"`
	By          domain.UserID    `json:"by"`
	Cause       string           `json:"cause"`
	Correlation string           `json:"correlation,omitempty"`
}

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
	case device.DeviceDeleted:
		return p.deleted(ctx, tx, env, e)
	case partnership.DeviceSharedWithPartner:
		var gone Release
		if found, err := tx.Get(ctx, deleted, projections.KeyPart(string(e.Device)), &gone); err != nil || found {
			// Shared in a race with its deletion: owed a release.
			return errors.Join(err, owe(ctx, tx, gone, e.Partner, env.Record.ID))
		}
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
		if err := released(ctx, tx, e.Device, e.Partner); err != nil {
			return err
		}
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

// deleted takes a deleted device off the pages of its owner and of the
// partners it is shared with (they can no longer use it), and owes each of
// those partnerships a release.
func (Projection) deleted(ctx context.Context, tx projections.Tx, env projections.Envelope, e device.DeviceDeleted) error {
	gone := Release{Device: e.Device, Owner: e.Owner, By: e.By, Cause: env.Record.ID, Correlation: env.Record.Meta.CorrelationID}
	if err := tx.Put(ctx, deleted, projections.KeyPart(string(e.Device)), gone); err != nil {
		return err
	}
	var own Device
	found, err := tx.Get(ctx, Table, Key(e.Owner, e.Device), &own)
	if err != nil || !found {
		return err
	}
	for _, a := range own.ActiveAccounts {
		if err := tx.Delete(ctx, Table, Key(a.ID, e.Device)); err != nil {
			return err
		}
		if err := owe(ctx, tx, gone, a.ID, gone.Cause); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, Table, Key(e.Owner, e.Device))
}

// owe records that the partnership of a deleted device's owner and a
// partner must release it, because of the event cause.
func owe(ctx context.Context, tx projections.Tx, gone Release, partner domain.AccountID, cause string) error {
	gone.Partner, gone.Cause = partner, cause
	return tx.Put(ctx, Releases, projections.Key(string(gone.Device), string(partner)), gone)
}

// released notes that a partnership no longer shares a device: if it was
// deleted, nothing is owed any more.
func released(ctx context.Context, tx projections.Tx, id device.ID, partner domain.AccountID) error {
	return tx.Delete(ctx, Releases, projections.Key(string(id), string(partner)))
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
func (Projection) Tables() []string { return []string{Table, projects, orgs, Releases, deleted} }

var _ projections.Prefetcher = Projection{}

// Prefetch implements projections.Prefetcher: the device pages, account
// names, project names and deletions that applying envs reads.
func (Projection) Prefetch(envs iter.Seq[*projections.Envelope]) []projections.TableKeys {
	var pages, names, projectNames, gone []string
	for env := range envs {
		switch e := env.Event.(type) {
		case device.DeviceRegistered:
			names = append(names, projections.KeyPart(string(e.Owner)))
		case device.DeviceDeleted:
			pages = append(pages, Key(e.Owner, e.Device))
		case partnership.DeviceSharedWithPartner:
			gone = append(gone, projections.KeyPart(string(e.Device)))
			names = append(names, projections.KeyPart(string(e.Partner)))
			pages = append(pages, Key(e.Owner, e.Device))
		case partnership.DeviceUnsharedFromPartner:
			pages = append(pages, Key(e.Owner, e.Device))
		case device.DeviceAssignedToProject:
			projectNames = append(projectNames, projections.Key(string(e.Account), string(e.Project)))
			pages = append(pages, Key(e.Account, e.Device))
		case device.DeviceUnassignedFromProject:
			pages = append(pages, Key(e.Account, e.Device))
		case device.DesignSentToDevice:
			pages = append(pages, Key(e.Account, e.Device))
		case device.BaseStationServiceStarted:
			pages = append(pages, Key(e.Account, e.Device))
		}
	}
	return []projections.TableKeys{{Table: Table, Keys: pages}, {Table: orgs, Keys: names}, {Table: projects, Keys: projectNames}, {Table: deleted, Keys: gone}}
}
