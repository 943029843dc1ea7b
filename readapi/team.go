package readapi

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/projections"
	teammodel "github.com/shareledger/shareledger/projections/team"
)

// TeamRoutes mounts the cloud project queries.
func (a *API) TeamRoutes(r chi.Router) {
	needs := []string{teammodel.Name}
	r.Get("/v1/cloud-projects/{project}", a.servePerson(needs, a.cloudProject))
	r.Get("/v1/cloud-projects/{project}/stylesheets", a.servePerson(needs, a.stylesheets))
	r.Get("/v1/cloud-projects/{project}/team", a.servePerson(needs, a.teamTab))
	r.Get("/v1/cloud-projects/{project}/jobs", a.servePerson(needs, a.projectJobs))
	r.Get("/v1/me/cloud-projects", a.servePerson(needs, a.myProjects))
	r.Get("/v1/me/jobs", a.servePerson(needs, a.myJobs))
}

// onTeam applies the rule the commands apply (team.MayRead): only an
// active member of a project that still exists reads its team and jobs.
func onTeam(ctx context.Context, q teammodel.Query, project team.ID, person domain.UserID) error {
	m, found, err := q.Member(ctx, project, person)
	if err != nil {
		return err
	}
	p, exists, err := q.Project(ctx, project)
	if err != nil {
		return err
	}
	if !found || !exists || !team.MayRead(p.Deleted, team.Status(m.Status)) {
		return errNotFound.Withf("no cloud project %s has %s as an active member", project, person)
	}
	return nil
}

// teamPage reads the project a page of whose lists a member asks for,
// checking that the caller is an active member, and the page.
func teamPage(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (teammodel.Query, team.ID, projections.Page, error) {
	q, project := teammodel.Query{R: tx}, team.ID(chi.URLParam(r, "project"))
	if err := onTeam(ctx, q, project, person); err != nil {
		return q, project, projections.Page{}, err
	}
	page, err := pageOf(r, "")
	return q, project, page, err
}

func (a *API) teamTab(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	q, project, page, err := teamPage(ctx, r, tx, person)
	if err != nil {
		return nil, err
	}
	status, err := filter(r, "status", string(team.Invited), string(team.Active), string(team.Removed))
	if err != nil {
		return nil, err
	}
	items, next, err := q.Team(ctx, project, team.Status(status), page)
	return Page[teammodel.Member]{Items: items, Next: next}, err
}

func (a *API) projectJobs(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	q, project, page, err := teamPage(ctx, r, tx, person)
	if err != nil {
		return nil, err
	}
	items, next, err := q.Jobs(ctx, project, page)
	return Page[teammodel.Job]{Items: items, Next: next}, err
}

func (a *API) myProjects(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	items, next, err := teammodel.Query{R: tx}.ProjectsOf(ctx, person, page)
	return Page[teammodel.MyProject]{Items: items, Next: next}, err
}

func (a *API) myJobs(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	items, next, err := teammodel.Query{R: tx}.JobsOf(ctx, person, page)
	return Page[teammodel.MyJob]{Items: items, Next: next}, err
}

// CloudProject is a cloud project's properties as a member sees them.
type CloudProject struct {
	ID   team.ID `json:"id"`
	Name string  `json:"name"`
	// Role is the caller's role on the project.
	Role string `json:"role"`
}

func (a *API) cloudProject(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	q, project := teammodel.Query{R: tx}, team.ID(chi.URLParam(r, "project"))
	if err := onTeam(ctx, q, project, person); err != nil {
		return nil, err
	}
	p, _, err := q.Project(ctx, project)
	if err != nil {
		return nil, err
	}
	m, _, err := q.Member(ctx, project, person)
	return CloudProject{ID: p.ID, Name: p.Name, Role: m.Role}, err
}

func (a *API) stylesheets(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	q, project, page, err := teamPage(ctx, r, tx, person)
	if err != nil {
		return nil, err
	}
	items, next, err := q.Stylesheets(ctx, project, page)
	return Page[teammodel.Stylesheet]{Items: items, Next: next}, err
}
