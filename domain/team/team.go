// Package team holds the rules of a cloud project's team and jobs: who is
// on the team with which role (User or Administrator), what each role may
// do, invitations, jobs and their assignees, and the last administrator,
// who can neither leave nor become a User.
package team

import (
	"maps"
	"slices"
	"strings"

	"github.com/shareledger/shareledger/domain"
)

// ID identifies a cloud project; JobID a job in it.
type (
	ID    string
	JobID string
)

// ParseID reads a cloud project's id.
func ParseID(s string) (ID, error) {
	id, err := domain.ParseID("project", s)
	return ID(id), err
}

// ParseJobID reads a job's id.
func ParseJobID(s string) (JobID, error) {
	id, err := domain.ParseID("job", s)
	return JobID(id), err
}

// Role is a team member's role. Its zero value is invalid.
type Role struct{ name string }

var (
	User          = Role{"user"}
	Administrator = Role{"administrator"}
)

func (r Role) String() string { return r.name }

// ParseRole reads a role, in any case.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "user":
		return User, nil
	case "administrator", "admin":
		return Administrator, nil
	}
	return Role{}, domain.Invalidf("invalid-role", "role %q is not User or Administrator", s)
}

// ParseRoleName reads a role as a command names it: user or
// administrator, as the product writes them (User, Administrator) or in
// lower case. A CSV file's roles are read more leniently (ParseRole).
func ParseRoleName(s string) (Role, error) {
	switch s {
	case "user", "User":
		return User, nil
	case "administrator", "Administrator":
		return Administrator, nil
	}
	return Role{}, domain.Invalidf("invalid-role", "role %s is not User or Administrator", domain.Quote(s))
}

// MarshalText stores a role by name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.name), nil }

// EnumNames are the names a stored role may hold (domain.Enumerated).
func (Role) EnumNames() []string { return []string{User.name, Administrator.name} }

// UnmarshalText reads a stored role.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// Status is where a member stands.
type Status string

const (
	Invited Status = "invited"
	Active  Status = "active"
	Removed Status = "removed"
)

var (
	ErrNotMember         = domain.NewError(domain.Forbidden, "not-team-member", "the caller is not an active member of this project")
	ErrNotAdministrator  = domain.NewError(domain.Forbidden, "not-project-administrator", "only an administrator of the project may do this")
	ErrLastAdministrator = domain.NewError(domain.Conflict, "last-administrator", "the only administrator of a project can neither leave it nor become a User; make someone else an administrator first")
	ErrAlreadyMember     = domain.NewError(domain.Conflict, "already-team-member", "this person is already on the team")
	ErrUnknownMember     = domain.NewError(domain.NotFound, "unknown-team-member", "this person is not on the team")
	ErrNotAssignable     = domain.NewError(domain.Invalid, "assignee-not-member", "only members of the project may be assigned to its jobs")
	ErrUnknownJob        = domain.NewError(domain.NotFound, "unknown-job", "the project has no such job")
	ErrJobExists         = domain.NewError(domain.Conflict, "job-exists", "the project has a job with this id")
	ErrNotYourJob        = domain.NewError(domain.Forbidden, "not-your-job", "Users may change only the jobs assigned to them")
	ErrNotJobCreator     = domain.NewError(domain.Forbidden, "not-job-creator", "Users may delete only the jobs they created")
	ErrAlreadyAssigned   = domain.NewError(domain.Conflict, "already-assigned", "the member is assigned to this job already")
	ErrNotAssigned       = domain.NewError(domain.Conflict, "not-assigned", "the member is not assigned to this job")
	ErrProjectDeleted    = domain.NewError(domain.NotFound, "project-deleted", "the project was deleted")
	ErrUserInvitesAdmin  = domain.NewError(domain.Forbidden, "cannot-invite-administrator", "Users invite with the User role; only administrators invite administrators")
)

// MayRead says who reads a project's team tab and jobs: its active members,
// while the project exists. Someone invited before having an identity is
// not active yet; a removed member no longer is.
func MayRead(projectDeleted bool, s Status) bool { return !projectDeleted && s == Active }

