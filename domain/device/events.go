package device

import (
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

// DeviceRegistered: an account owns a new device.
type DeviceRegistered struct {
	Device      ID               `json:"device"`
	Owner       domain.AccountID `json:"owner"`
	Serial      string           `json:"serial"`
	Name        string           `json:"name"`
	Model       string           `json:"model,omitempty"`
	Credentials string           `json:"credentials,omitempty"`
}

// DeviceAssignedToProject: an account (owner or partner) put the device into
// one of its projects.
type DeviceAssignedToProject struct {
	Device  ID                `json:"device"`
	Account domain.AccountID  `json:"account"`
	Project account.ProjectID `json:"project"`
}

// DeviceUnassignedFromProject: the device left one of an account's projects,
// for the reason given (unassigned, unshared, partnership-ended).
type DeviceUnassignedFromProject struct {
	Device  ID                `json:"device"`
	Account domain.AccountID  `json:"account"`
	Project account.ProjectID `json:"project"`
	Reason  string            `json:"reason"`
}

// DesignSentToDevice: a design was transferred to the device for a project.
type DesignSentToDevice struct {
	Device  ID                `json:"device"`
	Account domain.AccountID  `json:"account"`
	Project account.ProjectID `json:"project"`
	Design  string            `json:"design"`
	By      domain.UserID     `json:"by"`
}

// BaseStationServiceStarted: the owner started the Internet Base Station
// Service on its device.
type BaseStationServiceStarted struct {
	Device  ID                `json:"device"`
	Account domain.AccountID  `json:"account"`
	Project account.ProjectID `json:"project"`
	By      domain.UserID     `json:"by"`
}

// DeviceDeleted: the owner deleted the device. It has left the owner's
// projects (the events before it in the same append say so); the
// partnerships that share it release it afterwards.
type DeviceDeleted struct {
	Device ID               `json:"device"`
	Owner  domain.AccountID `json:"owner"`
	By     domain.UserID    `json:"by"`
}

func (DeviceDeleted) EventType() string               { return "DeviceDeleted" }
func (DeviceDeleted) EventVersion() int               { return 1 }
func (DeviceRegistered) EventType() string            { return "DeviceRegistered" }
func (DeviceRegistered) EventVersion() int            { return 1 }
func (DeviceAssignedToProject) EventType() string     { return "DeviceAssignedToProject" }
func (DeviceAssignedToProject) EventVersion() int     { return 1 }
func (DeviceUnassignedFromProject) EventType() string { return "DeviceUnassignedFromProject" }
func (DeviceUnassignedFromProject) EventVersion() int { return 1 }
func (DesignSentToDevice) EventType() string          { return "DesignSentToDevice" }
func (DesignSentToDevice) EventVersion() int          { return 1 }
func (BaseStationServiceStarted) EventType() string   { return "BaseStationServiceStarted" }
func (BaseStationServiceStarted) EventVersion() int   { return 1 }

// RegisterEvents adds the device's events to a registry.
func RegisterEvents(r *domain.Registry) {
	domain.Register[DeviceRegistered](r)
	domain.Register[DeviceAssignedToProject](r)
	domain.Register[DeviceUnassignedFromProject](r)
	domain.Register[DesignSentToDevice](r)
	domain.Register[BaseStationServiceStarted](r)
	domain.Register[DeviceDeleted](r)
}
