package team_test

import (
	"testing"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/commands/commandtest"
	teamcmd "github.com/shareledger/shareledger/commands/team"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/team"
)

var (
	stream = team.Stream("p1")
	people = append(append(commandtest.In(team.IdentityStream("ada@crew.test"), team.IdentityCreated{Email: "ada@crew.test", Name: "Ada"}),
		commandtest.In(team.IdentityStream("ulla@crew.test"), team.IdentityCreated{Email: "ulla@crew.test", Name: "Ulla"})...),
		commandtest.In(team.IdentityStream("lee@crew.test"), team.IdentityCreated{Email: "lee@crew.test", Name: "Lee"})...)
	bridge = commandtest.In(stream,
		team.CloudProjectCreated{Project: "p1", Name: "Bridge", By: "ada@crew.test"},
		team.MemberInvited{Project: "p1", Email: "ulla@crew.test", Role: team.User, Active: true, By: "ada@crew.test"})
	survey = commandtest.In(stream,
		team.JobCreated{Project: "p1", Job: "j1", Name: "Survey", By: "ulla@crew.test"},
		team.JobAssigned{Project: "p1", Job: "j1", Email: "ulla@crew.test", By: "ulla@crew.test"})
	deleted = commandtest.In(stream, team.CloudProjectDeleted{Project: "p1", By: "ada@crew.test"})
	ada     = commandtest.Meta("ada@crew.test", "crew", "c1")
	ulla    = commandtest.Meta("ulla@crew.test", "crew", "c1")
	zed     = commandtest.Meta("zed@else.test", "else", "c1")
)

func given(g ...[]commandtest.Given) [][]commandtest.Given { return g }

func handlers(env commandtest.Env) teamcmd.Handlers { return teamcmd.New(env.Repo, env.Log, nil) }

