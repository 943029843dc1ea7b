// Package device holds the rules of devices: who owns one, which of an
// account's projects it works in, and what may be sent to it there.
package device

import (
	"slices"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

// ID identifies a device.
type ID string

// ParseID reads a device's id.
func ParseID(s string) (ID, error) {
	id, err := domain.ParseID("device", s)
	return ID(id), err
}

// ParseIDs reads the ids of at most domain.MaxList devices.
func ParseIDs(ids []string) ([]ID, error) {
	if len(ids) > domain.MaxList {
		return nil, domain.Invalidf("invalid-devices", "name at most %d devices at once", domain.MaxList)
	}
	out := make([]ID, len(ids))
	for i, s := range ids {
		var err error
		if out[i], err = ParseID(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var (
	ErrNotOwner         = domain.NewError(domain.Forbidden, "not-device-owner", "only the account that owns the device may do this")
	ErrAlreadyAssigned  = domain.NewError(domain.Conflict, "already-assigned", "the device is already assigned to this project")
	ErrNotAssigned      = domain.NewError(domain.Conflict, "not-assigned", "the device is not assigned to this project")
	ErrUnknownDevice    = domain.NewError(domain.NotFound, "unknown-device", "no such device is visible to this account")
	ErrDeviceRegistered = domain.NewError(domain.Conflict, "device-exists", "a device with this id is already registered")
)

// Device is the aggregate of one physical device and its owner's use of it.
// A partner's use of a shared device lives in the partnership, which keeps
// sharing and its end in one consistency boundary.
type Device struct {
	id      ID
	owner   domain.AccountID
	use     Use
	deleted bool
	changes []domain.Event
}

// Register records a new device for the caller's account. Credentials name
// the owner's login for the device; they are never a secret and never change
// hands when the device is shared.
func Register(by domain.Member, id ID, serial, name, model, credentials string) (*Device, error) {
	if err := by.RequireAdmin("register devices"); err != nil {
		return nil, err
	}
	serial, err := domain.RequireText("serial", serial, 100)
	if err != nil {
		return nil, err
	}
	if name, err = domain.RequireText("name", name, domain.MaxName); err != nil {
		return nil, err
	}
	if model, err = domain.OptionalLine("model", model, 100); err != nil {
		return nil, err
	}
	if credentials, err = domain.OptionalLine("credentials", credentials, domain.MaxName); err != nil {
		return nil, err
	}
	d := &Device{}
	d.record(DeviceRegistered{Device: id, Owner: by.Account, Serial: serial, Name: name, Model: model, Credentials: credentials})
	return d, nil
}

// FromHistory rebuilds a device from its stored events; nil means none.
func FromHistory(history []domain.Event) *Device {
	if len(history) == 0 {
		return nil
	}
	d := &Device{}
	for _, e := range history {
		d.apply(e)
	}
	return d
}

// ID is the device's identifier.
func (d *Device) ID() ID { return d.id }

// Owner is the account that owns the device.
func (d *Device) Owner() domain.AccountID { return d.owner }

// Changes lists the events recorded since the device was loaded.
func (d *Device) Changes() []domain.Event { return d.changes }

// Deleted says whether the owner deleted the device.
func (d *Device) Deleted() bool { return d.deleted }

// requireOwner refuses anyone but the owner, and everyone once the device
// is deleted: a deleted device is no longer there to use.
func (d *Device) requireOwner(by domain.Member) error {
	if d.deleted {
		return ErrUnknownDevice.Withf("device %s was deleted", d.id)
	}
	if by.Account != d.owner {
		return ErrNotOwner.Withf("device %s belongs to account %s, not %s", d.id, d.owner, by.Account)
	}
	return nil
}

// Assign puts the device into one of its owner's projects; owner is the
// caller's loaded account, which proves the project is theirs.
func (d *Device) Assign(by domain.Member, owner *account.Account, project account.ProjectID) error {
	if err := d.requireOwner(by); err != nil {
		return err
	}
	if err := owner.RequireProject(project); err != nil {
		return err
	}
	e, err := d.use.Assign(d.id, by.Account, project)
	if err != nil {
		return err
	}
	d.record(e)
	return nil
}

// Unassign takes the device out of one of its owner's projects.
func (d *Device) Unassign(by domain.Member, project account.ProjectID) error {
	if err := d.requireOwner(by); err != nil {
		return err
	}
	e, err := d.use.Unassign(d.id, by.Account, project, ReasonUnassigned)
	if err != nil {
		return err
	}
	d.record(e)
	return nil
}

// SendDesign transfers a design to the device for one of its owner's projects.
func (d *Device) SendDesign(by domain.Member, project account.ProjectID, design string) error {
	if err := d.requireOwner(by); err != nil {
		return err
	}
	e, err := d.use.SendDesign(d.id, by, project, design)
	if err != nil {
		return err
	}
	d.record(e)
	return nil
}

// StartBaseStation starts the Internet Base Station Service on the owner's
// device for one of its projects.
func (d *Device) StartBaseStation(by domain.Member, project account.ProjectID) error {
	if err := d.requireOwner(by); err != nil {
		return err
	}
	if !d.use.Has(project) {
		return ErrNotAssigned.Withf("device %s is not assigned to project %s", d.id, project)
	}
	d.record(BaseStationServiceStarted{Device: d.id, Account: by.Account, Project: project, By: by.User})
	return nil
}

// Delete deletes the device: it leaves the owner's projects now, and each
// partnership that shares it releases it afterwards (it is decided there).
// Its history stays; its id is not used again.
func (d *Device) Delete(by domain.Member) error {
	if err := d.requireOwner(by); err != nil {
		return err
	}
	if err := by.RequireAdmin("delete devices"); err != nil {
		return err
	}
	projects := d.use.Projects()
	slices.Sort(projects)
	for _, project := range projects {
		e, err := d.use.Unassign(d.id, by.Account, project, ReasonDeviceDeleted)
		if err != nil {
			return err
		}
		d.record(e)
	}
	d.record(DeviceDeleted{Device: d.id, Owner: d.owner, By: by.User})
	return nil
}

func (d *Device) record(e domain.Event) {
	d.apply(e)
	d.changes = append(d.changes, e)
}

func (d *Device) apply(e domain.Event) {
	switch e := e.(type) {
	case DeviceRegistered:
		d.id, d.owner = e.Device, e.Owner
	case DeviceDeleted:
		d.deleted = true
	default:
		d.use.Apply(e)
	}
}