type member struct {
	role   Role
	status Status
}

type job struct {
	creator   domain.UserID
	assignees []domain.UserID
}

// Caller is who acts, and whether they have an identity (an invitation
// waiting for one becomes active when it exists).
type Caller struct {
	Email       domain.UserID
	HasIdentity bool
}

// Project is the aggregate of a cloud project. Its members and jobs are
// values, replaced when they change (a job's assignees too), so that
// copies of the project share them (Clone). What the decisions ask of the
// whole team is kept as it folds: the active administrators, the
// administrators invited before they had an identity, and each member's
// jobs.
type Project struct {
	id            ID
	deleted       bool
	members       domain.Table[domain.UserID, member]
	jobs          domain.Table[JobID, job]
	stylesheets   domain.Table[string, bool]
	activeAdmins  int
	pendingAdmins domain.Table[domain.UserID, bool]
	assigned      domain.Table[domain.UserID, map[JobID]bool]
	changes       []domain.Event
}

// Create starts a project administered by its creator.
func Create(by Caller, id ID, name string) (*Project, error) {
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return nil, err
	}
	p := New()
	p.record(CloudProjectCreated{Project: id, Name: name, By: by.Email})
	return p, nil
}

// New is an empty project, before anything happened.
func New() *Project {
	return &Project{}
}

// FromHistory rebuilds a project; nil when there is none.
func FromHistory(history []domain.Event) *Project {
	if len(history) == 0 {
		return nil
	}
	p := New()
	for _, e := range history {
		p.apply(e)
	}
	return p
}

// Changes lists the events recorded since the project was loaded.
func (p *Project) Changes() []domain.Event { return p.changes }

// IsMember says whether email is on the team (invited or active).
func (p *Project) IsMember(email domain.UserID) bool {
	m, ok := p.members.Get(email)
	return ok && m.status != Removed
}

// act checks that the caller may act on the project at all, and returns
// their role.
func (p *Project) act(by Caller) (Role, error) {
	if p.deleted {
		return Role{}, ErrProjectDeleted
	}
	m, ok := p.members.Get(by.Email)
	if !ok || m.status == Removed || (m.status == Invited && !by.HasIdentity) {
		return Role{}, ErrNotMember.Withf("%s is not an active member of project %s", by.Email, p.id)
	}
	return m.role, nil
}

func (p *Project) admin(by Caller, what string) error {
	role, err := p.act(by)
	if err != nil {
		return err
	}
	if role != Administrator {
		return ErrNotAdministrator.Withf("only an administrator of the project may %s", what)
	}
	return nil
}

// PendingAdministrators lists the administrators invited before they had
// an identity. Whether they have one by now is known outside the project
// (an identity is its own stream): the caller looks it up and says so
// with Joined before deciding.
func (p *Project) PendingAdministrators() []domain.UserID {
	var out []domain.UserID
	for email := range p.pendingAdmins.All() {
		out = append(out, email)
	}
	slices.Sort(out)
	return out
}

// Joined records, for this decision only, that invited people have created
// their identity since: they are active members, as IdentityCreated makes
// them on the Team tab, so they count as administrators for the
// last-administrator rule. Nothing is appended: the fact is their
// IdentityCreated event.
func (p *Project) Joined(emails ...domain.UserID) {
	for _, e := range emails {
		if m, ok := p.members.Get(e); ok && m.status == Invited {
			p.setMember(e, member{role: m.role, status: Active})
		}
	}
}

// Member is a team member as the decisions see them.
type Member struct {
	Email  domain.UserID
	Role   Role
	Status Status
}

// Members lists the team, in order of e-mail.
func (p *Project) Members() []Member {
	out := make([]Member, 0, p.members.Len())
	for email, m := range p.members.All() {
		out = append(out, Member{Email: email, Role: m.role, Status: m.status})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(string(a.Email), string(b.Email)) })
	return out
}

// Invitation is one person to invite.
type Invitation struct {
	Email       domain.UserID
	Role        Role
	HasIdentity bool
}

