// Package team holds the use cases of cloud project teams and jobs:
// identities, projects, invitations (one by one and by CSV), roles,
// removal, leaving, jobs and their assignees, and stylesheets.
package team

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/problem"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
)

// MaxCSVRows bounds an invitation file.
const MaxCSVRows = 20000

// Change is one change to a cloud project.
type Change struct {
	Meta    commands.Meta
	Project team.ID
	// ID names what the change creates, when it creates something.
	ID string
	// Invitees are people whose identities the decision needs.
	Invitees []team.Invitation
	Decide   func(p *team.Project, by team.Caller, invitees []team.Invitation) (details any, err error)
}

// CreateProject starts a cloud project.
type CreateProject struct {
	Meta commands.Meta
	Name string
}

// CreateIdentity records the caller's identity.
type CreateIdentity struct {
	Meta commands.Meta
	Name string
}

// Handlers are the team use cases.
type Handlers struct {
	Change         commands.Handler[Change]
	CreateProject  commands.Handler[CreateProject]
	CreateIdentity commands.Handler[CreateIdentity]
}

// New builds the handlers on repo, decorated. Invitations count against
// their caller's mail quota (nil: none).
func New(repo commands.Repo, log *slog.Logger, mails *commands.MailQuota) Handlers {
	u := useCases{repo, mails}
	return Handlers{
		Change:         commands.Decorate(u.change, log, "ChangeCloudProject", repo.Metrics),
		CreateProject:  commands.Decorate(u.createProject, log, "CreateCloudProject", repo.Metrics),
		CreateIdentity: commands.Decorate(u.createIdentity, log, "CreateIdentity", repo.Metrics),
	}
}

type useCases struct {
	repo  commands.Repo
	mails *commands.MailQuota
}

// ErrIdentityExists: the person has an identity already.
var ErrIdentityExists = domain.NewError(domain.Conflict, "identity-exists", "this person has an identity already")

func (u useCases) hasIdentity(ctx context.Context, email domain.UserID) (bool, error) {
	recs, err := u.repo.Events.ReadStream(ctx, team.IdentityStream(email), 0, 1)
	return len(recs) > 0, err
}

