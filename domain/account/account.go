// Package account holds the rules of accounts: a company known by a unique
// short organization name, the people who act for it, and its projects.
package account

import (
	"strings"

	"github.com/shareledger/shareledger/domain"
)

// Role is what a person may do in an account. Its zero value is invalid, and
// no other values can be written outside this package.
type Role struct{ name string }

var (
	// Administrator manages the account: its users, devices, partnerships.
	Administrator = Role{"administrator"}
	// User works in the account's projects.
	User = Role{"user"}
)

func (r Role) String() string { return r.name }

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	switch s {
	case Administrator.name:
		return Administrator, nil
	case User.name:
		return User, nil
	}
	return Role{}, domain.Invalidf("invalid-role", "role %q is not one of administrator, user", s)
}

// MarshalText stores a role by name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.name), nil }

// EnumNames are the names a stored role may hold (domain.Enumerated).
func (Role) EnumNames() []string { return []string{Administrator.name, User.name} }

// UnmarshalText reads a stored role.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// ProjectID identifies a project.
type ProjectID string

// ParseProjectID reads a project's id.
func ParseProjectID(s string) (ProjectID, error) {
	id, err := domain.ParseID("project", s)
	return ProjectID(id), err
}

var (
	ErrNotMember       = domain.NewError(domain.Forbidden, "not-member", "the caller is not a user of this account")
	ErrAlreadyMember   = domain.NewError(domain.Conflict, "already-member", "this person is already a user of the account")
	ErrUnknownProject  = domain.NewError(domain.NotFound, "unknown-project", "the account has no such project")
	ErrProjectExists   = domain.NewError(domain.Conflict, "project-exists", "the account already has a project with this id")
	ErrAccountNotFound = domain.NewError(domain.Invalid, "unknown-organization", "no account has this short organization name")
	ErrLastAdmin       = domain.NewError(domain.Conflict, "last-account-administrator", "the account's only administrator can neither leave it nor become a user; make someone else an administrator first")
)

// Account is the aggregate of one company.
type Account struct {
	id           domain.AccountID
	organization string
	users        domain.Table[domain.UserID, Role]
	projects     domain.Table[ProjectID, string]
	// admins counts the administrators among users, so that the last one
	// is known without reading every user.
	admins  int
	changes []domain.Event
}

// Open starts a new account whose first user administers it.
func Open(organization string, admin domain.UserID, name string) (*Account, error) {
	id, err := domain.ParseOrganization(organization)
	if err != nil {
		return nil, err
	}
	if name, err = domain.RequireText("name", name, domain.MaxName); err != nil {
		return nil, err
	}
	a := &Account{}
	a.record(AccountOpened{Account: id, Organization: strings.TrimSpace(organization), Administrator: admin, Name: name})
	return a, nil
}

// FromHistory rebuilds an account from its stored events; nil history means
// no such account.
func FromHistory(history []domain.Event) *Account {
	if len(history) == 0 {
		return nil
	}
	a := &Account{}
	for _, e := range history {
		a.apply(e)
	}
	return a
}

// ID is the account's identifier.
func (a *Account) ID() domain.AccountID { return a.id }

// Organization is the short organization name as the account spelled it.
func (a *Account) Organization() string { return a.organization }

// Changes lists the events recorded since the account was loaded.
func (a *Account) Changes() []domain.Event { return a.changes }

// Member checks that user belongs to the account and says whether they
// administer it.
func (a *Account) Member(user domain.UserID) (domain.Member, error) {
	role, ok := a.users.Get(user)
	if !ok {
		return domain.Member{}, ErrNotMember.Withf("%s is not a user of account %s", user, a.id)
	}
	return domain.Member{User: user, Account: a.id, Admin: role == Administrator}, nil
}

// HasProject says whether the account owns the project.
func (a *Account) HasProject(p ProjectID) bool { return a.projects.Has(p) }

// RequireProject refuses a project the account does not own.
func (a *Account) RequireProject(p ProjectID) error {
	if !a.HasProject(p) {
		return ErrUnknownProject.Withf("account %s has no project %s", a.id, p)
	}
	return nil
}

// AddUser lets an administrator add a person to the account.
func (a *Account) AddUser(by domain.Member, user domain.UserID, name string, role Role) error {
	if err := by.RequireAdmin("add users"); err != nil {
		return err
	}
	if role == (Role{}) {
		return domain.Invalidf("invalid-role", "a role is required")
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	if a.users.Has(user) {
		return ErrAlreadyMember.Withf("%s is already a user of account %s", user, a.id)
	}
	a.record(UserAdded{Account: a.id, User: user, Name: name, Role: role})
	return nil
}

// ChangeRole makes a user an administrator or a plain user; the last
// administrator stays one.
func (a *Account) ChangeRole(by domain.Member, user domain.UserID, role Role) error {
	if err := by.RequireAdmin("change users' roles"); err != nil {
		return err
	}
	if role == (Role{}) {
		return domain.Invalidf("invalid-role", "a role is required")
	}
	cur, ok := a.users.Get(user)
	if !ok {
		return ErrNotMember.Withf("%s is not a user of account %s", user, a.id)
	}
	if cur == role {
		return nil
	}
	if cur == Administrator && a.admins == 1 {
		return ErrLastAdmin
	}
	a.record(UserRoleChanged{Account: a.id, User: user, Role: role, By: by.User})
	return nil
}

// RemoveUser takes a person out of the account; the last administrator
// stays. What was shared with them privately stays recorded, and reaches
// no one: they no longer act for the account.
func (a *Account) RemoveUser(by domain.Member, user domain.UserID) error {
	if err := by.RequireAdmin("remove users"); err != nil {
		return err
	}
	cur, ok := a.users.Get(user)
	if !ok {
		return ErrNotMember.Withf("%s is not a user of account %s", user, a.id)
	}
	if cur == Administrator && a.admins == 1 {
		return ErrLastAdmin
	}
	a.record(UserRemoved{Account: a.id, User: user, By: by.User})
	return nil
}

// CreateProject adds a project to the account; any of its users may.
func (a *Account) CreateProject(by domain.Member, id ProjectID, name string) error {
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	if a.projects.Has(id) {
		return ErrProjectExists.Withf("account %s already has project %s", a.id, id)
	}
	a.record(ProjectCreated{Account: a.id, Project: id, Name: name, By: by.User})
	return nil
}

func (a *Account) record(e domain.Event) {
	a.apply(e)
	a.changes = append(a.changes, e)
}

func (a *Account) apply(e domain.Event) {
	switch e := e.(type) {
	case AccountOpened:
		a.id = e.Account
		a.organization = e.Organization
		a.users, a.projects, a.admins = domain.Table[domain.UserID, Role]{}, domain.Table[ProjectID, string]{}, 0
		a.setUser(e.Administrator, Administrator)
	case UserAdded:
		a.setUser(e.User, e.Role)
	case UserRoleChanged:
		a.setUser(e.User, e.Role)
	case UserRemoved:
		a.removeUser(e.User)
	case ProjectCreated:
		a.projects.Set(e.Project, e.Name)
	}
}

// setUser gives user a role, keeping the count of administrators.
func (a *Account) setUser(user domain.UserID, role Role) {
	a.removeUser(user)
	if role == Administrator {
		a.admins++
	}
	a.users.Set(user, role)
}

// removeUser takes user out, keeping the count of administrators.
func (a *Account) removeUser(user domain.UserID) {
	if cur, ok := a.users.Get(user); ok && cur == Administrator {
		a.admins--
	}
	a.users.Delete(user)
}