// Invite adds people to the team: at once for those with an identity,
// pending for the others. Anyone on the team invites; only administrators
// invite administrators. People already on the team are left out and
// returned, not invited twice.
func (p *Project) Invite(by Caller, invitations ...Invitation) ([]domain.UserID, error) {
	role, err := p.act(by)
	if err != nil {
		return nil, err
	}
	var skipped []domain.UserID
	seen := map[domain.UserID]bool{}
	for _, inv := range invitations {
		if inv.Role == (Role{}) {
			return nil, domain.Invalidf("invalid-role", "a role is required for %s", inv.Email)
		}
		if inv.Role == Administrator && role != Administrator {
			return nil, ErrUserInvitesAdmin
		}
	}
	for _, inv := range invitations {
		if p.IsMember(inv.Email) || seen[inv.Email] {
			skipped = append(skipped, inv.Email)
			continue
		}
		seen[inv.Email] = true
		p.record(MemberInvited{Project: p.id, Email: inv.Email, Role: inv.Role, Active: inv.HasIdentity, By: by.Email})
	}
	return skipped, nil
}

// ChangeRole grants or takes back the Administrator role; the only
// administrator cannot become a User.
func (p *Project) ChangeRole(by Caller, email domain.UserID, role Role) error {
	if err := p.admin(by, "change roles"); err != nil {
		return err
	}
	m, ok := p.members.Get(email)
	if !ok || m.status == Removed {
		return ErrUnknownMember
	}
	if role == (Role{}) {
		return domain.Invalidf("invalid-role", "a role is required")
	}
	if m.role == role {
		return nil
	}
	if m.role == Administrator && m.status == Active && p.activeAdmins == 1 {
		return ErrLastAdministrator
	}
	p.record(MemberRoleChanged{Project: p.id, Email: email, Role: role, By: by.Email})
	return nil
}

// Remove takes a member off the team and off every job.
func (p *Project) Remove(by Caller, email domain.UserID) error {
	if err := p.admin(by, "remove members"); err != nil {
		return err
	}
	return p.remove(by, email)
}

// Leave takes the caller off the team; the only administrator cannot.
func (p *Project) Leave(by Caller) error {
	if _, err := p.act(by); err != nil {
		return err
	}
	return p.remove(by, by.Email)
}

func (p *Project) remove(by Caller, email domain.UserID) error {
	m, ok := p.members.Get(email)
	if !ok || m.status == Removed {
		return ErrUnknownMember
	}
	if m.role == Administrator && m.status == Active && p.activeAdmins == 1 {
		return ErrLastAdministrator
	}
	jobs, _ := p.assigned.Get(email)
	ids := slices.Sorted(maps.Keys(jobs))
	for _, id := range ids {
		p.record(JobUnassigned{Project: p.id, Job: id, Email: email, By: by.Email})
	}
	p.record(MemberRemoved{Project: p.id, Email: email, By: by.Email})
	return nil
}

// Access records that the caller opened the project.
func (p *Project) Access(by Caller) error {
	if _, err := p.act(by); err != nil {
		return err
	}
	p.record(ProjectAccessed{Project: p.id, Email: by.Email})
	return nil
}

