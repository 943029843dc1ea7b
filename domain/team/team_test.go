package team_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
)

var (
	ada  = team.Caller{Email: "ada@x", HasIdentity: true}  // administrator (creator)
	ulla = team.Caller{Email: "ulla@x", HasIdentity: true} // user
	uwe  = team.Caller{Email: "uwe@x", HasIdentity: true}  // user, assigned to j1
	nora = team.Caller{Email: "nora@x"}                    // invited, no identity yet
	out  = team.Caller{Email: "zed@x", HasIdentity: true}  // not on the team
)

// given is a project: ada administers it; ulla and uwe are users; nora is
// invited; job j1 was created by ulla and is assigned to uwe; job j2 by ada.
func given() []domain.Event {
	return []domain.Event{
		team.CloudProjectCreated{Project: "p", Name: "Bridge", By: ada.Email},
		team.MemberInvited{Project: "p", Email: ulla.Email, Role: team.User, Active: true, By: ada.Email},
		team.MemberInvited{Project: "p", Email: uwe.Email, Role: team.User, Active: true, By: ada.Email},
		team.MemberInvited{Project: "p", Email: nora.Email, Role: team.User, By: ada.Email},
		team.JobCreated{Project: "p", Job: "j1", Name: "Survey", By: ulla.Email},
		team.JobAssigned{Project: "p", Job: "j1", Email: uwe.Email, By: ulla.Email},
		team.JobCreated{Project: "p", Job: "j2", Name: "Stakeout", By: ada.Email},
	}
}

// TestRoleMatrix: every action for a User and an Administrator.
func TestRoleMatrix(t *testing.T) {
	type action func(p *team.Project, by team.Caller) error
	actions := []struct {
		name      string
		do        action
		userErr   error // for ulla, a User who created j1 but is not assigned to it
		assignErr error // for uwe, a User assigned to j1
		adminErr  error // for ada
	}{
		{"create a job", func(p *team.Project, by team.Caller) error { return p.CreateJob(by, "new", "New") }, nil, nil, nil},
		{"update j1", func(p *team.Project, by team.Caller) error { return p.UpdateJob(by, "j1", "Survey 2") }, team.ErrNotYourJob, nil, nil},
		{"delete j1 (created by ulla)", func(p *team.Project, by team.Caller) error { return p.DeleteJob(by, "j1") }, nil, team.ErrNotJobCreator, nil},
		{"delete j2 (created by ada)", func(p *team.Project, by team.Caller) error { return p.DeleteJob(by, "j2") }, team.ErrNotJobCreator, team.ErrNotJobCreator, nil},
		{"invite a user", func(p *team.Project, by team.Caller) error {
			_, err := p.Invite(by, team.Invitation{Email: "new@x", Role: team.User})
			return err
		}, nil, nil, nil},
		{"invite an administrator", func(p *team.Project, by team.Caller) error {
			_, err := p.Invite(by, team.Invitation{Email: "new@x", Role: team.Administrator})
			return err
		}, team.ErrUserInvitesAdmin, team.ErrUserInvitesAdmin, nil},
		{"reassign j1 to ulla", func(p *team.Project, by team.Caller) error { return p.Reassign(by, "j1", ulla.Email) }, team.ErrNotYourJob, nil, team.ErrNotYourJob},
		{"add a stylesheet", func(p *team.Project, by team.Caller) error { return p.AddStylesheet(by, "report.xsl") }, nil, nil, nil},
		{"leave", func(p *team.Project, by team.Caller) error { return p.Leave(by) }, nil, nil, team.ErrLastAdministrator},
		{"edit the project", func(p *team.Project, by team.Caller) error { return p.Rename(by, "Bridge 2") }, team.ErrNotAdministrator, team.ErrNotAdministrator, nil},
		{"delete the project", func(p *team.Project, by team.Caller) error { return p.Delete(by) }, team.ErrNotAdministrator, team.ErrNotAdministrator, nil},
		{"make uwe an administrator", func(p *team.Project, by team.Caller) error { return p.ChangeRole(by, uwe.Email, team.Administrator) }, team.ErrNotAdministrator, team.ErrNotAdministrator, nil},
		{"remove uwe", func(p *team.Project, by team.Caller) error { return p.Remove(by, uwe.Email) }, team.ErrNotAdministrator, team.ErrNotAdministrator, nil},
	}
	for _, a := range actions {
		for _, who := range []struct {
			name string
			by   team.Caller
			want error
		}{{"User", ulla, a.userErr}, {"assigned User", uwe, a.assignErr}, {"Administrator", ada, a.adminErr}} {
			t.Run(a.name+" as "+who.name, func(t *testing.T) {
				p := team.FromHistory(given())
				err := a.do(p, who.by)
				if who.want == nil && err != nil {
					t.Fatalf("refused: %v", err)
				}
				if who.want != nil && (!errors.Is(err, who.want) || len(p.Changes()) != 0) {
					t.Fatalf("err = %v (changes %v), want %v", err, p.Changes(), who.want)
				}
			})
		}
	}
}

