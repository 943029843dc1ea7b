// Package account holds the account use cases: opening an account, adding
// its users, creating its projects.
package account

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
)

// ErrOrganizationTaken: another account has this short organization name.
var ErrOrganizationTaken = domain.NewError(domain.Conflict, "organization-taken", "an account with this short organization name exists already")

// ErrTokenAccount: the token is for another account than the one opened.
var ErrTokenAccount = domain.NewError(domain.Forbidden, "token-account-mismatch", "the token's account differs from the organization to open")

// Open opens an account; the caller becomes its first administrator.
type Open struct {
	Meta         commands.Meta
	Organization string
	Name         string
}

// AddUser adds a person to the caller's account.
type AddUser struct {
	Meta  commands.Meta
	Email string
	Name  string
	Role  string
}

// CreateProject adds a project to the caller's account.
type CreateProject struct {
	Meta commands.Meta
	Name string
}

// ChangeUserRole makes a user an administrator or a plain user.
type ChangeUserRole struct {
	Meta commands.Meta
	User domain.UserID
	Role string
}

// RemoveUser takes a person out of the account.
type RemoveUser struct {
	Meta commands.Meta
	User domain.UserID
}

// Handlers are the account use cases.
type Handlers struct {
	Open          commands.Handler[Open]
	AddUser       commands.Handler[AddUser]
	CreateProject commands.Handler[CreateProject]
	ChangeRole    commands.Handler[ChangeUserRole]
	RemoveUser    commands.Handler[RemoveUser]
}

// New builds the handlers on repo, decorated.
func New(repo commands.Repo, log *slog.Logger) Handlers {
	u := useCases{repo}
	return Handlers{
		Open:          commands.Decorate(u.open, log, "OpenAccount", repo.Metrics),
		AddUser:       commands.Decorate(u.addUser, log, "AddUser", repo.Metrics),
		CreateProject: commands.Decorate(u.createProject, log, "CreateProject", repo.Metrics),
		ChangeRole:    commands.Decorate(u.changeRole, log, "ChangeUserRole", repo.Metrics),
		RemoveUser:    commands.Decorate(u.removeUser, log, "RemoveUser", repo.Metrics),
	}
}

type useCases struct{ repo commands.Repo }

func (u useCases) open(ctx context.Context, c Open) (commands.Result, error) {
	id, err := domain.ParseOrganization(c.Organization)
	if err != nil {
		return commands.Result{}, err
	}
	if id != c.Meta.Caller.Account {
		return commands.Result{}, ErrTokenAccount.Withf("the token acts for account %q, not %q: mint a token with --account %s", c.Meta.Caller.Account, id, id)
	}
	taken := ErrOrganizationTaken.Withf("an account with the short organization name %q exists already", c.Organization)
	return commands.Create(ctx, u.repo, account.Stream(id), c.Meta, string(id), taken, func() ([]domain.Event, error) {
		acc, err := account.Open(c.Organization, c.Meta.Caller.User, c.Name)
		if err != nil {
			return nil, err
		}
		return acc.Changes(), nil
	})
}

func (u useCases) addUser(ctx context.Context, c AddUser) (commands.Result, error) {
	user, err := domain.ParseUser(c.Email)
	if err != nil {
		return commands.Result{}, err
	}
	role, err := account.ParseRole(c.Role)
	if err != nil {
		return commands.Result{}, err
	}
	return u.change(ctx, c.Meta, string(user), func(acc *account.Account, by domain.Member) error {
		return acc.AddUser(by, user, c.Name, role)
	})
}

func (u useCases) createProject(ctx context.Context, c CreateProject) (commands.Result, error) {
	id := commands.NewID(c.Meta.CommandID, "project")
	return u.change(ctx, c.Meta, id, func(acc *account.Account, by domain.Member) error {
		return acc.CreateProject(by, account.ProjectID(id), c.Name)
	})
}

func (u useCases) changeRole(ctx context.Context, c ChangeUserRole) (commands.Result, error) {
	role, err := account.ParseRole(c.Role)
	if err != nil {
		return commands.Result{}, err
	}
	return u.change(ctx, c.Meta, "", func(acc *account.Account, by domain.Member) error { return acc.ChangeRole(by, c.User, role) })
}

func (u useCases) removeUser(ctx context.Context, c RemoveUser) (commands.Result, error) {
	return u.change(ctx, c.Meta, "", func(acc *account.Account, by domain.Member) error { return acc.RemoveUser(by, c.User) })
}

// change loads the caller's account, checks membership, decides and saves.
func (u useCases) change(ctx context.Context, m commands.Meta, id string, decide func(*account.Account, domain.Member) error) (commands.Result, error) {
	return commands.Change(ctx, u.repo, account.Stream(m.Caller.Account), m, account.Empty, id, func(l *commands.Loaded, acc *account.Account) (any, error) {
		if !l.Exists() {
			return nil, account.ErrNotMember.Withf("account %s does not exist; open it first", m.Caller.Account)
		}
		by, err := acc.Member(m.Caller.User)
		if err != nil {
			return nil, err
		}
		return nil, decide(acc, by)
	})
}

// Routes mounts the account commands.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	r.Post("/v1/accounts", commands.Serve(h.Open, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Open, error) {
		var body struct {
			Organization string `json:"organization"`
			Name         string `json:"name"`
		}
		err := httpapi.Decode(w, r, &body)
		return Open{Meta: m, Organization: body.Organization, Name: body.Name}, err
	}))
	r.Post("/v1/users", commands.Serve(h.AddUser, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (AddUser, error) {
		var body struct {
			Email string `json:"email"`
			Name  string `json:"name"`
			Role  string `json:"role"`
		}
		err := httpapi.Decode(w, r, &body)
		return AddUser{Meta: m, Email: body.Email, Name: body.Name, Role: body.Role}, err
	}))
	r.Put("/v1/users/{user}/role", commands.Serve(h.ChangeRole, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ChangeUserRole, error) {
		var body struct {
			Role string `json:"role"`
		}
		if err := httpapi.Decode(w, r, &body); err != nil {
			return ChangeUserRole{}, err
		}
		user, err := domain.ParseUser(chi.URLParam(r, "user"))
		return ChangeUserRole{Meta: m, User: user, Role: body.Role}, err
	}))
	r.Delete("/v1/users/{user}", commands.Serve(h.RemoveUser, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (RemoveUser, error) {
		user, err := domain.ParseUser(chi.URLParam(r, "user"))
		return RemoveUser{Meta: m, User: user}, err
	}))
	r.Post("/v1/projects", commands.Serve(h.CreateProject, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateProject, error) {
		var body struct {
			Name string `json:"name"`
		}
		err := httpapi.Decode(w, r, &body)
		return CreateProject{Meta: m, Name: body.Name}, err
	}))
}
