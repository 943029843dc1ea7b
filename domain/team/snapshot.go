package team

import (
	"encoding/json"

	"github.com/shareledger/shareledger/domain"
)

type projectSnapshot struct {
	ID          ID                               `json:"id"`
	Deleted     bool                             `json:"deleted"`
	Members     map[domain.UserID]memberSnapshot `json:"members"`
	Jobs        map[JobID]jobSnapshot            `json:"jobs"`
	Stylesheets map[string]bool                  `json:"stylesheets"`
}

type memberSnapshot struct {
	Role   Role   `json:"role"`
	Status Status `json:"status"`
}

type jobSnapshot struct {
	Creator   domain.UserID   `json:"creator"`
	Assignees []domain.UserID `json:"assignees"`
}

// SnapshotVersion names the fold that snapshots of projects hold.
func (p *Project) SnapshotVersion() string { return "cloudproject/1" }

// Snapshot encodes the project's state.
func (p *Project) Snapshot() ([]byte, error) {
	s := projectSnapshot{ID: p.id, Deleted: p.deleted, Members: map[domain.UserID]memberSnapshot{}, Jobs: map[JobID]jobSnapshot{}, Stylesheets: p.stylesheets}
	for e, m := range p.members {
		s.Members[e] = memberSnapshot{Role: m.role, Status: m.status}
	}
	for id, j := range p.jobs {
		s.Jobs[id] = jobSnapshot{Creator: j.creator, Assignees: j.assignees}
	}
	return json.Marshal(s)
}

// Restore sets the state from a snapshot.
func (p *Project) Restore(data []byte) error {
	var s projectSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	p.id, p.deleted, p.stylesheets = s.ID, s.Deleted, s.Stylesheets
	if p.stylesheets == nil {
		p.stylesheets = map[string]bool{}
	}
	p.members = make(map[domain.UserID]*member, len(s.Members))
	for e, m := range s.Members {
		p.members[e] = &member{role: m.Role, status: m.Status}
	}
	p.jobs = make(map[JobID]*job, len(s.Jobs))
	for id, j := range s.Jobs {
		p.jobs[id] = &job{creator: j.Creator, assignees: j.Assignees}
	}
	return nil
}
