package team

import "github.com/shareledger/shareledger/domain"

// CloudProjectCreated: a cloud project exists; its creator administers it.
type CloudProjectCreated struct {
	Project ID            `json:"project"`
	Name    string        `json:"name"`
	By      domain.UserID `json:"by"`
}

// CloudProjectRenamed: an administrator edited the project's properties.
type CloudProjectRenamed struct {
	Project ID            `json:"project"`
	Name    string        `json:"name"`
	By      domain.UserID `json:"by"`
}

// CloudProjectDeleted: an administrator deleted the project.
type CloudProjectDeleted struct {
	Project ID            `json:"project"`
	By      domain.UserID `json:"by"`
}

// MemberInvited: a person was invited with a role. Active says whether
// they had an identity then and joined at once; otherwise they stay
// invited until IdentityCreated.
type MemberInvited struct {
	Project ID            `json:"project"`
	Email   domain.UserID `json:"email"`
	Role    Role          `json:"role"`
	Active  bool          `json:"active"`
	By      domain.UserID `json:"by"`
}

// MemberRoleChanged: a member's role changed.
type MemberRoleChanged struct {
	Project ID            `json:"project"`
	Email   domain.UserID `json:"email"`
	Role    Role          `json:"role"`
	By      domain.UserID `json:"by"`
}

// MemberRemoved: an administrator removed a member, or the member left
// (By is the member then). Their job assignments end with it.
type MemberRemoved struct {
	Project ID            `json:"project"`
	Email   domain.UserID `json:"email"`
	By      domain.UserID `json:"by"`
}

// ProjectAccessed: a member opened the project.
type ProjectAccessed struct {
	Project ID            `json:"project"`
	Email   domain.UserID `json:"email"`
}

// JobCreated: a job exists in the cloud project.
type JobCreated struct {
	Project ID            `json:"project"`
	Job     JobID         `json:"job"`
	Name    string        `json:"name"`
	By      domain.UserID `json:"by"`
}

// JobUpdated: a job's details changed.
type JobUpdated JobCreated

// JobDeleted: a job was deleted.
type JobDeleted struct {
	Project ID            `json:"project"`
	Job     JobID         `json:"job"`
	By      domain.UserID `json:"by"`
}

// JobAssigned and JobUnassigned: a member was put on or taken off a job.
type JobAssigned struct {
	Project ID            `json:"project"`
	Job     JobID         `json:"job"`
	Email   domain.UserID `json:"email"`
	By      domain.UserID `json:"by"`
}

// JobUnassigned: a member is no longer assigned to the job.
type JobUnassigned JobAssigned

// StylesheetAdded and StylesheetRemoved: report stylesheets of the project.
type StylesheetAdded struct {
	Project    ID            `json:"project"`
	Stylesheet string        `json:"stylesheet"`
	By         domain.UserID `json:"by"`
}

// StylesheetRemoved: the stylesheet is gone.
type StylesheetRemoved StylesheetAdded

// IdentityCreated: a person created their identity; their pending
// invitations become active.
type IdentityCreated struct {
	Email domain.UserID `json:"email"`
	Name  string        `json:"name"`
}

func (CloudProjectCreated) EventType() string { return "CloudProjectCreated" }
func (CloudProjectRenamed) EventType() string { return "CloudProjectRenamed" }
func (CloudProjectDeleted) EventType() string { return "CloudProjectDeleted" }
func (MemberInvited) EventType() string       { return "MemberInvited" }
func (MemberRoleChanged) EventType() string   { return "MemberRoleChanged" }
func (MemberRemoved) EventType() string       { return "TeamMemberRemoved" }
func (ProjectAccessed) EventType() string     { return "ProjectAccessed" }
func (JobCreated) EventType() string          { return "JobCreated" }
func (JobUpdated) EventType() string          { return "JobUpdated" }
func (JobDeleted) EventType() string          { return "JobDeleted" }
func (JobAssigned) EventType() string         { return "JobAssigned" }
func (JobUnassigned) EventType() string       { return "JobUnassigned" }
func (StylesheetAdded) EventType() string     { return "StylesheetAdded" }
func (StylesheetRemoved) EventType() string   { return "StylesheetRemoved" }
func (IdentityCreated) EventType() string     { return "IdentityCreated" }

func (CloudProjectCreated) EventVersion() int { return 1 }
func (CloudProjectRenamed) EventVersion() int { return 1 }
func (CloudProjectDeleted) EventVersion() int { return 1 }
func (MemberInvited) EventVersion() int       { return 1 }
func (MemberRoleChanged) EventVersion() int   { return 1 }
func (MemberRemoved) EventVersion() int       { return 1 }
func (ProjectAccessed) EventVersion() int     { return 1 }
func (JobCreated) EventVersion() int          { return 1 }
func (JobUpdated) EventVersion() int          { return 1 }
func (JobDeleted) EventVersion() int          { return 1 }
func (JobAssigned) EventVersion() int         { return 1 }
func (JobUnassigned) EventVersion() int       { return 1 }
func (StylesheetAdded) EventVersion() int     { return 1 }
func (StylesheetRemoved) EventVersion() int   { return 1 }
func (IdentityCreated) EventVersion() int     { return 1 }

// RegisterEvents adds the team events to a registry.
func RegisterEvents(r *domain.Registry) {
	domain.Register[CloudProjectCreated](r)
	domain.Register[CloudProjectRenamed](r)
	domain.Register[CloudProjectDeleted](r)
	domain.Register[MemberInvited](r)
	domain.Register[MemberRoleChanged](r)
	domain.Register[MemberRemoved](r)
	domain.Register[ProjectAccessed](r)
	domain.Register[JobCreated](r)
	domain.Register[JobUpdated](r)
	domain.Register[JobDeleted](r)
	domain.Register[JobAssigned](r)
	domain.Register[JobUnassigned](r)
	domain.Register[StylesheetAdded](r)
	domain.Register[StylesheetRemoved](r)
	domain.Register[IdentityCreated](r)
}
