package device

import (
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

// Reasons a device leaves a project.
const (
	ReasonUnassigned       = "unassigned"
	ReasonUnshared         = "unshared"
	ReasonPartnershipEnded = "partnership-ended"
	// ReasonDeviceDeleted: its owner deleted the device; it leaves the
	// owner's projects at once and each partner's when the partnership
	// releases it (see partnership.Partnership.Release).
	ReasonDeviceDeleted = "device-deleted"
)

// Use is one account's use of one device: the projects it is assigned to.
// The owner's use lives in the Device; a partner's in the Partnership.
type Use struct {
	projects map[account.ProjectID]bool
}

// Has says whether the device is assigned to project.
func (u *Use) Has(project account.ProjectID) bool { return u.projects[project] }

// Projects lists the projects the device is assigned to.
func (u *Use) Projects() []account.ProjectID {
	out := make([]account.ProjectID, 0, len(u.projects))
	for p := range u.projects {
		out = append(out, p)
	}
	return out
}

// Assign decides to put the device into a project.
func (u *Use) Assign(dev ID, acc domain.AccountID, project account.ProjectID) (domain.Event, error) {
	if u.projects[project] {
		return nil, ErrAlreadyAssigned.Withf("device %s is already assigned to project %s", dev, project)
	}
	return DeviceAssignedToProject{Device: dev, Account: acc, Project: project}, nil
}

// Unassign decides to take the device out of a project.
func (u *Use) Unassign(dev ID, acc domain.AccountID, project account.ProjectID, reason string) (domain.Event, error) {
	if !u.projects[project] {
		return nil, ErrNotAssigned.Withf("device %s is not assigned to project %s", dev, project)
	}
	return DeviceUnassignedFromProject{Device: dev, Account: acc, Project: project, Reason: reason}, nil
}

// SendDesign decides a data transfer: the device must work in the project.
func (u *Use) SendDesign(dev ID, by domain.Member, project account.ProjectID, design string) (domain.Event, error) {
	design, err := domain.RequireText("design", design, 500)
	if err != nil {
		return nil, err
	}
	if !u.projects[project] {
		return nil, ErrNotAssigned.Withf("device %s is not assigned to project %s", dev, project)
	}
	return DesignSentToDevice{Device: dev, Account: by.Account, Project: project, Design: design, By: by.User}, nil
}

// Apply folds a usage event into the state.
func (u *Use) Apply(e domain.Event) {
	switch e := e.(type) {
	case DeviceAssignedToProject:
		if u.projects == nil {
			u.projects = map[account.ProjectID]bool{}
		}
		u.projects[e.Project] = true
	case DeviceUnassignedFromProject:
		delete(u.projects, e.Project)
	}
}
