// Package team projects cloud project teams: the Team tab (name, e-mail,
// role, status, last access), the jobs with their assignees, and each
// person's projects and jobs, which is what a field user opens first.
package team

import (
	"context"
	"encoding/json"
	"iter"
	"slices"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/projections"
)

// Tables the projection owns.
const (
	Members     = "team.members"     // project/email -> Member
	Jobs        = "team.jobs"        // project/job -> Job
	Projects    = "team.projects"    // project -> Project
	Mine        = "team.mine"        // email/project -> MyProject
	MyJobs      = "team.myjobs"      // email/project/job -> MyJob
	Stylesheets = "team.stylesheets" // project/stylesheet -> Stylesheet
	identities  = "team.identities"  // email -> name
	pending     = "team.pending"     // email/project -> true: invitations waiting for an identity
)

// Member is one row of the Team tab.
type Member struct {
	Email      domain.UserID `json:"email"`
	Name       string        `json:"name"`
	Role       string        `json:"role"`
	Status     string        `json:"status"`
	InvitedAt  time.Time     `json:"invitedAt"`
	LastAccess *time.Time    `json:"lastAccess,omitempty"`
}

// Job is a job with its assignees.
type Job struct {
	ID        team.JobID      `json:"id"`
	Name      string          `json:"name"`
	CreatedBy domain.UserID   `json:"createdBy"`
	Assignees []domain.UserID `json:"assignees"`
}

// Project is a cloud project's name.
type Project struct {
	ID      team.ID `json:"id"`
	Name    string  `json:"name"`
	Deleted bool    `json:"deleted"`
}

// Stylesheet is one of a project's stylesheets.
type Stylesheet struct {
	Name    string        `json:"name"`
	AddedBy domain.UserID `json:"addedBy"`
	AddedAt time.Time     `json:"addedAt"`
}

// MyProject is one of a person's projects.
type MyProject struct {
	Project team.ID `json:"project"`
	Name    string  `json:"name"`
	Role    string  `json:"role"`
	Status  string  `json:"status"`
}

// MyJob is one of a person's jobs.
type MyJob struct {
	Project team.ID    `json:"project"`
	Job     team.JobID `json:"job"`
	Name    string     `json:"name"`
}

// Projection maintains the tables.
type Projection struct{}

// Name is the projection's name: the key of its checkpoint and of its
// progress, and how readers, rebuilds and audits refer to it.
const Name = "team"

// Name implements projections.Projection.
func (Projection) Name() string { return Name }

func k(parts ...string) string {
	return projections.Key(parts...)
}