func TestTeam(t *testing.T) {
	cases := []struct {
		name string
		when func(p *team.Project) error
		then []domain.Event
		err  error
	}{
		{"the only administrator cannot become a User", func(p *team.Project) error { return p.ChangeRole(ada, ada.Email, team.User) }, nil, team.ErrLastAdministrator},
		{"an administrator who is only invited does not count", func(p *team.Project) error {
			if _, err := p.Invite(ada, team.Invitation{Email: "lee@x", Role: team.Administrator}); err != nil {
				return err
			}
			return p.Leave(ada)
		}, nil, team.ErrLastAdministrator},
		{"a second administrator may demote the first", func(p *team.Project) error {
			if err := p.ChangeRole(ada, uwe.Email, team.Administrator); err != nil {
				return err
			}
			return p.ChangeRole(uwe, ada.Email, team.User)
		}, []domain.Event{
			team.MemberRoleChanged{Project: "p", Email: uwe.Email, Role: team.Administrator, By: ada.Email},
			team.MemberRoleChanged{Project: "p", Email: ada.Email, Role: team.User, By: uwe.Email},
		}, nil},
		{"removing a member takes them off their jobs", func(p *team.Project) error { return p.Remove(ada, uwe.Email) }, []domain.Event{
			team.JobUnassigned{Project: "p", Job: "j1", Email: uwe.Email, By: ada.Email},
			team.MemberRemoved{Project: "p", Email: uwe.Email, By: ada.Email},
		}, nil},
		{"only members are assignees", func(p *team.Project) error { return p.Assign(ada, "j2", out.Email) }, nil, team.ErrNotAssignable},
		{"invited members may be assigned", func(p *team.Project) error { return p.Assign(ada, "j2", nora.Email) },
			[]domain.Event{team.JobAssigned{Project: "p", Job: "j2", Email: nora.Email, By: ada.Email}}, nil},
		{"an invited person without an identity cannot act", func(p *team.Project) error { return p.CreateJob(nora, "x", "X") }, nil, team.ErrNotMember},
		{"with an identity they can", func(p *team.Project) error { return p.Access(team.Caller{Email: nora.Email, HasIdentity: true}) },
			[]domain.Event{team.ProjectAccessed{Project: "p", Email: nora.Email}}, nil},
		{"outsiders cannot act", func(p *team.Project) error { return p.Access(out) }, nil, team.ErrNotMember},
		{"reassigning hands the job over", func(p *team.Project) error { return p.Reassign(uwe, "j1", ulla.Email) }, []domain.Event{
			team.JobUnassigned{Project: "p", Job: "j1", Email: uwe.Email, By: uwe.Email},
			team.JobAssigned{Project: "p", Job: "j1", Email: ulla.Email, By: uwe.Email},
		}, nil},
		{"a deleted project refuses everything", func(p *team.Project) error {
			if err := p.Delete(ada); err != nil {
				return err
			}
			return p.CreateJob(ada, "x", "X")
		}, nil, team.ErrProjectDeleted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := team.FromHistory(given())
			err := c.when(p)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(p.Changes(), c.then) {
				t.Fatalf("events = %#v, %v; want %#v", p.Changes(), err, c.then)
			}
		})
	}
}

