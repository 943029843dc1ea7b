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
	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
)

// MaxCSVRows bounds an invitation file.
const MaxCSVRows = 20000

// The use cases, each one command. Project names the cloud project a
// command changes.

// RenameProject gives a cloud project a new name (administrators).
type RenameProject struct {
	Meta    commands.Meta
	Project team.ID
	Name    string
}

// DeleteProject deletes a cloud project (administrators).
type DeleteProject struct {
	Meta    commands.Meta
	Project team.ID
}

// AccessProject records that the caller opened the project.
type AccessProject DeleteProject

// LeaveProject takes the caller off the team.
type LeaveProject DeleteProject

// InviteMember invites one person with a role.
type InviteMember struct {
	Meta    commands.Meta
	Project team.ID
	Email   domain.UserID
	Role    team.Role
}

// InviteMembersFromCSV invites the people of an invitation file.
type InviteMembersFromCSV struct {
	Meta    commands.Meta
	Project team.ID
	Import  team.Import
}

// ChangeMemberRole grants or takes back the Administrator role.
type ChangeMemberRole InviteMember

// RemoveMember takes a person off the team (administrators).
type RemoveMember struct {
	Meta    commands.Meta
	Project team.ID
	Email   domain.UserID
}

// CreateJob creates a job in the project.
type CreateJob RenameProject

// RenameJob renames a job.
type RenameJob struct {
	Meta    commands.Meta
	Project team.ID
	Job     team.JobID
	Name    string
}

// DeleteJob deletes a job.
type DeleteJob struct {
	Meta    commands.Meta
	Project team.ID
	Job     team.JobID
}

// AssignJob adds members to a job's assignees.
type AssignJob struct {
	Meta    commands.Meta
	Project team.ID
	Job     team.JobID
	Emails  []domain.UserID
}

// UnassignJob takes a member off a job.
type UnassignJob struct {
	Meta    commands.Meta
	Project team.ID
	Job     team.JobID
	Email   domain.UserID
}

// ReassignJob hands the caller's job to another member.
type ReassignJob UnassignJob

// AddStylesheet adds a report stylesheet.
type AddStylesheet RenameProject

// RemoveStylesheet removes a report stylesheet.
type RemoveStylesheet RenameProject

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

// Handlers are the team use cases, each logged and measured by its name.
type Handlers struct {
	CreateIdentity       commands.Handler[CreateIdentity]
	CreateProject        commands.Handler[CreateProject]
	RenameProject        commands.Handler[RenameProject]
	DeleteProject        commands.Handler[DeleteProject]
	AccessProject        commands.Handler[AccessProject]
	LeaveProject         commands.Handler[LeaveProject]
	InviteMember         commands.Handler[InviteMember]
	InviteMembersFromCSV commands.Handler[InviteMembersFromCSV]
	ChangeMemberRole     commands.Handler[ChangeMemberRole]
	RemoveMember         commands.Handler[RemoveMember]
	CreateJob            commands.Handler[CreateJob]
	RenameJob            commands.Handler[RenameJob]
	DeleteJob            commands.Handler[DeleteJob]
	AssignJob            commands.Handler[AssignJob]
	UnassignJob          commands.Handler[UnassignJob]
	ReassignJob          commands.Handler[ReassignJob]
	AddStylesheet        commands.Handler[AddStylesheet]
	RemoveStylesheet     commands.Handler[RemoveStylesheet]
}

