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
	s := projectSnapshot{ID: p.id, Deleted: p.deleted, Members: map[domain.UserID]memberSnapshot{}, Jobs: map[JobID]jobSnapshot{}, Stylesheets: p.stylesheets.Map()}
	for e, m := range p.members.All() {
		s.Members[e] = memberSnapshot{Role: m.role, Status: m.status}
	}
	for id, j := range p.jobs.All() {
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
	*p = Project{id: s.ID, deleted: s.Deleted, stylesheets: domain.TableOf(s.Stylesheets)}
	for e, m := range s.Members {
		p.setMember(e, member{role: m.Role, status: m.Status})
	}
	for id, j := range s.Jobs {
		p.setJob(id, job{creator: j.Creator, assignees: j.Assignees})
	}
	return nil
}
