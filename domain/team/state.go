package team

import (
	"maps"
	"slices"

	"github.com/shareledger/shareledger/domain"
)

// Replay brings a loaded project up to date with stored events.
func (p *Project) Replay(events ...domain.Event) { domain.Replay(p.apply, events) }

// Clone is a copy that shares nothing the copy's decisions change, with
// no recorded changes.
func (p *Project) Clone() *Project {
	c := *p
	c.stylesheets, c.changes = maps.Clone(p.stylesheets), nil
	c.members = make(map[domain.UserID]*member, len(p.members))
	for e, m := range p.members {
		mm := *m
		c.members[e] = &mm
	}
	c.jobs = make(map[JobID]*job, len(p.jobs))
	for id, j := range p.jobs {
		c.jobs[id] = &job{creator: j.creator, assignees: slices.Clone(j.assignees)}
	}
	return &c
}

// Footprint estimates the project's memory in bytes.
func (p *Project) Footprint() int64 {
	n := 256 + 112*int64(len(p.members)) + 48*int64(len(p.stylesheets))
	for _, j := range p.jobs {
		n += 128 + 48*int64(len(j.assignees))
	}
	return n
}
