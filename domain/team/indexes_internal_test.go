package team

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shareledger/shareledger/domain"
)

// What a project keeps as it folds (the active administrators, those
// waiting for an identity, each member's jobs) is what reading every
// member and job gives, after every event of random histories, in the
// project folded, in copies decided on, and in one restored from its
// snapshot.
func TestKeptIndexesAreWhatTheTeamHolds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	emails := make([]domain.UserID, 50) // past the size a table keeps in one map
	for i := range emails {
		emails[i] = domain.UserID(fmt.Sprintf("m%d@crew.test", i))
	}
	jobs := []JobID{"j0", "j1", "j2", "j3", "j4", "j5"}
	for round := range 20 {
		p := New()
		p.apply(CloudProjectCreated{Project: "p", Name: "Bridge", By: emails[0]})
		copies := []*Project{}
		for step := range 400 {
			e := emails[r.IntN(len(emails))]
			j := jobs[r.IntN(len(jobs))]
			role := []Role{Administrator, User}[r.IntN(2)]
			var ev domain.Event
			switch r.IntN(8) {
			case 0, 1:
				ev = MemberInvited{Project: "p", Email: e, Role: role, Active: r.IntN(2) == 0}
			case 2:
				ev = MemberRoleChanged{Project: "p", Email: e, Role: role}
			case 3:
				ev = MemberRemoved{Project: "p", Email: e}
			case 4:
				ev = JobCreated{Project: "p", Job: j, By: e}
			case 5:
				ev = JobDeleted{Project: "p", Job: j}
			case 6:
				ev = JobAssigned{Project: "p", Job: j, Email: e}
			default:
				ev = JobUnassigned{Project: "p", Job: j, Email: e}
			}
			if _, ok := p.members.Get(e); !ok {
				if _, changes := ev.(MemberRoleChanged); changes {
					continue // the decisions never record these for a stranger
				}
				if _, removes := ev.(MemberRemoved); removes {
					continue
				}
			}
			p.apply(ev)
			if step%50 == 0 {
				c := p.Clone()
				c.Joined(p.PendingAdministrators()...)
				copies = append(copies, c)
			}
			if step%25 == 0 {
				checkIndexes(t, fmt.Sprintf("round %d step %d", round, step), p)
			}
		}
		for i, c := range copies {
			checkIndexes(t, fmt.Sprintf("round %d copy %d", round, i), c)
		}
		data, err := p.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored := New()
		if err := restored.Restore(data); err != nil {
			t.Fatal(err)
		}
		checkIndexes(t, fmt.Sprintf("round %d restored", round), restored)
		if restored.activeAdmins != p.activeAdmins || !maps.Equal(restored.pendingAdmins.Map(), p.pendingAdmins.Map()) {
			t.Fatalf("round %d: restored %d active administrators, %v pending; folded %d, %v", round,
				restored.activeAdmins, restored.pendingAdmins.Map(), p.activeAdmins, p.pendingAdmins.Map())
		}
	}
}

// checkIndexes compares what p keeps with a reading of all its members
// and jobs.
func checkIndexes(t *testing.T, at string, p *Project) {
	t.Helper()
	active, pending, assigned := 0, map[domain.UserID]bool{}, map[domain.UserID]map[JobID]bool{}
	for e, m := range p.members.All() {
		switch {
		case m.role == Administrator && m.status == Active:
			active++
		case m.role == Administrator && m.status == Invited:
			pending[e] = true
		}
	}
	for id, j := range p.jobs.All() {
		for _, e := range j.assignees {
			if assigned[e] == nil {
				assigned[e] = map[JobID]bool{}
			}
			assigned[e][id] = true
		}
	}
	if p.activeAdmins != active {
		t.Fatalf("%s: %d active administrators kept, %d on the team", at, p.activeAdmins, active)
	}
	if got := p.pendingAdmins.Map(); !maps.Equal(got, pending) {
		t.Fatalf("%s: pending administrators kept %v, on the team %v", at, got, pending)
	}
	got := p.assigned.Map()
	if len(got) != len(assigned) {
		t.Fatalf("%s: jobs kept for %d members, %d assigned", at, len(got), len(assigned))
	}
	for e, ids := range assigned {
		if !maps.Equal(got[e], ids) {
			t.Fatalf("%s: %s's jobs kept %v, assigned %v", at, e, got[e], ids)
		}
	}
}

// Copies of a project decide on their own: two copies that assign
// different members to the same job each hold their own assignee, and
// the project neither.
func TestCopiesAssignOnTheirOwn(t *testing.T) {
	p := New()
	p.apply(CloudProjectCreated{Project: "p", Name: "Bridge", By: "ada@crew.test"})
	for _, e := range []domain.UserID{"kim@crew.test", "lee@crew.test", "max@crew.test"} {
		p.apply(MemberInvited{Project: "p", Email: e, Role: User, Active: true})
	}
	p.apply(JobCreated{Project: "p", Job: "j1", By: "ada@crew.test"})
	p.apply(JobAssigned{Project: "p", Job: "j1", Email: "kim@crew.test"})
	// Taken off again: the assignees' array has room to grow in place.
	p.apply(JobAssigned{Project: "p", Job: "j1", Email: "max@crew.test"})
	p.apply(JobUnassigned{Project: "p", Job: "j1", Email: "max@crew.test"})
	ada := Caller{Email: "ada@crew.test", HasIdentity: true}
	a, b := p.Clone(), p.Clone()
	if err := a.Assign(ada, "j1", "lee@crew.test"); err != nil {
		t.Fatal(err)
	}
	if err := b.Assign(ada, "j1", "max@crew.test"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    *Project
		want []domain.UserID
	}{
		{"the project", p, []domain.UserID{"kim@crew.test"}},
		{"the first copy", a, []domain.UserID{"kim@crew.test", "lee@crew.test"}},
		{"the second copy", b, []domain.UserID{"kim@crew.test", "max@crew.test"}},
	} {
		if j, _ := c.p.jobs.Get("j1"); !slices.Equal(j.assignees, c.want) {
			t.Errorf("%s: j1 is assigned to %v, want %v", c.name, j.assignees, c.want)
		}
	}
}
