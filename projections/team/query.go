package team

import (
	"context"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/projections"
)

// Query reads the team tabs and jobs: how the read side asks this
// projection, so that its tables and keys stay its own.
type Query struct{ R projections.Reader }

// Member is a person's row on a project's team, if they were ever on it.
func (q Query) Member(ctx context.Context, project team.ID, person domain.UserID) (Member, bool, error) {
	var m Member
	found, err := q.R.Get(ctx, Members, projections.Key(string(project), string(person)), &m)
	return m, found, err
}

// Project is a project, deleted or not, if it was ever created.
func (q Query) Project(ctx context.Context, project team.ID) (Project, bool, error) {
	var p Project
	found, err := q.R.Get(ctx, Projects, projections.KeyPart(string(project)), &p)
	return p, found, err
}

// Team is a page of a project's team (the members with status, or all for
// ""), after the cursor in page.After, and the cursor of the next page.
func (q Query) Team(ctx context.Context, project team.ID, status team.Status, page projections.Page) ([]Member, string, error) {
	return projections.List(ctx, q.R, Members, projections.Within(projections.KeyPart(string(project))+"/", page),
		func(m *Member) bool { return status == "" || m.Status == string(status) })
}

// Jobs is a page of a project's jobs.
func (q Query) Jobs(ctx context.Context, project team.ID, page projections.Page) ([]Job, string, error) {
	return projections.List[Job](ctx, q.R, Jobs, projections.Within(projections.KeyPart(string(project))+"/", page), nil)
}

// ProjectsOf is a page of the projects a person is on or invited to (not
// those they were removed from).
func (q Query) ProjectsOf(ctx context.Context, person domain.UserID, page projections.Page) ([]MyProject, string, error) {
	return projections.List(ctx, q.R, Mine, projections.Within(projections.KeyPart(string(person))+"/", page),
		func(p *MyProject) bool { return p.Status != string(team.Removed) })
}

// JobsOf is a page of the jobs a person is assigned to.
func (q Query) JobsOf(ctx context.Context, person domain.UserID, page projections.Page) ([]MyJob, string, error) {
	return projections.List[MyJob](ctx, q.R, MyJobs, projections.Within(projections.KeyPart(string(person))+"/", page), nil)
}

// Stylesheets is a page of a project's stylesheets, by name.
func (q Query) Stylesheets(ctx context.Context, project team.ID, page projections.Page) ([]Stylesheet, string, error) {
	return projections.List[Stylesheet](ctx, q.R, Stylesheets, projections.Within(projections.KeyPart(string(project))+"/", page), nil)
}

// Identity is the name a person gave their identity, if they made one.
func (q Query) Identity(ctx context.Context, person domain.UserID) (string, bool, error) {
	var name string
	found, err := q.R.Get(ctx, identities, projections.KeyPart(string(person)), &name)
	return name, found, err
}