// Rename edits the project's properties (administrators).
func (p *Project) Rename(by Caller, name string) error {
	if err := p.admin(by, "edit the project's properties"); err != nil {
		return err
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	p.record(CloudProjectRenamed{Project: p.id, Name: name, By: by.Email})
	return nil
}

// Delete deletes the project (administrators).
func (p *Project) Delete(by Caller) error {
	if err := p.admin(by, "delete the project"); err != nil {
		return err
	}
	p.record(CloudProjectDeleted{Project: p.id, By: by.Email})
	return nil
}

// CreateJob adds a job; any member may.
func (p *Project) CreateJob(by Caller, id JobID, name string) error {
	if _, err := p.act(by); err != nil {
		return err
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	if p.jobs.Has(id) {
		return ErrJobExists
	}
	p.record(JobCreated{Project: p.id, Job: id, Name: name, By: by.Email})
	return nil
}

func (p *Project) job(id JobID) (job, error) {
	j, ok := p.jobs.Get(id)
	if !ok {
		return job{}, ErrUnknownJob.Withf("project %s has no job %s", p.id, id)
	}
	return j, nil
}

// mayChange: administrators change any job, Users the jobs assigned to them.
func (p *Project) mayChange(by Caller, id JobID) (job, error) {
	role, err := p.act(by)
	if err != nil {
		return job{}, err
	}
	j, err := p.job(id)
	if err != nil {
		return job{}, err
	}
	if role != Administrator && !slices.Contains(j.assignees, by.Email) {
		return job{}, ErrNotYourJob
	}
	return j, nil
}

// UpdateJob changes a job's details.
func (p *Project) UpdateJob(by Caller, id JobID, name string) error {
	if _, err := p.mayChange(by, id); err != nil {
		return err
	}
	name, err := domain.RequireText("name", name, domain.MaxName)
	if err != nil {
		return err
	}
	p.record(JobUpdated{Project: p.id, Job: id, Name: name, By: by.Email})
	return nil
}

// DeleteJob deletes a job: administrators any, Users the ones they created.
func (p *Project) DeleteJob(by Caller, id JobID) error {
	role, err := p.act(by)
	if err != nil {
		return err
	}
	j, err := p.job(id)
	if err != nil {
		return err
	}
	if role != Administrator && j.creator != by.Email {
		return ErrNotJobCreator
	}
	p.record(JobDeleted{Project: p.id, Job: id, By: by.Email})
	return nil
}

// mayManageAssignees: the job's creator, its assignees and administrators
// put members on it and take them off.
func (p *Project) mayManageAssignees(by Caller, id JobID) (job, error) {
	role, err := p.act(by)
	if err != nil {
		return job{}, err
	}
	j, err := p.job(id)
	if err != nil {
		return job{}, err
	}
	if role != Administrator && j.creator != by.Email && !slices.Contains(j.assignees, by.Email) {
		return job{}, ErrNotYourJob
	}
	return j, nil
}

// Assign puts members on a job; only members may be assignees. The job's
// creator, its assignees and administrators may assign.
func (p *Project) Assign(by Caller, id JobID, emails ...domain.UserID) error {
	j, err := p.mayManageAssignees(by, id)
	if err != nil {
		return err
	}
	for _, e := range emails {
		if !p.IsMember(e) {
			return ErrNotAssignable.Withf("%s is not a member of project %s", e, p.id)
		}
		if slices.Contains(j.assignees, e) {
			return ErrAlreadyAssigned.Withf("%s is assigned to job %s already", e, id)
		}
	}
	for _, e := range emails {
		p.record(JobAssigned{Project: p.id, Job: id, Email: e, By: by.Email})
	}
	return nil
}

// Unassign takes a member off a job.
func (p *Project) Unassign(by Caller, id JobID, email domain.UserID) error {
	j, err := p.mayManageAssignees(by, id)
	if err != nil {
		return err
	}
	if !slices.Contains(j.assignees, email) {
		return ErrNotAssigned
	}
	p.record(JobUnassigned{Project: p.id, Job: id, Email: email, By: by.Email})
	return nil
}

// Reassign hands a job assigned to the caller over to another member.
func (p *Project) Reassign(by Caller, id JobID, to domain.UserID) error {
	if _, err := p.act(by); err != nil {
		return err
	}
	j, err := p.job(id)
	if err != nil {
		return err
	}
	if !slices.Contains(j.assignees, by.Email) {
		return ErrNotYourJob.Withf("%s may reassign only jobs assigned to them", by.Email)
	}
	if !p.IsMember(to) {
		return ErrNotAssignable
	}
	p.record(JobUnassigned{Project: p.id, Job: id, Email: by.Email, By: by.Email})
	if !slices.Contains(j.assignees, to) {
		p.record(JobAssigned{Project: p.id, Job: id, Email: to, By: by.Email})
	}
	return nil
}

// AddStylesheet adds a report stylesheet; any member may.
func (p *Project) AddStylesheet(by Caller, name string) error {
	if _, err := p.act(by); err != nil {
		return err
	}
	name, err := domain.RequireName("stylesheet", name)
	if err != nil {
		return err
	}
	if !p.stylesheets.Has(name) {
		p.record(StylesheetAdded{Project: p.id, Stylesheet: name, By: by.Email})
	}
	return nil
}

// RemoveStylesheet removes one; any member may.
func (p *Project) RemoveStylesheet(by Caller, name string) error {
	if _, err := p.act(by); err != nil {
		return err
	}
	if !p.stylesheets.Has(name) {
		return domain.NewError(domain.NotFound, "unknown-stylesheet", "the project has no such stylesheet")
	}
	p.record(StylesheetRemoved{Project: p.id, Stylesheet: name, By: by.Email})
	return nil
}

func (p *Project) record(e domain.Event) {
	p.apply(e)
	p.changes = append(p.changes, e)
}

func (p *Project) apply(e domain.Event) {
	switch e := e.(type) {
	case CloudProjectCreated:
		p.id = e.Project
		p.setMember(e.By, member{role: Administrator, status: Active})
	case CloudProjectDeleted:
		p.deleted = true
	case MemberInvited:
		status := Invited
		if e.Active {
			status = Active
		}
		p.setMember(e.Email, member{role: e.Role, status: status})
	case MemberRoleChanged:
		m, _ := p.members.Get(e.Email)
		m.role = e.Role
		p.setMember(e.Email, m)
	case MemberRemoved:
		m, _ := p.members.Get(e.Email)
		m.status = Removed
		p.setMember(e.Email, m)
	case JobCreated:
		p.setJob(e.Job, job{creator: e.By})
	case JobDeleted:
		p.setJob(e.Job, job{})
		p.jobs.Delete(e.Job)
	case JobAssigned:
		if j, ok := p.jobs.Get(e.Job); ok {
			j.assignees = append(slices.Clip(j.assignees), e.Email) // a new array: copies share the old one
			p.setJob(e.Job, j)
		}
	case JobUnassigned:
		if j, ok := p.jobs.Get(e.Job); ok {
			j.assignees = slices.DeleteFunc(slices.Clone(j.assignees), func(u domain.UserID) bool { return u == e.Email })
			p.setJob(e.Job, j)
		}
	case StylesheetAdded:
		p.stylesheets.Set(e.Stylesheet, true)
	case StylesheetRemoved:
		p.stylesheets.Delete(e.Stylesheet)
	}
}

// setMember sets a member, keeping the count of active administrators and
// the set of those invited before they had an identity.
func (p *Project) setMember(email domain.UserID, m member) {
	if old, ok := p.members.Get(email); ok && old.role == Administrator && old.status == Active {
		p.activeAdmins--
	}
	p.pendingAdmins.Delete(email)
	switch {
	case m.role == Administrator && m.status == Active:
		p.activeAdmins++
	case m.role == Administrator && m.status == Invited:
		p.pendingAdmins.Set(email, true)
	}
	p.members.Set(email, m)
}

// setJob sets a job, keeping each member's jobs: the jobs a member is
// taken off when they leave.
func (p *Project) setJob(id JobID, j job) {
	old, _ := p.jobs.Get(id)
	for _, e := range old.assignees {
		if !slices.Contains(j.assignees, e) {
			p.assign(e, id, false)
		}
	}
	for _, e := range j.assignees {
		p.assign(e, id, true)
	}
	p.jobs.Set(id, j)
}

// assign marks a member's job, or unmarks it. The set of a member's jobs
// is replaced, never changed in place.
func (p *Project) assign(email domain.UserID, id JobID, on bool) {
	cur, _ := p.assigned.Get(email)
	if cur[id] == on {
		return
	}
	next := maps.Clone(cur)
	if on {
		if next == nil {
			next = map[JobID]bool{}
		}
		next[id] = true
	} else {
		delete(next, id)
	}
	if len(next) == 0 {
		p.assigned.Delete(email)
		return
	}
	p.assigned.Set(email, next)
}
