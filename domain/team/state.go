package team

import (
	"github.com/shareledger/shareledger/domain"
)

// Replay brings a loaded project up to date with stored events.
func (p *Project) Replay(events ...domain.Event) { domain.Replay(p.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes: members, jobs and their assignees are replaced when
// they change, never changed in place, so the copy shares them.
func (p *Project) Clone() *Project {
	c := *p
	c.members, c.jobs, c.stylesheets = p.members.Clone(), p.jobs.Clone(), p.stylesheets.Clone()
	c.pendingAdmins, c.assigned, c.changes = p.pendingAdmins.Clone(), p.assigned.Clone(), nil
	return &c
}

// Footprint estimates the project's memory in bytes: a member about 112,
// a job with its assignees (and their index of jobs) about 192.
func (p *Project) Footprint() int64 {
	return 256 + 112*int64(p.members.Len()) + 192*int64(p.jobs.Len()) + 48*int64(p.stylesheets.Len()+p.assigned.Len())
}