// New builds the handlers on repo, decorated. Invitations count against
// their caller's mail quota (nil: none).
func New(repo commands.Repo, log *slog.Logger, mails *commands.MailQuota) Handlers {
	u := useCases{repo, mails}
	m := repo.Metrics
	return Handlers{
		CreateIdentity:       commands.Decorate(u.createIdentity, log, "CreateIdentity", m),
		CreateProject:        commands.Decorate(u.createProject, log, "CreateCloudProject", m),
		RenameProject:        commands.Decorate(u.renameProject, log, "RenameCloudProject", m),
		DeleteProject:        commands.Decorate(u.deleteProject, log, "DeleteCloudProject", m),
		AccessProject:        commands.Decorate(u.accessProject, log, "AccessCloudProject", m),
		LeaveProject:         commands.Decorate(u.leaveProject, log, "LeaveCloudProject", m),
		InviteMember:         commands.Decorate(u.inviteMember, log, "InviteMember", m),
		InviteMembersFromCSV: commands.Decorate(u.inviteMembersFromCSV, log, "InviteMembersFromCSV", m),
		ChangeMemberRole:     commands.Decorate(u.changeMemberRole, log, "ChangeMemberRole", m),
		RemoveMember:         commands.Decorate(u.removeMember, log, "RemoveMember", m),
		CreateJob:            commands.Decorate(u.createJob, log, "CreateJob", m),
		RenameJob:            commands.Decorate(u.renameJob, log, "RenameJob", m),
		DeleteJob:            commands.Decorate(u.deleteJob, log, "DeleteJob", m),
		AssignJob:            commands.Decorate(u.assignJob, log, "AssignJob", m),
		UnassignJob:          commands.Decorate(u.unassignJob, log, "UnassignJob", m),
		ReassignJob:          commands.Decorate(u.reassignJob, log, "ReassignJob", m),
		AddStylesheet:        commands.Decorate(u.addStylesheet, log, "AddStylesheet", m),
		RemoveStylesheet:     commands.Decorate(u.removeStylesheet, log, "RemoveStylesheet", m),
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
	return commands.Create(ctx, u.repo, team.IdentityStream(c.Meta.Caller.User), c.Meta, string(c.Meta.Caller.User), ErrIdentityExists, func() ([]domain.Event, error) {
		name, err := domain.RequireText("name", c.Name, 200)
		if err != nil {
			return nil, err
		}
		return []domain.Event{team.IdentityCreated{Email: c.Meta.Caller.User, Name: name}}, nil
	})
}

func (u useCases) createProject(ctx context.Context, c CreateProject) (commands.Result, error) {
	id := commands.NewID(c.Meta.CommandID, "cloud-project")
	return commands.Create(ctx, u.repo, team.Stream(team.ID(id)), c.Meta, id, commands.ErrStreamExists, func() ([]domain.Event, error) {
		p, err := team.Create(team.Caller{Email: c.Meta.Caller.User, HasIdentity: true}, team.ID(id), c.Name)
		if err != nil {
			return nil, err
		}
		return p.Changes(), nil
	})
}

// decision is what a use case decides on the loaded project, for a caller,
// with the invitees' identities looked up; details say more about what it
// did.
type decision func(p *team.Project, by team.Caller, invitees []team.Invitation) (details any, err error)

// simple is a decision that says nothing more than its events.
func simple(f func(p *team.Project, by team.Caller) error) decision {
	return func(p *team.Project, by team.Caller, _ []team.Invitation) (any, error) { return nil, f(p, by) }
}

// change is the pipeline every use case on a project goes through: the
// repository's (commands.Change: load the project's state, answer a
// command sent again with its first outcome, decide, save), deciding after
// looking up the identities the rules need (the caller's, pending
// administrators', invitees') and counting the mails the decision causes
// against the caller's quota. id names what the command creates, if
// anything.
func (u useCases) change(ctx context.Context, m commands.Meta, project team.ID, id string, invitees []team.Invitation, decide decision) (commands.Result, error) {
	mails := 0 // taken from the caller's quota, given back if the append fails
	res, err := commands.Change(ctx, u.repo, team.Stream(project), m, team.New, id, func(l *commands.Loaded, p *team.Project) (any, error) {
		if !l.Exists() {
			return nil, domain.NewError(domain.NotFound, "unknown-cloud-project", "no such cloud project")
		}
		has, err := u.hasIdentity(ctx, m.Caller.User)
		if err != nil {
			return nil, err
		}
		for _, admin := range p.PendingAdministrators() {
			joined, err := u.hasIdentity(ctx, admin)
			if err != nil {
				return nil, err
			}
			if joined {
				p.Joined(admin)
			}
		}
		looked := make([]team.Invitation, len(invitees))
		for i, inv := range invitees {
			if inv.HasIdentity, err = u.hasIdentity(ctx, inv.Email); err != nil {
				return nil, err
			}
			looked[i] = inv
		}
		details, err := decide(p, team.Caller{Email: m.Caller.User, HasIdentity: has}, looked)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range p.Changes() {
			if _, ok := e.(team.MemberInvited); ok {
				n++
			}
		}
		if err := u.mails.Take(m.Caller, n, m.Time); err != nil {
			return nil, err
		}
		mails = n
		return details, nil
	})
	if err != nil && mails > 0 {
		u.mails.Give(m.Caller, mails, m.Time)
	}
	return res, err
}

func (u useCases) renameProject(ctx context.Context, c RenameProject) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Rename(by, c.Name) }))
}

