package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// TestIdempotencyKeysAreScoped: a key names one command of one caller. The
// same key from another account, another user or for another command is a
// new command; sent again with another request it is refused; and a
// replay passes the same checks as the first.
func TestIdempotencyKeysAreScoped(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.openAccounts()
	ann := s.as("ann@acme.test", "acme")
	alice.command("POST", "/v1/users", map[string]any{"email": "ann@acme.test", "name": "Ann", "role": "administrator"})
	alice.command("POST", "/v1/identities", map[string]any{"name": "Alice"})
	bob.command("POST", "/v1/identities", map[string]any{"name": "Bob"})
	cp := alice.command("POST", "/v1/cloud-projects", map[string]any{"name": "Bridge"}).ID
	bobsCP := bob.command("POST", "/v1/cloud-projects", map[string]any{"name": "Depot"}).ID
	const key = "create-42"

	creates := []struct {
		name       string
		first      client
		second     client
		path       string
		firstBody  any
		secondBody any
	}{
		{"a device, across accounts", alice, bob, "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}, map[string]any{"serial": "S2", "name": "Grader"}},
		{"a project, across accounts", alice, bob, "/v1/projects", map[string]any{"name": "Bridge"}, map[string]any{"name": "Depot"}},
		{"a project, across users of one account", alice, ann, "/v1/projects", map[string]any{"name": "Tunnel"}, map[string]any{"name": "Tunnel"}},
		{"a collection, across accounts", alice, bob, "/v1/collections", map[string]any{"kind": "fleet", "name": "North"}, map[string]any{"kind": "fleet", "name": "South"}},
		{"a cloud project, across people", alice, bob, "/v1/cloud-projects", map[string]any{"name": "Quay"}, map[string]any{"name": "Quay"}},
		{"a job, across projects of two people", alice, bob, "/v1/cloud-projects/" + cp + "/jobs", map[string]any{"name": "Survey"}, nil},
	}
	for i, c := range creates {
		t.Run(c.name, func(t *testing.T) {
			k := fmt.Sprintf("%s-%d", key, i)
			first := c.first.command("POST", c.path, c.firstBody, "Idempotency-Key", k)
			path, body := c.path, c.secondBody
			if body == nil { // the job: bob creates one in his own project with the same key
				path, body = "/v1/cloud-projects/"+bobsCP+"/jobs", c.firstBody
			}
			r := c.second.do("POST", path, body, "Idempotency-Key", k)
			var second commandResult
			r.decode(t, &second)
			if r.status != http.StatusCreated || second.Replayed || second.ID == first.ID || second.ID == "" {
				t.Fatalf("the same key from someone else: %d %s (first %+v)", r.status, r.body, first)
			}
		})
	}

	t.Run("a key used for a job, then for a rename", func(t *testing.T) {
		alice.command("POST", "/v1/cloud-projects/"+cp+"/jobs", map[string]any{"name": "Stakeout"}, "Idempotency-Key", "k-7")
		r := alice.do("PUT", "/v1/cloud-projects/"+cp, map[string]any{"name": "Bridge North"}, "Idempotency-Key", "k-7")
		var res commandResult
		r.decode(t, &res)
		if r.status != http.StatusOK || res.Replayed {
			t.Fatalf("rename with a key used for a job: %d %s", r.status, r.body)
		}
		var mine struct {
			Items []struct {
				Project string `json:"project"`
				Name    string `json:"name"`
			} `json:"items"`
		}
		alice.read("/v1/me/cloud-projects", res.Position, &mine)
		for _, p := range mine.Items {
			if p.Project == cp && p.Name != "Bridge North" {
				t.Fatalf("the rename was lost: %+v", mine.Items)
			}
		}
	})

	t.Run("the same key with another request", func(t *testing.T) {
		first := alice.command("POST", "/v1/projects", map[string]any{"name": "Pier"}, "Idempotency-Key", "k-8")
		cases := []struct {
			name string
			path string
			body any
		}{
			{"another body", "/v1/projects", map[string]any{"name": "Wharf"}},
			{"the same body spelled otherwise", "/v1/projects", `{"name": "Pier"}`},
		}
		for _, c := range cases {
			r := alice.do("POST", c.path, c.body, "Idempotency-Key", "k-8")
			if r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "idempotency-key-reused" {
				t.Fatalf("%s: %d %s", c.name, r.status, r.body)
			}
		}
		assertNothingAppended(t, alice, first.Position)
		again := alice.do("POST", "/v1/projects", map[string]any{"name": "Pier"}, "Idempotency-Key", "k-8")
		var res commandResult
		again.decode(t, &res)
		if again.status != http.StatusOK || !res.Replayed || res.ID != first.ID {
			t.Fatalf("the same request again: %d %s", again.status, again.body)
		}
	})

	t.Run("another account replaying a key on a collection it cannot see", func(t *testing.T) {
		item := alice.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "East"}).ID
		alice.command("POST", "/v1/collections/"+item+"/public", nil, "Idempotency-Key", "k-9")
		r := bob.do("POST", "/v1/collections/"+item+"/public", nil, "Idempotency-Key", "k-9")
		if r.status != http.StatusNotFound {
			t.Fatalf("bob replaying alice's key on her fleet: %d %s", r.status, r.body)
		}
	})
}

// TestTeamReadsApplyTheCommandsRules: an invited person without an
// identity cannot read the Team tab, and a deleted project leaves every
// list and answers 404.
func TestTeamReadsApplyTheCommandsRules(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	ada, nora := s.as("ada@crew.test", "crew"), s.as("nora@crew.test", "crew")
	ada.command("POST", "/v1/identities", map[string]any{"name": "Ada"})
	p := ada.command("POST", "/v1/cloud-projects", map[string]any{"name": "Bridge"}).ID
	base := "/v1/cloud-projects/" + p
	last := ada.command("POST", base+"/invitations", map[string]any{"email": "nora@crew.test", "role": "Administrator"})
	if r := nora.do("GET", base+"/team?position="+last.Position, nil); r.status != http.StatusNotFound {
		t.Fatalf("invited without an identity, nora reads the team: %d %s", r.status, r.body)
	}
	last = nora.command("POST", "/v1/identities", map[string]any{"name": "Nora"})
	var tab teamPage
	nora.read(base+"/team", last.Position, &tab)
	// Two active administrators on the tab: either may leave.
	last = ada.command("POST", base+"/leave", nil)
	del := nora.command("DELETE", base, nil)
	for _, path := range []string{base + "/team", base + "/jobs"} {
		if r := nora.do("GET", path+"?position="+del.Position, nil); r.status != http.StatusNotFound {
			t.Fatalf("GET %s of a deleted project: %d %s", path, r.status, r.body)
		}
	}
	var mine struct {
		Items []json.RawMessage `json:"items"`
	}
	nora.read("/v1/me/cloud-projects", del.Position, &mine)
	if len(mine.Items) != 0 {
		t.Fatalf("a deleted project is still listed: %s", mine.Items)
	}
}