// Apply implements projections.Projection.
func (Projection) Apply(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	at := env.Record.Meta.Time
	switch e := env.Event.(type) {
	case team.IdentityCreated:
		if err := tx.Put(ctx, identities, projections.KeyPart(string(e.Email)), e.Name); err != nil {
			return err
		}
		// The identity completes the pending invitations.
		prefix := k(string(e.Email)) + "/"
		var projects []string
		if err := tx.Scan(ctx, pending, projections.Page{Prefix: prefix}, func(key string, doc []byte) error {
			p, err := projections.SetMember(key, prefix, doc)
			projects = append(projects, p)
			return err
		}); err != nil {
			return err
		}
		for _, p := range projects {
			if err := setMember(ctx, tx, team.ID(p), e.Email, func(m *Member) { m.Status, m.Name = string(team.Active), e.Name }); err != nil {
				return err
			}
			if err := tx.Delete(ctx, pending, k(string(e.Email), p)); err != nil {
				return err
			}
		}
	case team.CloudProjectCreated:
		if err := tx.Put(ctx, Projects, projections.KeyPart(string(e.Project)), Project{ID: e.Project, Name: e.Name}); err != nil {
			return err
		}
		var name string
		if _, err := tx.Get(ctx, identities, projections.KeyPart(string(e.By)), &name); err != nil {
			return err
		}
		return putMember(ctx, tx, e.Project, Member{Email: e.By, Name: name, Role: team.Administrator.String(), Status: string(team.Active), InvitedAt: at})
	case team.StylesheetAdded:
		return tx.Put(ctx, Stylesheets, k(string(e.Project), e.Stylesheet), Stylesheet{Name: e.Stylesheet, AddedBy: e.By, AddedAt: at})
	case team.StylesheetRemoved:
		return tx.Delete(ctx, Stylesheets, k(string(e.Project), e.Stylesheet))
	case team.CloudProjectRenamed:
		if err := change(ctx, tx, Projects, projections.KeyPart(string(e.Project)), func(p *Project) { p.Name = e.Name }); err != nil {
			return err
		}
		// Every member's list of projects shows the new name.
		return eachMember(ctx, tx, e.Project, func(m Member) error { return mine(ctx, tx, e.Project, m) })
	case team.CloudProjectDeleted:
		if err := change(ctx, tx, Projects, projections.KeyPart(string(e.Project)), func(p *Project) { p.Deleted = true }); err != nil {
			return err
		}
		// The project leaves every member's lists, and its invitations
		// lapse; its team and jobs stay for the record but are not served.
		return eachMember(ctx, tx, e.Project, func(m Member) error {
			if err := tx.Delete(ctx, Mine, k(string(m.Email), string(e.Project))); err != nil {
				return err
			}
			if err := tx.Delete(ctx, pending, k(string(m.Email), string(e.Project))); err != nil {
				return err
			}
			prefix := k(string(m.Email), string(e.Project)) + "/"
			var jobs []string
			if err := tx.Scan(ctx, MyJobs, projections.Page{Prefix: prefix}, func(key string, _ []byte) error {
				jobs = append(jobs, key)
				return nil
			}); err != nil {
				return err
			}
			for _, j := range jobs {
				if err := tx.Delete(ctx, MyJobs, j); err != nil {
					return err
				}
			}
			return nil
		})
	case team.MemberInvited:
		status := team.Invited
		var name string
		hasIdentity, err := tx.Get(ctx, identities, projections.KeyPart(string(e.Email)), &name)
		if err != nil {
			return err
		}
		if e.Active || hasIdentity {
			status = team.Active
		} else if err := tx.Put(ctx, pending, k(string(e.Email), string(e.Project)), e.Project); err != nil {
			return err
		}
		return putMember(ctx, tx, e.Project, Member{Email: e.Email, Name: name, Role: e.Role.String(), Status: string(status), InvitedAt: at})
	case team.MemberRoleChanged:
		return setMember(ctx, tx, e.Project, e.Email, func(m *Member) { m.Role = e.Role.String() })
	case team.MemberRemoved:
		if err := tx.Delete(ctx, pending, k(string(e.Email), string(e.Project))); err != nil {
			return err
		}
		return setMember(ctx, tx, e.Project, e.Email, func(m *Member) { m.Status = string(team.Removed) })
	case team.ProjectAccessed:
		return setMember(ctx, tx, e.Project, e.Email, func(m *Member) { m.LastAccess = &at })
	case team.JobCreated:
		return tx.Put(ctx, Jobs, k(string(e.Project), string(e.Job)), Job{ID: e.Job, Name: e.Name, CreatedBy: e.By, Assignees: []domain.UserID{}})
	case team.JobUpdated:
		var j Job
		if _, err := tx.Get(ctx, Jobs, k(string(e.Project), string(e.Job)), &j); err != nil {
			return err
		}
		j.Name = e.Name
		for _, a := range j.Assignees {
			if err := tx.Put(ctx, MyJobs, k(string(a), string(e.Project), string(e.Job)), MyJob{Project: e.Project, Job: e.Job, Name: e.Name}); err != nil {
				return err
			}
		}
		return tx.Put(ctx, Jobs, k(string(e.Project), string(e.Job)), j)
	case team.JobDeleted:
		var j Job
		if _, err := tx.Get(ctx, Jobs, k(string(e.Project), string(e.Job)), &j); err != nil {
			return err
		}
		for _, a := range j.Assignees {
			if err := tx.Delete(ctx, MyJobs, k(string(a), string(e.Project), string(e.Job))); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, Jobs, k(string(e.Project), string(e.Job)))
	case team.JobAssigned:
		var j Job
		if _, err := tx.Get(ctx, Jobs, k(string(e.Project), string(e.Job)), &j); err != nil {
			return err
		}
		if !slices.Contains(j.Assignees, e.Email) {
			j.Assignees = append(j.Assignees, e.Email)
		}
		if err := tx.Put(ctx, MyJobs, k(string(e.Email), string(e.Project), string(e.Job)), MyJob{Project: e.Project, Job: e.Job, Name: j.Name}); err != nil {
			return err
		}
		return tx.Put(ctx, Jobs, k(string(e.Project), string(e.Job)), j)
	case team.JobUnassigned:
		var j Job
		if _, err := tx.Get(ctx, Jobs, k(string(e.Project), string(e.Job)), &j); err != nil {
			return err
		}
		j.Assignees = slices.DeleteFunc(j.Assignees, func(u domain.UserID) bool { return u == e.Email })
		if err := tx.Delete(ctx, MyJobs, k(string(e.Email), string(e.Project), string(e.Job))); err != nil {
			return err
		}
		return tx.Put(ctx, Jobs, k(string(e.Project), string(e.Job)), j)
	}
	return nil
}