func TestIdentitiesAndProjects(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[teamcmd.CreateIdentity]{
		{Name: "a person creates their identity", When: teamcmd.CreateIdentity{Meta: ada, Name: "Ada"},
			Then: commandtest.Events(team.IdentityCreated{Email: "ada@crew.test", Name: "Ada"})},
		{Name: "once", Given: given(people), When: teamcmd.CreateIdentity{Meta: ada, Name: "Ada"}, Code: "identity-exists"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.CreateIdentity] {
		return handlers(env).CreateIdentity
	})
	commandtest.Run(t, []commandtest.Case[teamcmd.CreateProject]{
		{Name: "the creator is its administrator", Given: given(people), When: teamcmd.CreateProject{Meta: ada, Name: "Tower"},
			Then: commandtest.Events(team.CloudProjectCreated{Project: team.ID(commands.NewID("c1", "cloud-project")), Name: "Tower", By: "ada@crew.test"})},
	}, func(env commandtest.Env) commands.Handler[teamcmd.CreateProject] { return handlers(env).CreateProject })
	commandtest.Run(t, []commandtest.Case[teamcmd.RenameProject]{
		{Name: "an administrator renames it", Given: given(people, bridge), When: teamcmd.RenameProject{Meta: ada, Project: "p1", Name: "Big bridge"},
			Then: commandtest.Events(team.CloudProjectRenamed{Project: "p1", Name: "Big bridge", By: "ada@crew.test"})},
		{Name: "a user may not", Given: given(people, bridge), When: teamcmd.RenameProject{Meta: ulla, Project: "p1", Name: "Mine"}, Code: "not-project-administrator"},
		{Name: "an unknown project", Given: given(people), When: teamcmd.RenameProject{Meta: ada, Project: "p9", Name: "X"}, Code: "unknown-cloud-project"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.RenameProject] { return handlers(env).RenameProject })
	commandtest.Run(t, []commandtest.Case[teamcmd.DeleteProject]{
		{Name: "an administrator deletes it", Given: given(people, bridge), When: teamcmd.DeleteProject{Meta: ada, Project: "p1"},
			Then: commandtest.Events(team.CloudProjectDeleted{Project: "p1", By: "ada@crew.test"})},
		{Name: "a deleted project takes no more changes", Given: given(people, bridge, deleted), When: teamcmd.DeleteProject{Meta: ada, Project: "p1"}, Code: "project-deleted"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.DeleteProject] { return handlers(env).DeleteProject })
	commandtest.Run(t, []commandtest.Case[teamcmd.AccessProject]{
		{Name: "a member's access is recorded", Given: given(people, bridge), When: teamcmd.AccessProject{Meta: ulla, Project: "p1"},
			Then: commandtest.Events(team.ProjectAccessed{Project: "p1", Email: "ulla@crew.test"})},
		{Name: "not by an outsider", Given: given(people, bridge), When: teamcmd.AccessProject{Meta: zed, Project: "p1"}, Code: "not-team-member"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.AccessProject] { return handlers(env).AccessProject })
	commandtest.Run(t, []commandtest.Case[teamcmd.LeaveProject]{
		{Name: "a user leaves", Given: given(people, bridge, survey), When: teamcmd.LeaveProject{Meta: ulla, Project: "p1"},
			Then: commandtest.Events(team.JobUnassigned{Project: "p1", Job: "j1", Email: "ulla@crew.test", By: "ulla@crew.test"},
				team.MemberRemoved{Project: "p1", Email: "ulla@crew.test", By: "ulla@crew.test"})},
		{Name: "the last administrator may not", Given: given(people, bridge), When: teamcmd.LeaveProject{Meta: ada, Project: "p1"}, Code: "last-administrator"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.LeaveProject] { return handlers(env).LeaveProject })
}

func TestMembers(t *testing.T) {
	commandtest.Run(t, []commandtest.Case[teamcmd.InviteMember]{
		{Name: "a person with an identity joins at once", Given: given(people, bridge), When: teamcmd.InviteMember{Meta: ada, Project: "p1", Email: "lee@crew.test", Role: team.User},
			Then: commandtest.Events(team.MemberInvited{Project: "p1", Email: "lee@crew.test", Role: team.User, Active: true, By: "ada@crew.test"})},
		{Name: "a person without one stays invited", Given: given(people, bridge), When: teamcmd.InviteMember{Meta: ulla, Project: "p1", Email: "kim@crew.test", Role: team.User},
			Then: commandtest.Events(team.MemberInvited{Project: "p1", Email: "kim@crew.test", Role: team.User, By: "ulla@crew.test"})},
		{Name: "a user may not invite administrators", Given: given(people, bridge), When: teamcmd.InviteMember{Meta: ulla, Project: "p1", Email: "kim@crew.test", Role: team.Administrator},
			Code: "cannot-invite-administrator"},
		{Name: "someone on the team already is reported, not invited again", Given: given(people, bridge), When: teamcmd.InviteMember{Meta: ada, Project: "p1", Email: "ulla@crew.test", Role: team.User}},
	}, func(env commandtest.Env) commands.Handler[teamcmd.InviteMember] { return handlers(env).InviteMember })
	commandtest.Run(t, []commandtest.Case[teamcmd.InviteMembersFromCSV]{
		{Name: "every row is invited in one decision", Given: given(people, bridge),
			When: teamcmd.InviteMembersFromCSV{Meta: ada, Project: "p1", Import: team.Import{Invitations: []team.Invitation{{Email: "kim@crew.test", Role: team.User}, {Email: "lee@crew.test", Role: team.Administrator}}}},
			Then: commandtest.Events(team.MemberInvited{Project: "p1", Email: "kim@crew.test", Role: team.User, By: "ada@crew.test"},
				team.MemberInvited{Project: "p1", Email: "lee@crew.test", Role: team.Administrator, Active: true, By: "ada@crew.test"})},
		{Name: "a file with nobody in it", Given: given(people, bridge), When: teamcmd.InviteMembersFromCSV{Meta: ada, Project: "p1"}, Code: "empty-csv"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.InviteMembersFromCSV] {
		return handlers(env).InviteMembersFromCSV
	})
	commandtest.Run(t, []commandtest.Case[teamcmd.ChangeMemberRole]{
		{Name: "an administrator makes a user an administrator", Given: given(people, bridge), When: teamcmd.ChangeMemberRole{Meta: ada, Project: "p1", Email: "ulla@crew.test", Role: team.Administrator},
			Then: commandtest.Events(team.MemberRoleChanged{Project: "p1", Email: "ulla@crew.test", Role: team.Administrator, By: "ada@crew.test"})},
		{Name: "the last administrator may not demote themself", Given: given(people, bridge), When: teamcmd.ChangeMemberRole{Meta: ada, Project: "p1", Email: "ada@crew.test", Role: team.User},
			Code: "last-administrator"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.ChangeMemberRole] {
		return handlers(env).ChangeMemberRole
	})
	commandtest.Run(t, []commandtest.Case[teamcmd.RemoveMember]{
		{Name: "removal takes a member off their jobs", Given: given(people, bridge, survey), When: teamcmd.RemoveMember{Meta: ada, Project: "p1", Email: "ulla@crew.test"},
			Then: commandtest.Events(team.JobUnassigned{Project: "p1", Job: "j1", Email: "ulla@crew.test", By: "ada@crew.test"},
				team.MemberRemoved{Project: "p1", Email: "ulla@crew.test", By: "ada@crew.test"})},
		{Name: "a user may not remove", Given: given(people, bridge), When: teamcmd.RemoveMember{Meta: ulla, Project: "p1", Email: "ada@crew.test"}, Code: "not-project-administrator"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.RemoveMember] { return handlers(env).RemoveMember })
}

func TestJobsAndStylesheets(t *testing.T) {
	job := team.JobID(commands.NewID("c1", "job"))
	commandtest.Run(t, []commandtest.Case[teamcmd.CreateJob]{
		{Name: "a member creates a job", Given: given(people, bridge), When: teamcmd.CreateJob{Meta: ulla, Project: "p1", Name: "Survey"},
			Then: commandtest.Events(team.JobCreated{Project: "p1", Job: job, Name: "Survey", By: "ulla@crew.test"})},
		{Name: "not an outsider", Given: given(people, bridge), When: teamcmd.CreateJob{Meta: zed, Project: "p1", Name: "Survey"}, Code: "not-team-member"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.CreateJob] { return handlers(env).CreateJob })
	commandtest.Run(t, []commandtest.Case[teamcmd.RenameJob]{
		{Name: "an assignee updates the job", Given: given(people, bridge, survey), When: teamcmd.RenameJob{Meta: ulla, Project: "p1", Job: "j1", Name: "Survey, day 2"},
			Then: commandtest.Events(team.JobUpdated{Project: "p1", Job: "j1", Name: "Survey, day 2", By: "ulla@crew.test"})},
		{Name: "an unknown job", Given: given(people, bridge), When: teamcmd.RenameJob{Meta: ada, Project: "p1", Job: "j9", Name: "X"}, Code: "unknown-job"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.RenameJob] { return handlers(env).RenameJob })
	commandtest.Run(t, []commandtest.Case[teamcmd.DeleteJob]{
		{Name: "its creator deletes it", Given: given(people, bridge, survey), When: teamcmd.DeleteJob{Meta: ulla, Project: "p1", Job: "j1"},
			Then: commandtest.Events(team.JobDeleted{Project: "p1", Job: "j1", By: "ulla@crew.test"})},
	}, func(env commandtest.Env) commands.Handler[teamcmd.DeleteJob] { return handlers(env).DeleteJob })
	commandtest.Run(t, []commandtest.Case[teamcmd.AssignJob]{
		{Name: "a member is assigned", Given: given(people, bridge, survey), When: teamcmd.AssignJob{Meta: ada, Project: "p1", Job: "j1", Emails: []domain.UserID{"ada@crew.test"}},
			Then: commandtest.Events(team.JobAssigned{Project: "p1", Job: "j1", Email: "ada@crew.test", By: "ada@crew.test"})},
		{Name: "only members", Given: given(people, bridge, survey), When: teamcmd.AssignJob{Meta: ada, Project: "p1", Job: "j1", Emails: []domain.UserID{"zed@else.test"}}, Code: "assignee-not-member"},
		{Name: "at least one", Given: given(people, bridge, survey), When: teamcmd.AssignJob{Meta: ada, Project: "p1", Job: "j1"}, Code: "no-assignees"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.AssignJob] { return handlers(env).AssignJob })
	commandtest.Run(t, []commandtest.Case[teamcmd.UnassignJob]{
		{Name: "an assignee is taken off", Given: given(people, bridge, survey), When: teamcmd.UnassignJob{Meta: ada, Project: "p1", Job: "j1", Email: "ulla@crew.test"},
			Then: commandtest.Events(team.JobUnassigned{Project: "p1", Job: "j1", Email: "ulla@crew.test", By: "ada@crew.test"})},
		{Name: "not assigned", Given: given(people, bridge, survey), When: teamcmd.UnassignJob{Meta: ada, Project: "p1", Job: "j1", Email: "ada@crew.test"}, Code: "not-assigned"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.UnassignJob] { return handlers(env).UnassignJob })
	commandtest.Run(t, []commandtest.Case[teamcmd.ReassignJob]{
		{Name: "an assignee hands their job on", Given: given(people, bridge, survey), When: teamcmd.ReassignJob{Meta: ulla, Project: "p1", Job: "j1", Email: "ada@crew.test"},
			Then: commandtest.Events(team.JobUnassigned{Project: "p1", Job: "j1", Email: "ulla@crew.test", By: "ulla@crew.test"},
				team.JobAssigned{Project: "p1", Job: "j1", Email: "ada@crew.test", By: "ulla@crew.test"})},
		{Name: "only one's own jobs", Given: given(people, bridge, survey), When: teamcmd.ReassignJob{Meta: ada, Project: "p1", Job: "j1", Email: "ada@crew.test"}, Code: "not-your-job"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.ReassignJob] { return handlers(env).ReassignJob })
	commandtest.Run(t, []commandtest.Case[teamcmd.AddStylesheet]{
		{Name: "a member adds a stylesheet", Given: given(people, bridge), When: teamcmd.AddStylesheet{Meta: ulla, Project: "p1", Name: "Plain"},
			Then: commandtest.Events(team.StylesheetAdded{Project: "p1", Stylesheet: "Plain", By: "ulla@crew.test"})},
	}, func(env commandtest.Env) commands.Handler[teamcmd.AddStylesheet] { return handlers(env).AddStylesheet })
	commandtest.Run(t, []commandtest.Case[teamcmd.RemoveStylesheet]{
		{Name: "an unknown stylesheet", Given: given(people, bridge), When: teamcmd.RemoveStylesheet{Meta: ulla, Project: "p1", Name: "Plain"}, Code: "unknown-stylesheet"},
	}, func(env commandtest.Env) commands.Handler[teamcmd.RemoveStylesheet] {
		return handlers(env).RemoveStylesheet
	})
}