func (u useCases) deleteProject(ctx context.Context, c DeleteProject) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Delete(by) }))
}

func (u useCases) accessProject(ctx context.Context, c AccessProject) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Access(by) }))
}

func (u useCases) leaveProject(ctx context.Context, c LeaveProject) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Leave(by) }))
}

// invite invites people and says who was invited and who was on the team
// already.
func invite(p *team.Project, by team.Caller, invitees []team.Invitation) (map[string]any, error) {
	skipped, err := p.Invite(by, invitees...)
	if skipped == nil {
		skipped = []domain.UserID{}
	}
	return map[string]any{"invited": len(p.Changes()), "alreadyOnTeam": skipped}, err
}

func (u useCases) inviteMember(ctx context.Context, c InviteMember) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", []team.Invitation{{Email: c.Email, Role: c.Role}},
		func(p *team.Project, by team.Caller, invitees []team.Invitation) (any, error) {
			return invite(p, by, invitees)
		})
}

func (u useCases) inviteMembersFromCSV(ctx context.Context, c InviteMembersFromCSV) (commands.Result, error) {
	if len(c.Import.Invitations) == 0 {
		return commands.Result{}, domain.Invalidf("empty-csv", "the file has no rows of people to invite (email, group, role)")
	}
	return u.change(ctx, c.Meta, c.Project, "", c.Import.Invitations, func(p *team.Project, by team.Caller, invitees []team.Invitation) (any, error) {
		d, err := invite(p, by, invitees)
		if err != nil {
			return nil, err
		}
		dups := c.Import.Duplicates
		if dups == nil {
			dups = []team.RowProblem{}
		}
		d["duplicateRows"] = dups
		return d, nil
	})
}

func (u useCases) changeMemberRole(ctx context.Context, c ChangeMemberRole) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.ChangeRole(by, c.Email, c.Role) }))
}

func (u useCases) removeMember(ctx context.Context, c RemoveMember) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Remove(by, c.Email) }))
}

func (u useCases) createJob(ctx context.Context, c CreateJob) (commands.Result, error) {
	id := commands.NewID(c.Meta.CommandID, "job")
	return u.change(ctx, c.Meta, c.Project, id, nil, simple(func(p *team.Project, by team.Caller) error { return p.CreateJob(by, team.JobID(id), c.Name) }))
}

func (u useCases) renameJob(ctx context.Context, c RenameJob) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.UpdateJob(by, c.Job, c.Name) }))
}

func (u useCases) deleteJob(ctx context.Context, c DeleteJob) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.DeleteJob(by, c.Job) }))
}

func (u useCases) assignJob(ctx context.Context, c AssignJob) (commands.Result, error) {
	if len(c.Emails) == 0 {
		return commands.Result{}, domain.Invalidf("no-assignees", "name at least one assignee")
	}
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Assign(by, c.Job, c.Emails...) }))
}

func (u useCases) unassignJob(ctx context.Context, c UnassignJob) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Unassign(by, c.Job, c.Email) }))
}

func (u useCases) reassignJob(ctx context.Context, c ReassignJob) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.Reassign(by, c.Job, c.Email) }))
}

func (u useCases) addStylesheet(ctx context.Context, c AddStylesheet) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.AddStylesheet(by, c.Name) }))
}

func (u useCases) removeStylesheet(ctx context.Context, c RemoveStylesheet) (commands.Result, error) {
	return u.change(ctx, c.Meta, c.Project, "", nil, simple(func(p *team.Project, by team.Caller) error { return p.RemoveStylesheet(by, c.Name) }))
}

