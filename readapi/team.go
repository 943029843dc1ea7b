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
	r.Get("/v1/cloud-projects/{project}/team", a.servePerson(needs, a.teamTab))
	r.Get("/v1/cloud-projects/{project}/jobs", a.servePerson(needs, a.projectJobs))
	r.Get("/v1/me/cloud-projects", a.servePerson(needs, a.myProjects))
	r.Get("/v1/me/jobs", a.servePerson(needs, a.myJobs))
}

// onTeam applies the rule the commands apply: only an active member of a
// project that still exists reads its team and jobs. Someone invited
// before having an identity is not active yet; a removed member no longer
// is; a deleted project is not there.
func onTeam(ctx context.Context, tx projections.Reader, project string, person domain.UserID) error {
	var m teammodel.Member
	var p teammodel.Project
	found, err := tx.Get(ctx, teammodel.Members, projections.Key(project, string(person)), &m)
	if err != nil {
		return err
	}
	exists, err := tx.Get(ctx, teammodel.Projects, projections.KeyPart(project), &p)
	if err != nil {
		return err
	}
	if !found || !exists || p.Deleted || m.Status != string(team.Active) {
		return errNotFound.Withf("no cloud project %s has %s as an active member", project, person)
	}
	return nil
}

func (a *API) teamTab(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	project := chi.URLParam(r, "project")
	if err := onTeam(ctx, tx, project, person); err != nil {
		return nil, err
	}
	page, err := pageOf(r, projections.KeyPart(project)+"/")
	if err != nil {
		return nil, err
	}
	status, err := filter(r, "status", string(team.Invited), string(team.Active), string(team.Removed))
	if err != nil {
		return nil, err
	}
	return list(ctx, tx, teammodel.Members, page, func(m *teammodel.Member) bool { return status == "" || m.Status == status })
}

func (a *API) projectJobs(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	project := chi.URLParam(r, "project")
	if err := onTeam(ctx, tx, project, person); err != nil {
		return nil, err
	}
	page, err := pageOf(r, projections.KeyPart(project)+"/")
	if err != nil {
		return nil, err
	}
	return list[teammodel.Job](ctx, tx, teammodel.Jobs, page, nil)
}

func (a *API) myProjects(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	page, err := pageOf(r, projections.KeyPart(string(person))+"/")
	if err != nil {
		return nil, err
	}
	return list(ctx, tx, teammodel.Mine, page, func(p *teammodel.MyProject) bool { return p.Status != string(team.Removed) })
}

func (a *API) myJobs(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	page, err := pageOf(r, projections.KeyPart(string(person))+"/")
	if err != nil {
		return nil, err
	}
	return list[teammodel.MyJob](ctx, tx, teammodel.MyJobs, page, nil)
}
