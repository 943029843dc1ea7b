package account_test

import (
	"testing"

	"github.com/shareledger/shareledger/commands"
	accountcmd "github.com/shareledger/shareledger/commands/account"
	"github.com/shareledger/shareledger/commands/commandtest"
	"github.com/shareledger/shareledger/domain/account"
)

var (
	acmeOpened = commandtest.In(account.Stream("acme"),
		account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
		account.UserAdded{Account: "acme", User: "carl@acme.test", Name: "Carl", Role: account.User})
	alice = commandtest.Meta("alice@acme.test", "acme", "c1")
	carl  = commandtest.Meta("carl@acme.test", "acme", "c1")
)

func TestOpen(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[accountcmd.Open]{
		{Name: "the caller becomes the first administrator", When: accountcmd.Open{Meta: alice, Organization: "ACME", Name: "Alice"},
			Then: commandtest.Events(account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"})},
		{Name: "an organization name is taken once", Given: [][]commandtest.Given{acmeOpened}, When: accountcmd.Open{Meta: alice, Organization: "acme", Name: "Alice"},
			Code: "organization-taken"},
		{Name: "the token acts for another account", When: accountcmd.Open{Meta: commandtest.Meta("eve@other.test", "other", "c1"), Organization: "ACME", Name: "Eve"},
			Code: "token-account-mismatch"},
		{Name: "a name that is not an organization name", When: accountcmd.Open{Meta: alice, Organization: "A", Name: "Alice"},
			Code: "invalid-organization"},
	}, func(env commandtest.Env) commands.Handler[accountcmd.Open] {
		return accountcmd.New(env.Repo, env.Log).Open
	})
}

func TestAddUser(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[accountcmd.AddUser]{
		{Name: "an administrator adds a user, in the address's normal form", Given: [][]commandtest.Given{acmeOpened},
			When: accountcmd.AddUser{Meta: alice, Email: " Ann@ACME.test ", Name: "Ann", Role: "user"},
			Then: commandtest.Events(account.UserAdded{Account: "acme", User: "ann@acme.test", Name: "Ann", Role: account.User})},
		{Name: "a user may not add users", Given: [][]commandtest.Given{acmeOpened},
			When: accountcmd.AddUser{Meta: carl, Email: "ann@acme.test", Name: "Ann", Role: "user"}, Code: "not-administrator"},
		{Name: "a person is a user once", Given: [][]commandtest.Given{acmeOpened},
			When: accountcmd.AddUser{Meta: alice, Email: "CARL@acme.test", Name: "Carl", Role: "user"}, Code: "already-member"},
		{Name: "an unknown role", Given: [][]commandtest.Given{acmeOpened},
			When: accountcmd.AddUser{Meta: alice, Email: "ann@acme.test", Name: "Ann", Role: "boss"}, Code: "invalid-role"},
		{Name: "someone of no account", When: accountcmd.AddUser{Meta: alice, Email: "ann@acme.test", Name: "Ann", Role: "user"}, Code: "not-member"},
	}, func(env commandtest.Env) commands.Handler[accountcmd.AddUser] {
		return accountcmd.New(env.Repo, env.Log).AddUser
	})
}

func TestCreateProject(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[accountcmd.CreateProject]{
		{Name: "a member creates a project", Given: [][]commandtest.Given{acmeOpened}, When: accountcmd.CreateProject{Meta: carl, Name: "Bridge"},
			Then: commandtest.Events(account.ProjectCreated{Account: "acme", Project: account.ProjectID(commands.NewID("c1", "project")), Name: "Bridge", By: "carl@acme.test"})},
		{Name: "a project needs a name", Given: [][]commandtest.Given{acmeOpened}, When: accountcmd.CreateProject{Meta: carl, Name: " "}, Code: "missing-name"},
	}, func(env commandtest.Env) commands.Handler[accountcmd.CreateProject] {
		return accountcmd.New(env.Repo, env.Log).CreateProject
	})
}
