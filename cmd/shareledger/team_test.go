package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	teammodel "github.com/shareledger/shareledger/projections/team"
	"github.com/shareledger/shareledger/readapi"
)

type teamPage struct {
	Items []teammodel.Member `json:"items"`
}

func (p teamPage) byEmail() map[string]teammodel.Member {
	out := map[string]teammodel.Member{}
	for _, m := range p.Items {
		out[string(m.Email)] = m
	}
	return out
}

func TestCloudProjectTeams(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig(t, b)
			s := start(t, cfg)
			// People, not accounts: the token's account does not matter here.
			ada, ulla, nora := s.as("ada@crew.test", "crew"), s.as("ulla@crew.test", "crew"), s.as("nora@crew.test", "crew")
			outsider := s.as("zed@else.test", "crew")
			ada.command("POST", "/v1/accounts", map[string]any{"organization": "crew", "name": "Ada"}) // to read /v1/projections
			ada.command("POST", "/v1/identities", map[string]any{"name": "Ada"})
			ulla.command("POST", "/v1/identities", map[string]any{"name": "Ulla"})
			p := ada.command("POST", "/v1/cloud-projects", map[string]any{"name": "Bridge"}).ID
			base := "/v1/cloud-projects/" + p
			ada.command("POST", base+"/invitations", map[string]any{"email": "ulla@crew.test", "role": "User"})
			last := ada.command("POST", base+"/invitations", map[string]any{"email": "nora@crew.test", "role": "user"})
			var tab teamPage
			ada.read(base+"/team", last.Position, &tab)
			m := tab.byEmail()
			if m["ada@crew.test"].Role != "administrator" || m["ulla@crew.test"].Status != "active" || m["nora@crew.test"].Status != "invited" {
				t.Fatalf("Team tab: %+v", tab.Items)
			}
			var status readapi.Page[readapi.ProjectionStatus]
			ada.read("/v1/projections", last.Position, &status) // every projection, the notifier too
			mails, _ := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
			body := ""
			for _, f := range mails {
				b, _ := os.ReadFile(f)
				body += string(b)
			}
			if len(mails) != 2 || !strings.Contains(body, "added you to the cloud project Bridge") || !strings.Contains(body, "Create your identity") {
				t.Fatalf("invitation mails: %d\n%s", len(mails), body)
			}
			if r := nora.do("POST", base+"/jobs", map[string]any{"name": "x"}); r.status != http.StatusForbidden || r.problemCode(t) != "not-team-member" {
				t.Fatalf("nora without identity creating a job: %d %s", r.status, r.body)
			}
			if r := outsider.do("GET", base+"/team", nil); r.status != http.StatusNotFound {
				t.Fatalf("an outsider reads the team: %d %s", r.status, r.body)
			}
			// The identity completes the invitation.
			last = nora.command("POST", "/v1/identities", map[string]any{"name": "Nora"})
			ada.read(base+"/team", last.Position, &tab)
			if n := tab.byEmail()["nora@crew.test"]; n.Status != "active" || n.Name != "Nora" {
				t.Fatalf("after her identity, nora is %+v", n)
			}

			// The project's properties and stylesheets, for its members.
			ada.command("POST", base+"/stylesheets", map[string]any{"name": "roads"})
			last = ada.command("POST", base+"/stylesheets", map[string]any{"name": "bridges"})
			var props readapi.CloudProject
			nora.read(base, last.Position, &props)
			if props.Name != "Bridge" || props.Role != "user" {
				t.Fatalf("the project as nora sees it: %+v", props)
			}
			var sheets struct {
				Items []struct {
					Name string `json:"name"`
				} `json:"items"`
			}
			nora.read(base+"/stylesheets", last.Position, &sheets)
			if len(sheets.Items) != 2 || sheets.Items[0].Name != "bridges" || sheets.Items[1].Name != "roads" {
				t.Fatalf("stylesheets: %+v", sheets.Items)
			}
			if r := outsider.do("GET", base+"/stylesheets", nil); r.status != http.StatusNotFound {
				t.Fatalf("an outsider reads the stylesheets: %d %s", r.status, r.body)
			}

			// CSV: a bad file invites nobody and names each bad row.
			bad := "email, group, role\nkim@crew.test,,User\nnot-an-email,,User\nlee@crew.test,,Boss\n"
			r := ada.do("POST", base+"/invitations/csv", bad, "Content-Type", "text/csv")
			if r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "invalid-csv" || !strings.Contains(string(r.body), `"line":3`) || !strings.Contains(string(r.body), `"line":4`) {
				t.Fatalf("bad CSV: %d %s", r.status, r.body)
			}
			good := "email, group, role\nkim@crew.test,,User\nlee@crew.test,,Administrator\nKIM@crew.test,,User\nulla@crew.test,,User\n"
			r = ada.do("POST", base+"/invitations/csv", good, "Content-Type", "text/csv")
			if r.status != http.StatusOK || !strings.Contains(string(r.body), `"invited":2`) || !strings.Contains(string(r.body), `"alreadyOnTeam":["ulla@crew.test"]`) || !strings.Contains(string(r.body), `"line":4`) {
				t.Fatalf("good CSV: %d %s", r.status, r.body)
			}
			var res commandResult
			r.decode(t, &res)
			ada.read(base+"/team", res.Position, &tab)
			if len(tab.Items) != 5 {
				t.Fatalf("after the CSV the team has %d members, want 5: %+v", len(tab.Items), tab.Items)
			}

			// Jobs.
			job := ulla.command("POST", base+"/jobs", map[string]any{"name": "Survey"}).ID
			jb := base + "/jobs/" + job
			if r := ulla.do("POST", jb+"/assignees", map[string]any{"emails": []string{"zed@else.test"}}); r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "assignee-not-member" {
				t.Fatalf("assigning an outsider: %d %s", r.status, r.body)
			}
			ada.command("POST", jb+"/assignees", map[string]any{"emails": []string{"nora@crew.test"}})
			nora.command("PUT", jb, map[string]any{"name": "Survey, day 2"})
			if r := s.as("kim@crew.test", "crew").do("PUT", jb, map[string]any{"name": "no"}); r.status != http.StatusForbidden {
				t.Fatalf("kim (no identity, not assigned) updating the job: %d %s", r.status, r.body)
			}
			last = nora.command("POST", base+"/access", nil)
			var mine struct {
				Items []teammodel.MyJob `json:"items"`
			}
			nora.read("/v1/me/jobs", last.Position, &mine)
			if len(mine.Items) != 1 || mine.Items[0].Name != "Survey, day 2" {
				t.Fatalf("nora's jobs: %+v", mine.Items)
			}
			ada.read(base+"/team", last.Position, &tab)
			if tab.byEmail()["nora@crew.test"].LastAccess == nil {
				t.Fatal("nora's last access was not recorded")
			}
			// Removing a member takes their assignments off.
			last = ada.command("DELETE", base+"/members/nora@crew.test", nil)
			nora.read("/v1/me/jobs", last.Position, &mine)
			if len(mine.Items) != 0 {
				t.Fatalf("removed nora still has jobs: %+v", mine.Items)
			}
			var jobs struct {
				Items []teammodel.Job `json:"items"`
			}
			ada.read(base+"/jobs", last.Position, &jobs)
			if len(jobs.Items) != 1 || len(jobs.Items[0].Assignees) != 0 {
				t.Fatalf("jobs after removing nora: %+v", jobs.Items)
			}

			// Roles and the last administrator.
			if r := ulla.do("PUT", base+"/members/ulla@crew.test/role", map[string]any{"role": "administrator"}); r.status != http.StatusForbidden {
				t.Fatalf("a User promoting herself: %d %s", r.status, r.body)
			}
			ada.command("DELETE", base+"/members/lee@crew.test", nil)
			if r := ada.do("POST", base+"/leave", nil); r.status != http.StatusConflict || r.problemCode(t) != "last-administrator" {
				t.Fatalf("the only administrator leaving: %d %s", r.status, r.body)
			}
			if r := ada.do("PUT", base+"/members/ada@crew.test/role", map[string]any{"role": "user"}); r.status != http.StatusConflict {
				t.Fatalf("the only administrator demoting herself: %d %s", r.status, r.body)
			}
			// Under any interleaving: two administrators, one demotes herself
			// while the other leaves; exactly one can win.
			for round := range 8 {
				ada.command("PUT", base+"/members/ulla@crew.test/role", map[string]any{"role": "administrator"})
				var wg sync.WaitGroup
				statuses := make([]int, 2)
				wg.Go(func() {
					statuses[0] = ulla.do("POST", base+"/leave", nil, "Idempotency-Key", fmt.Sprint("leave-", round)).status
				})
				wg.Go(func() {
					statuses[1] = ada.do("PUT", base+"/members/ada@crew.test/role", map[string]any{"role": "user"}, "Idempotency-Key", fmt.Sprint("demote-", round)).status
				})
				wg.Wait()
				ok := 0
				for _, st := range statuses {
					if st == http.StatusOK {
						ok++
					}
				}
				if ok != 1 {
					t.Fatalf("round %d: %d of leave/demote succeeded (%v), want exactly 1", round, ok, statuses)
				}
				// Restore: the remaining administrator re-invites or re-promotes.
				if statuses[0] == http.StatusOK { // ulla left; ada is still the administrator
					last = ada.command("POST", base+"/invitations", map[string]any{"email": "ulla@crew.test", "role": "user"}, "Idempotency-Key", fmt.Sprint("reinvite-", round))
				} else { // ada became a User; ulla administers
					last = ulla.command("PUT", base+"/members/ada@crew.test/role", map[string]any{"role": "administrator"}, "Idempotency-Key", fmt.Sprint("repromote-", round))
					last = ada.command("PUT", base+"/members/ulla@crew.test/role", map[string]any{"role": "user"}, "Idempotency-Key", fmt.Sprint("redemote-", round))
				}
			}
			ada.read(base+"/team", last.Position, &tab)
			admins := 0
			for _, m := range tab.Items {
				if m.Role == "administrator" && m.Status == "active" {
					admins++
				}
			}
			if admins != 1 {
				t.Fatalf("%d administrators at the end, want 1: %+v", admins, tab.Items)
			}
		})
	}
}