// csvError is a refused invitation file with its report.
type csvError struct {
	err  error
	rows []team.RowProblem
}

func (e *csvError) Error() string    { return e.err.Error() }
func (e *csvError) Unwrap() error    { return e.err }
func (e *csvError) ProblemRows() any { return e.rows }

// Routes mounts the team commands: each route decodes its command (path
// and body, into their normal forms) and hands it to its use case.
func (h Handlers) Routes(r chi.Router, now func() time.Time) {
	r.Post("/v1/identities", commands.Serve(h.CreateIdentity, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateIdentity, error) {
		var b struct {
			Name string `json:"name"`
		}
		err := httpapi.Decode(w, r, &b)
		return CreateIdentity{Meta: m, Name: b.Name}, err
	}))
	r.Post("/v1/cloud-projects", commands.Serve(h.CreateProject, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateProject, error) {
		var b struct {
			Name string `json:"name"`
		}
		err := httpapi.Decode(w, r, &b)
		return CreateProject{Meta: m, Name: b.Name}, err
	}))
	r.Put("/v1/cloud-projects/{project}", commands.Serve(h.RenameProject, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (RenameProject, error) {
		return named[RenameProject](w, r, m)
	}))
	r.Delete("/v1/cloud-projects/{project}", commands.Serve(h.DeleteProject, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (DeleteProject, error) {
		p, err := project(r)
		return DeleteProject{Meta: m, Project: p}, err
	}))
	r.Post("/v1/cloud-projects/{project}/access", commands.Serve(h.AccessProject, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (AccessProject, error) {
		p, err := project(r)
		return AccessProject{Meta: m, Project: p}, err
	}))
	r.Post("/v1/cloud-projects/{project}/leave", commands.Serve(h.LeaveProject, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (LeaveProject, error) {
		p, err := project(r)
		return LeaveProject{Meta: m, Project: p}, err
	}))
	r.Post("/v1/cloud-projects/{project}/invitations", commands.Serve(h.InviteMember, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (InviteMember, error) {
		var b struct {
			Email string `json:"email"`
			Role  string `json:"role"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return InviteMember{}, err
		}
		p, errP := project(r)
		email, errE := domain.ParseUser(b.Email)
		role, errR := team.ParseRoleName(b.Role)
		return InviteMember{Meta: m, Project: p, Email: email, Role: role}, errors.Join(errP, errE, errR)
	}))
	r.Post("/v1/cloud-projects/{project}/invitations/csv", commands.Serve(h.InviteMembersFromCSV, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (InviteMembersFromCSV, error) {
		p, err := project(r)
		if err != nil {
			return InviteMembersFromCSV{}, err
		}
		body := http.MaxBytesReader(w, r.Body, 16<<20)
		imp, err := team.ParseCSV(body, MaxCSVRows)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return InviteMembersFromCSV{}, &httpapi.BadRequest{Code: "csv-too-large", Err: errors.New("the file is larger than 16 MiB")}
			}
			return InviteMembersFromCSV{}, &csvError{err: err, rows: imp.Problems}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return InviteMembersFromCSV{}, &httpapi.BadRequest{Code: "invalid-csv", Err: err}
		}
		return InviteMembersFromCSV{Meta: m, Project: p, Import: imp}, nil
	}))
	r.Put("/v1/cloud-projects/{project}/members/{email}/role", commands.Serve(h.ChangeMemberRole, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ChangeMemberRole, error) {
		var b struct {
			Role string `json:"role"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return ChangeMemberRole{}, err
		}
		p, errP := project(r)
		role, errR := team.ParseRoleName(b.Role)
		email, errE := domain.ParseUser(chi.URLParam(r, "email"))
		return ChangeMemberRole{Meta: m, Project: p, Email: email, Role: role}, errors.Join(errP, errR, errE)
	}))
	r.Delete("/v1/cloud-projects/{project}/members/{email}", commands.Serve(h.RemoveMember, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (RemoveMember, error) {
		p, errP := project(r)
		email, errE := domain.ParseUser(chi.URLParam(r, "email"))
		return RemoveMember{Meta: m, Project: p, Email: email}, errors.Join(errP, errE)
	}))
	r.Post("/v1/cloud-projects/{project}/jobs", commands.Serve(h.CreateJob, now, true, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (CreateJob, error) {
		return named[CreateJob](w, r, m)
	}))
	r.Put("/v1/cloud-projects/{project}/jobs/{job}", commands.Serve(h.RenameJob, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (RenameJob, error) {
		n, err := named[RenameProject](w, r, m)
		if err != nil {
			return RenameJob{}, err
		}
		job, err := team.ParseJobID(chi.URLParam(r, "job"))
		return RenameJob{Meta: m, Project: n.Project, Job: job, Name: n.Name}, err
	}))
	r.Delete("/v1/cloud-projects/{project}/jobs/{job}", commands.Serve(h.DeleteJob, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (DeleteJob, error) {
		p, errP := project(r)
		job, errJ := team.ParseJobID(chi.URLParam(r, "job"))
		return DeleteJob{Meta: m, Project: p, Job: job}, errors.Join(errP, errJ)
	}))
	r.Post("/v1/cloud-projects/{project}/jobs/{job}/assignees", commands.Serve(h.AssignJob, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (AssignJob, error) {
		var b struct {
			Emails []string `json:"emails"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return AssignJob{}, err
		}
		p, errP := project(r)
		emails, errE := domain.ParseUsers("emails", b.Emails)
		job, errJ := team.ParseJobID(chi.URLParam(r, "job"))
		return AssignJob{Meta: m, Project: p, Job: job, Emails: emails}, errors.Join(errP, errE, errJ)
	}))
	r.Delete("/v1/cloud-projects/{project}/jobs/{job}/assignees/{email}", commands.Serve(h.UnassignJob, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (UnassignJob, error) {
		p, errP := project(r)
		job, errJ := team.ParseJobID(chi.URLParam(r, "job"))
		email, errE := domain.ParseUser(chi.URLParam(r, "email"))
		return UnassignJob{Meta: m, Project: p, Job: job, Email: email}, errors.Join(errP, errJ, errE)
	}))
	r.Post("/v1/cloud-projects/{project}/jobs/{job}/reassign", commands.Serve(h.ReassignJob, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (ReassignJob, error) {
		var b struct {
			To string `json:"to"`
		}
		if err := httpapi.Decode(w, r, &b); err != nil {
			return ReassignJob{}, err
		}
		p, errP := project(r)
		to, errT := domain.ParseUser(b.To)
		job, errJ := team.ParseJobID(chi.URLParam(r, "job"))
		return ReassignJob{Meta: m, Project: p, Job: job, Email: to}, errors.Join(errP, errT, errJ)
	}))
	r.Post("/v1/cloud-projects/{project}/stylesheets", commands.Serve(h.AddStylesheet, now, false, func(w http.ResponseWriter, r *http.Request, m commands.Meta) (AddStylesheet, error) {
		return named[AddStylesheet](w, r, m)
	}))
	r.Delete("/v1/cloud-projects/{project}/stylesheets/{name}", commands.Serve(h.RemoveStylesheet, now, false, func(_ http.ResponseWriter, r *http.Request, m commands.Meta) (RemoveStylesheet, error) {
		p, err := project(r)
		return RemoveStylesheet{Meta: m, Project: p, Name: chi.URLParam(r, "name")}, err
	}))
}

// project is the cloud project a route names.
func project(r *http.Request) (team.ID, error) { return team.ParseID(chi.URLParam(r, "project")) }

// named decodes the commands that name something in a project: the
// project from the path, the name from the body ({"name": ...}).
func named[C ~struct {
	Meta    commands.Meta
	Project team.ID
	Name    string
}](w http.ResponseWriter, r *http.Request, m commands.Meta) (C, error) {
	var b struct {
		Name string `json:"name"`
	}
	if err := httpapi.Decode(w, r, &b); err != nil {
		return C{}, err
	}
	p, err := project(r)
	return C{Meta: m, Project: p, Name: b.Name}, err
}