func (u useCases) createIdentity(ctx context.Context, c CreateIdentity) (commands.Result, error) {
	l, err := u.repo.LoadFor(ctx, team.IdentityStream(c.Meta.Caller.User), c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	if res, ok := l.Replayed(string(c.Meta.Caller.User)); ok {
		return res, nil
	}
	if l.Exists() {
		return commands.Result{}, ErrIdentityExists
	}
	name, err := domain.RequireText("name", c.Name, 200)
	if err != nil {
		return commands.Result{}, err
	}
	return u.repo.Save(ctx, l, c.Meta, string(c.Meta.Caller.User), []domain.Event{team.IdentityCreated{Email: c.Meta.Caller.User, Name: name}})
}

func (u useCases) createProject(ctx context.Context, c CreateProject) (commands.Result, error) {
	id := commands.NewID(c.Meta.CommandID, "cloud-project")
	l, err := u.repo.LoadFor(ctx, team.Stream(team.ID(id)), c.Meta)
	if err != nil {
		return commands.Result{}, err
	}
	if res, ok := l.Replayed(id); ok {
		return res, nil
	}
	p, err := team.Create(team.Caller{Email: c.Meta.Caller.User, HasIdentity: true}, team.ID(id), c.Name)
	if err != nil {
		return commands.Result{}, err
	}
	return u.repo.Save(ctx, l, c.Meta, id, p.Changes())
}

func (u useCases) change(ctx context.Context, c Change) (commands.Result, error) {
	l, p, err := commands.LoadState(ctx, u.repo, team.Stream(c.Project), c.Meta, team.New)
	if err != nil {
		return commands.Result{}, err
	}
	if res, ok := l.Replayed(c.ID); ok {
		return res, nil
	}
	if !l.Exists() {
		return commands.Result{}, domain.NewError(domain.NotFound, "unknown-cloud-project", "no such cloud project")
	}
	has, err := u.hasIdentity(ctx, c.Meta.Caller.User)
	if err != nil {
		return commands.Result{}, err
	}
	for _, admin := range p.PendingAdministrators() {
		joined, err := u.hasIdentity(ctx, admin)
		if err != nil {
			return commands.Result{}, err
		}
		if joined {
			p.Joined(admin)
		}
	}
	invitees := make([]team.Invitation, len(c.Invitees))
	for i, inv := range c.Invitees {
		if inv.HasIdentity, err = u.hasIdentity(ctx, inv.Email); err != nil {
			return commands.Result{}, err
		}
		invitees[i] = inv
	}
	details, err := c.Decide(p, team.Caller{Email: c.Meta.Caller.User, HasIdentity: has}, invitees)
	if err != nil {
		return commands.Result{}, err
	}
	mails := 0
	for _, e := range p.Changes() {
		if _, ok := e.(team.MemberInvited); ok {
			mails++
		}
	}
	if err := u.mails.Take(c.Meta.Caller, mails, c.Meta.Time); err != nil {
		return commands.Result{}, err
	}
	res, err := u.repo.Save(ctx, l, c.Meta, c.ID, p.Changes())
	if err != nil {
		u.mails.Give(c.Meta.Caller, mails, c.Meta.Time)
	}
	res.Details = details
	return res, err
}

// csvError is a refused invitation file with its report.
type csvError struct {
	err  error
	rows []team.RowProblem
}

func (e *csvError) Error() string    { return e.err.Error() }
func (e *csvError) Unwrap() error    { return e.err }
func (e *csvError) ProblemRows() any { return e.rows }

// Routes mounts the team commands.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	change := func(created bool, build func(w http.ResponseWriter, r *http.Request, c *Change) error) http.HandlerFunc {
		return commands.Serve(h.Change, now, created, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (Change, error) {
			p, err := team.ParseID(chi.URLParam(r, "project"))
			if err != nil {
				return Change{}, err
			}
			c := Change{Meta: m, Project: p}
			return c, build(w, r, &c)
		})
	}
	simple := func(f func(p *team.Project, by team.Caller) error) func(*team.Project, team.Caller, []team.Invitation) (any, error) {
		return func(p *team.Project, by team.Caller, _ []team.Invitation) (any, error) { return nil, f(p, by) }
	}
	r.Post("/v1/identities", commands.Serve(h.CreateIdentity, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateIdentity, error) {
		var b struct {
			Name string `json:"name"`
		}
		err := commands.Decode(w, r, &b)
		return CreateIdentity{Meta: m, Name: b.Name}, err
	}))
	r.Post("/v1/cloud-projects", commands.Serve(h.CreateProject, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateProject, error) {
		var b struct {
			Name string `json:"name"`
		}
		err := commands.Decode(w, r, &b)
		return CreateProject{Meta: m, Name: b.Name}, err
	}))
	r.Put("/v1/cloud-projects/{project}", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Name string `json:"name"`
		}
		err := commands.Decode(w, r, &b)
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Rename(by, b.Name) })
		return err
	}))
	r.Delete("/v1/cloud-projects/{project}", change(false, func(_ http.ResponseWriter, _ *http.Request, c *Change) error {
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Delete(by) })
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/access", change(false, func(_ http.ResponseWriter, _ *http.Request, c *Change) error {
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Access(by) })
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/leave", change(false, func(_ http.ResponseWriter, _ *http.Request, c *Change) error {
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Leave(by) })
		return nil
	}))
	invite := func(p *team.Project, by team.Caller, invitees []team.Invitation) (any, error) {
		skipped, err := p.Invite(by, invitees...)
		if skipped == nil {
			skipped = []domain.UserID{}
		}
		return map[string]any{"invited": len(p.Changes()), "alreadyOnTeam": skipped}, err
	}
	r.Post("/v1/cloud-projects/{project}/invitations", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Email string `json:"email"`
			Role  string `json:"role"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		email, err := domain.ParseUser(b.Email)
		if err != nil {
			return err
		}
		role, err := team.ParseRoleName(b.Role)
		if err != nil {
			return err
		}
		c.Invitees, c.Decide = []team.Invitation{{Email: email, Role: role}}, invite
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/invitations/csv", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		body := http.MaxBytesReader(w, r.Body, 16<<20)
		imp, err := team.ParseCSV(body, MaxCSVRows)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return &problem.BadRequest{Code: "csv-too-large", Err: errors.New("the file is larger than 16 MiB")}
			}
			return &csvError{err: err, rows: imp.Problems}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return &problem.BadRequest{Code: "invalid-csv", Err: err}
		}
		if len(imp.Invitations) == 0 {
			return domain.Invalidf("empty-csv", "the file has no rows of people to invite (email, group, role)")
		}
		c.Invitees = imp.Invitations
		c.Decide = func(p *team.Project, by team.Caller, invitees []team.Invitation) (any, error) {
			d, err := invite(p, by, invitees)
			if err != nil {
				return nil, err
			}
			dups := imp.Duplicates
			if dups == nil {
				dups = []team.RowProblem{}
			}
			d.(map[string]any)["duplicateRows"] = dups
			return d, nil
		}
		return nil
	}))
	r.Put("/v1/cloud-projects/{project}/members/{email}/role", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Role string `json:"role"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		role, err := team.ParseRoleName(b.Role)
		if err != nil {
			return err
		}
		email, err := domain.ParseUser(chi.URLParam(r, "email"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.ChangeRole(by, email, role) })
		return nil
	}))
	r.Delete("/v1/cloud-projects/{project}/members/{email}", change(false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		email, err := domain.ParseUser(chi.URLParam(r, "email"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Remove(by, email) })
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/jobs", change(true, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Name string `json:"name"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		c.ID = commands.NewID(c.Meta.CommandID, "job")
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.CreateJob(by, team.JobID(c.ID), b.Name) })
		return nil
	}))
	r.Put("/v1/cloud-projects/{project}/jobs/{job}", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Name string `json:"name"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		job, err := team.ParseJobID(chi.URLParam(r, "job"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.UpdateJob(by, job, b.Name) })
		return nil
	}))
	r.Delete("/v1/cloud-projects/{project}/jobs/{job}", change(false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		job, err := team.ParseJobID(chi.URLParam(r, "job"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.DeleteJob(by, job) })
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/jobs/{job}/assignees", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Emails []string `json:"emails"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		emails, err := domain.ParseUsers("emails", b.Emails)
		if err != nil {
			return err
		}
		if len(emails) == 0 {
			return domain.Invalidf("no-assignees", "name at least one assignee")
		}
		job, err := team.ParseJobID(chi.URLParam(r, "job"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Assign(by, job, emails...) })
		return nil
	}))
	r.Delete("/v1/cloud-projects/{project}/jobs/{job}/assignees/{email}", change(false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		job, err := team.ParseJobID(chi.URLParam(r, "job"))
		if err != nil {
			return err
		}
		email, err := domain.ParseUser(chi.URLParam(r, "email"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Unassign(by, job, email) })
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/jobs/{job}/reassign", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			To string `json:"to"`
		}
		if err := commands.Decode(w, r, &b); err != nil {
			return err
		}
		to, err := domain.ParseUser(b.To)
		if err != nil {
			return err
		}
		job, err := team.ParseJobID(chi.URLParam(r, "job"))
		if err != nil {
			return err
		}
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.Reassign(by, job, to) })
		return nil
	}))
	r.Post("/v1/cloud-projects/{project}/stylesheets", change(false, func(w http.ResponseWriter, r *http.Request, c *Change) error {
		var b struct {
			Name string `json:"name"`
		}
		err := commands.Decode(w, r, &b)
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.AddStylesheet(by, b.Name) })
		return err
	}))
	r.Delete("/v1/cloud-projects/{project}/stylesheets/{name}", change(false, func(_ http.ResponseWriter, r *http.Request, c *Change) error {
		name := chi.URLParam(r, "name")
		c.Decide = simple(func(p *team.Project, by team.Caller) error { return p.RemoveStylesheet(by, name) })
		return nil
	}))
}
