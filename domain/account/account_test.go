package account_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

var opened = account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"}

func TestOpen(t *testing.T) {
	cases := []struct {
		name string
		org  string
		err  error
	}{
		{"a short name", "ACME", nil},
		{"too short", "A", domain.Invalidf("invalid-organization", "")},
		{"spaces are not allowed", "Acme Corp", domain.Invalidf("invalid-organization", "")},
		{"too long", "abcdefghijabcdefghijabcdefghij123", domain.Invalidf("invalid-organization", "")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := account.Open(c.org, "alice@acme.test", "Alice")
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(a.Changes(), []domain.Event{opened}) {
				t.Fatalf("Open = %#v, %v", a, err)
			}
		})
	}
}

func TestOrganizationNamesIgnoreCase(t *testing.T) {
	a, _ := domain.ParseOrganization("ACME")
	b, _ := domain.ParseOrganization("acme")
	if a != b {
		t.Fatalf("ACME and acme are different accounts: %q %q", a, b)
	}
}

func TestMembers(t *testing.T) {
	admin := domain.Member{User: "alice@acme.test", Account: "acme", Admin: true}
	plain := domain.Member{User: "carl@acme.test", Account: "acme"}
	added := account.UserAdded{Account: "acme", User: "carl@acme.test", Name: "Carl", Role: account.User}
	cases := []struct {
		name  string
		given []domain.Event
		when  func(a *account.Account) error
		then  []domain.Event
		err   error
	}{
		{"an administrator adds a user", nil, func(a *account.Account) error { return a.AddUser(admin, "carl@acme.test", "Carl", account.User) }, []domain.Event{added}, nil},
		{"a user cannot add users", []domain.Event{added}, func(a *account.Account) error { return a.AddUser(plain, "dan@acme.test", "Dan", account.User) }, nil, domain.ErrNotAdministrator},
		{"nobody is added twice", []domain.Event{added}, func(a *account.Account) error { return a.AddUser(admin, "carl@acme.test", "Carl", account.User) }, nil, account.ErrAlreadyMember},
		{"a role is required", nil, func(a *account.Account) error { return a.AddUser(admin, "dan@acme.test", "Dan", account.Role{}) }, nil, domain.Invalidf("invalid-role", "")},
		{"any user creates a project", []domain.Event{added}, func(a *account.Account) error { return a.CreateProject(plain, "p1", "Bridge") },
			[]domain.Event{account.ProjectCreated{Account: "acme", Project: "p1", Name: "Bridge", By: plain.User}}, nil},
		{"a project needs a name", nil, func(a *account.Account) error { return a.CreateProject(admin, "p1", "") }, nil, domain.Invalidf("missing-name", "")},
		{"an administrator makes a user an administrator", []domain.Event{added},
			func(a *account.Account) error { return a.ChangeRole(admin, plain.User, account.Administrator) },
			[]domain.Event{account.UserRoleChanged{Account: "acme", User: plain.User, Role: account.Administrator, By: admin.User}}, nil},
		{"the last administrator stays one", []domain.Event{added},
			func(a *account.Account) error { return a.ChangeRole(admin, admin.User, account.User) }, nil, account.ErrLastAdmin},
		{"and stays in the account", []domain.Event{added},
			func(a *account.Account) error { return a.RemoveUser(admin, admin.User) }, nil, account.ErrLastAdmin},
		{"with another administrator, one leaves", []domain.Event{added, account.UserRoleChanged{Account: "acme", User: plain.User, Role: account.Administrator}},
			func(a *account.Account) error { return a.RemoveUser(admin, admin.User) },
			[]domain.Event{account.UserRemoved{Account: "acme", User: admin.User, By: admin.User}}, nil},
		{"a user removes nobody", []domain.Event{added},
			func(a *account.Account) error { return a.RemoveUser(plain, admin.User) }, nil, domain.ErrNotAdministrator},
		{"nobody is removed who is not there", nil,
			func(a *account.Account) error { return a.RemoveUser(admin, "zed@acme.test") }, nil, account.ErrNotMember},
		{"project ids are unique", []domain.Event{account.ProjectCreated{Account: "acme", Project: "p1", Name: "Bridge"}},
			func(a *account.Account) error { return a.CreateProject(admin, "p1", "Other") }, nil, account.ErrProjectExists},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := account.FromHistory(append([]domain.Event{opened}, c.given...))
			err := c.when(a)
			if c.err != nil {
				if !errors.Is(err, c.err) || len(a.Changes()) != 0 {
					t.Fatalf("err = %v, want %v and no changes", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(a.Changes(), c.then) {
				t.Fatalf("events = %#v, %v; want %#v", a.Changes(), err, c.then)
			}
		})
	}
	a := account.FromHistory([]domain.Event{opened, added})
	if m, err := a.Member("carl@acme.test"); err != nil || m.Admin {
		t.Fatalf("carl = %+v, %v; want a plain member", m, err)
	}
	if _, err := a.Member("eve@evil.test"); !errors.Is(err, account.ErrNotMember) {
		t.Fatalf("stranger: err = %v, want ErrNotMember", err)
	}
}