func TestInvitations(t *testing.T) {
	p := team.FromHistory(given())
	skipped, err := p.Invite(ada,
		team.Invitation{Email: "kim@x", Role: team.User, HasIdentity: true},
		team.Invitation{Email: "lee@x", Role: team.Administrator},
		team.Invitation{Email: ulla.Email, Role: team.User}, // on the team already
		team.Invitation{Email: "kim@x", Role: team.User})    // twice in one batch
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Event{
		team.MemberInvited{Project: "p", Email: "kim@x", Role: team.User, Active: true, By: ada.Email},
		team.MemberInvited{Project: "p", Email: "lee@x", Role: team.Administrator, By: ada.Email},
	}
	if !reflect.DeepEqual(p.Changes(), want) || fmt.Sprint(skipped) != "[ulla@x kim@x]" {
		t.Fatalf("events %#v, skipped %v", p.Changes(), skipped)
	}
}

func TestParseCSV(t *testing.T) {
	cases := []struct {
		name        string
		file        string
		invitations int
		problems    []int // lines
		duplicates  []int
	}{
		{"the documented format", "email, group, role\nann@x, , User\nbob@x,crew,Administrator\n", 2, nil, nil},
		{"no header, blank lines", "ann@x,,user\n\nbob@x,,admin\n", 2, nil, nil},
		{"duplicates are reported, not errors", "ann@x,,user\nANN@x,,administrator\n", 1, nil, []int{2}},
		{"bad rows are named", "ann@x,,user\nnot-an-email,,user\nbob@x,,boss\ncid@x,user\n", 1, []int{2, 3, 4}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := team.ParseCSV(strings.NewReader(c.file), 0)
			if (err != nil) != (len(c.problems) > 0) {
				t.Fatalf("err = %v with problems %+v", err, got.Problems)
			}
			lines := func(ps []team.RowProblem) []int {
				var out []int
				for _, p := range ps {
					out = append(out, p.Line)
				}
				return out
			}
			if len(got.Invitations) != c.invitations || fmt.Sprint(lines(got.Problems)) != fmt.Sprint(c.problems) || fmt.Sprint(lines(got.Duplicates)) != fmt.Sprint(c.duplicates) {
				t.Fatalf("invitations %d, problems %+v, duplicates %+v", len(got.Invitations), got.Problems, got.Duplicates)
			}
		})
	}
}

func TestCSVNamesPhysicalLines(t *testing.T) {
	file := "email, group, role\n\nann@x.test,,User\n\"bad\nname\",,User\n\nbob@x.test,,Boss\n"
	imp, err := team.ParseCSV(strings.NewReader(file), 100)
	if err == nil {
		t.Fatal("a bad file was accepted")
	}
	var lines []int
	for _, p := range imp.Problems {
		lines = append(lines, p.Line)
	}
	if len(lines) != 2 || lines[0] != 4 || lines[1] != 7 {
		t.Fatalf("problems on lines %v, want [4 7] (blank lines and the quoted line break counted): %+v", lines, imp.Problems)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add("email, group, role\nann@x.test,,User\n")
	f.Add("\"a\nb\",,User\n\n,,\n")
	f.Add("ann@x.test,g,Administrator\nANN@x.test,,user\n")
	f.Fuzz(func(t *testing.T, file string) {
		imp, err := team.ParseCSV(strings.NewReader(file), 50)
		for _, inv := range imp.Invitations {
			if again, e := domain.ParseUser(string(inv.Email)); e != nil || again != inv.Email {
				t.Fatalf("invited %q, which is not in normal form", inv.Email)
			}
		}
		if err == nil && len(imp.Problems) > 0 {
			t.Fatalf("problems %v without an error", imp.Problems)
		}
	})
}

// Only active members of a project that exists read its team and jobs.
func TestMayRead(t *testing.T) {
	cases := []struct {
		name    string
		deleted bool
		status  team.Status
		want    bool
	}{
		{"active member", false, team.Active, true},
		{"invited, no identity yet", false, team.Invited, false},
		{"removed", false, team.Removed, false},
		{"active member of a deleted project", true, team.Active, false},
		{"never on the team", false, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := team.MayRead(c.deleted, c.status); got != c.want {
				t.Fatalf("MayRead(%v, %q) = %v, want %v", c.deleted, c.status, got, c.want)
			}
		})
	}
}