func putMember(ctx context.Context, tx projections.Tx, p team.ID, m Member) error {
	if err := tx.Put(ctx, Members, k(string(p), string(m.Email)), m); err != nil {
		return err
	}
	return mine(ctx, tx, p, m)
}

func setMember(ctx context.Context, tx projections.Tx, p team.ID, email domain.UserID, fn func(*Member)) error {
	var m Member
	found, err := tx.Get(ctx, Members, k(string(p), string(email)), &m)
	if err != nil || !found {
		return err
	}
	fn(&m)
	return putMember(ctx, tx, p, m)
}

// mine keeps a person's list of projects in step with their membership.
func mine(ctx context.Context, tx projections.Tx, p team.ID, m Member) error {
	var proj Project
	if _, err := tx.Get(ctx, Projects, projections.KeyPart(string(p)), &proj); err != nil {
		return err
	}
	if proj.Deleted {
		return nil
	}
	return tx.Put(ctx, Mine, k(string(m.Email), string(p)), MyProject{Project: p, Name: proj.Name, Role: m.Role, Status: m.Status})
}

// eachMember calls fn with every member of a project's team, read first.
func eachMember(ctx context.Context, tx projections.Tx, p team.ID, fn func(Member) error) error {
	var members []Member
	if err := tx.Scan(ctx, Members, projections.Page{Prefix: k(string(p)) + "/"}, func(_ string, doc []byte) error {
		var m Member
		err := json.Unmarshal(doc, &m)
		members = append(members, m)
		return err
	}); err != nil {
		return err
	}
	for _, m := range members {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func change[T any](ctx context.Context, tx projections.Tx, table, key string, fn func(*T)) error {
	var v T
	found, err := tx.Get(ctx, table, key, &v)
	if err != nil || !found {
		return err
	}
	fn(&v)
	return tx.Put(ctx, table, key, v)
}

// Tables lists the tables the projection owns, for verification.
func (Projection) Tables() []string {
	return []string{Members, Jobs, Projects, Mine, MyJobs, Stylesheets, identities, pending}
}

var _ projections.Prefetcher = Projection{}

// Prefetch implements projections.Prefetcher: the identities, members,
// projects and jobs that applying envs reads (an import of invitations
// reads each invitee's identity and membership).
func (Projection) Prefetch(envs iter.Seq[*projections.Envelope]) []projections.TableKeys {
	var ids, members, projects, jobs []string
	for env := range envs {
		switch e := env.Event.(type) {
		case team.CloudProjectCreated:
			ids = append(ids, projections.KeyPart(string(e.By)))
		case team.MemberInvited:
			ids = append(ids, projections.KeyPart(string(e.Email)))
			members = append(members, k(string(e.Project), string(e.Email)))
			projects = append(projects, projections.KeyPart(string(e.Project)))
		case team.JobUpdated:
			jobs = append(jobs, k(string(e.Project), string(e.Job)))
		case team.JobDeleted:
			jobs = append(jobs, k(string(e.Project), string(e.Job)))
		case team.JobAssigned:
			jobs = append(jobs, k(string(e.Project), string(e.Job)))
		case team.JobUnassigned:
			jobs = append(jobs, k(string(e.Project), string(e.Job)))
		}
	}
	return []projections.TableKeys{{Table: identities, Keys: ids}, {Table: Members, Keys: members}, {Table: Projects, Keys: projects}, {Table: Jobs, Keys: jobs}}
}
