// Package directory projects accounts, their users and their projects: who
// may act for which account, and under which names.
package directory

import (
	"context"
	"errors"
	"iter"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/projections"
)

// Tables the projection owns.
const (
	Accounts = "directory.accounts" // account -> Account
	Users    = "directory.users"    // account/user -> User
	Projects = "directory.projects" // account/project -> Project
	// Memberships indexes the users by person: which accounts each
	// person acts for, with which role.
	Memberships = "directory.memberships" // user/account -> Membership
)

// Membership is one account a person acts for.
type Membership struct {
	Account      domain.AccountID `json:"account"`
	Organization string           `json:"organization"`
	Role         string           `json:"role"`
}

// Account is an account's public face.
type Account struct {
	ID           domain.AccountID `json:"id"`
	Organization string           `json:"organization"`
}

// User is a person in an account.
type User struct {
	User    domain.UserID    `json:"user"`
	Account domain.AccountID `json:"account"`
	Name    string           `json:"name"`
	Role    string           `json:"role"`
}

// Project is one of an account's projects.
type Project struct {
	ID      account.ProjectID `json:"id"`
	Account domain.AccountID  `json:"account"`
	Name    string            `json:"name"`
}

// Projection maintains the directory tables.
type Projection struct{}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "directory"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	switch e := e.Event.(type) {
	case account.AccountOpened:
		if err := tx.Put(ctx, Accounts, projections.KeyPart(string(e.Account)), Account{ID: e.Account, Organization: e.Organization}); err != nil {
			return err
		}
		return errors.Join(
			tx.Put(ctx, Users, UserKey(e.Account, e.Administrator), User{User: e.Administrator, Account: e.Account, Name: e.Name, Role: account.Administrator.String()}),
			tx.Put(ctx, Memberships, membershipKey(e.Administrator, e.Account), Membership{Account: e.Account, Organization: e.Organization, Role: account.Administrator.String()}))
	case account.UserAdded:
		var org Account
		if _, err := tx.Get(ctx, Accounts, projections.KeyPart(string(e.Account)), &org); err != nil {
			return err
		}
		return errors.Join(
			tx.Put(ctx, Users, UserKey(e.Account, e.User), User{User: e.User, Account: e.Account, Name: e.Name, Role: e.Role.String()}),
			tx.Put(ctx, Memberships, membershipKey(e.User, e.Account), Membership{Account: e.Account, Organization: org.Organization, Role: e.Role.String()}))
	case account.UserRoleChanged:
		var u User
		if found, err := tx.Get(ctx, Users, UserKey(e.Account, e.User), &u); err != nil || !found {
			return err
		}
		u.Role = e.Role.String()
		var m Membership
		if _, err := tx.Get(ctx, Memberships, membershipKey(e.User, e.Account), &m); err != nil {
			return err
		}
		m.Account, m.Role = e.Account, e.Role.String()
		return errors.Join(tx.Put(ctx, Users, UserKey(e.Account, e.User), u), tx.Put(ctx, Memberships, membershipKey(e.User, e.Account), m))
	case account.UserRemoved:
		return errors.Join(tx.Delete(ctx, Users, UserKey(e.Account, e.User)), tx.Delete(ctx, Memberships, membershipKey(e.User, e.Account)))
	case account.ProjectCreated:
		return tx.Put(ctx, Projects, ProjectKey(e.Account, e.Project), Project{ID: e.Project, Account: e.Account, Name: e.Name})
	}
	return nil
}

func membershipKey(u domain.UserID, acc domain.AccountID) string {
	return projections.Key(string(u), string(acc))
}

// UserKey is a user's key in Users.
func UserKey(acc domain.AccountID, u domain.UserID) string {
	return projections.Key(string(acc), string(u))
}

// ProjectKey is a project's key in Projects.
func ProjectKey(acc domain.AccountID, p account.ProjectID) string {
	return projections.Key(string(acc), string(p))
}

// Tables lists the tables the projection owns, for verification.
func (Projection) Tables() []string { return []string{Accounts, Users, Projects, Memberships} }

var _ projections.Prefetcher = Projection{}

// Prefetch implements projections.Prefetcher: the accounts, users and
// memberships that applying envs reads.
func (Projection) Prefetch(envs iter.Seq[*projections.Envelope]) []projections.TableKeys {
	var accounts, users, memberships []string
	for env := range envs {
		switch e := env.Event.(type) {
		case account.UserAdded:
			accounts = append(accounts, projections.KeyPart(string(e.Account)))
		case account.UserRoleChanged:
			users = append(users, UserKey(e.Account, e.User))
			memberships = append(memberships, membershipKey(e.User, e.Account))
		}
	}
	return []projections.TableKeys{{Table: Accounts, Keys: accounts}, {Table: Users, Keys: users}, {Table: Memberships, Keys: memberships}}
}
