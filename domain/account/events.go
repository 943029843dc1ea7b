package account

import "github.com/shareledger/shareledger/domain"

// AccountOpened: a company joined, and its first user administers it.
type AccountOpened struct {
	Account       domain.AccountID `json:"account"`
	Organization  string           `json:"organization"`
	Administrator domain.UserID    `json:"administrator"`
	Name          string           `json:"name"`
}

// UserAdded: a person may now act for the account.
type UserAdded struct {
	Account domain.AccountID `json:"account"`
	User    domain.UserID    `json:"user"`
	Name    string           `json:"name"`
	Role    Role             `json:"role"`
}

// ProjectCreated: the account has a new project.
type ProjectCreated struct {
	Account domain.AccountID `json:"account"`
	Project ProjectID        `json:"project"`
	Name    string           `json:"name"`
	By      domain.UserID    `json:"by"`
}

// UserRoleChanged: a user's role in the account changed.
type UserRoleChanged struct {
	Account domain.AccountID `json:"account"`
	User    domain.UserID    `json:"user"`
	Role    Role             `json:"role"`
	By      domain.UserID    `json:"by"`
}

// UserRemoved: a person may no longer act for the account.
type UserRemoved struct {
	Account domain.AccountID `json:"account"`
	User    domain.UserID    `json:"user"`
	By      domain.UserID    `json:"by"`
}

func (UserRoleChanged) EventType() string { return "UserRoleChanged" }
func (UserRoleChanged) EventVersion() int { return 1 }
func (UserRemoved) EventType() string     { return "UserRemoved" }
func (UserRemoved) EventVersion() int     { return 1 }

func (AccountOpened) EventType() string  { return "AccountOpened" }
func (AccountOpened) EventVersion() int  { return 1 }
func (UserAdded) EventType() string      { return "UserAdded" }
func (UserAdded) EventVersion() int      { return 1 }
func (ProjectCreated) EventType() string { return "ProjectCreated" }
func (ProjectCreated) EventVersion() int { return 1 }

// RegisterEvents adds the account's events to a registry.
func RegisterEvents(r *domain.Registry) {
	domain.Register[AccountOpened](r)
	domain.Register[UserAdded](r)
	domain.Register[ProjectCreated](r)
	domain.Register[UserRoleChanged](r)
	domain.Register[UserRemoved](r)
}
