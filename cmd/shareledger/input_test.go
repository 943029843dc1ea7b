package main

import (
	"net/http"
	"strings"
	"testing"

	teammodel "github.com/shareledger/shareledger/projections/team"
	"github.com/shareledger/shareledger/readapi"
)

// spellings of ann@acme.test that must all name her: in a path (raw and
// percent-encoded, as a browser's encodeURIComponent writes it) and in a body.
var annSpellings = []struct {
	name       string
	path, body string
}{
	{"mixed case", "Ann@ACME.test", "Ann@ACME.test"},
	{"padded", "%20ann@acme.test%20", " ann@acme.test "},
	{"percent-encoded", "ann%40acme.test", "ANN@acme.TEST"},
}

// TestPeopleAreNamedInOneNormalForm calls every route that names a person
// with other spellings of an existing person, and checks that the effect
// lands on that person and that no new person appears.
func TestPeopleAreNamedInOneNormalForm(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	erin, ann := s.as("erin@acme.test", "acme"), s.as("ann@acme.test", "acme")
	erin.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Erin"})
	erin.command("POST", "/v1/users", map[string]any{"email": "ann@acme.test", "name": "Ann", "role": "user"})
	erin.command("POST", "/v1/roles", map[string]any{"name": "viewer", "rights": map[string]any{"fleet": map[string]string{"item": "view", "member": "view"}}})
	public := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": true}).ID
	private := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "South"}).ID
	erin.command("POST", "/v1/hierarchy/nodes", map[string]any{"id": "hq", "name": "HQ"})
	erin.command("PUT", "/v1/subusers/ann@acme.test/rights/node", map[string]any{"item": "view", "member": "view"})

	// ann's rights on an item, after checking that the account still has
	// exactly its two people.
	annOn := func(t *testing.T, item, pos string) string {
		t.Helper()
		var grid struct {
			Items []readapi.GridRow `json:"items"`
		}
		erin.read("/v1/rights/items/"+item+"/grid", pos, &grid)
		level := ""
		for _, r := range grid.Items {
			if r.User != "erin@acme.test" && r.User != "ann@acme.test" {
				t.Fatalf("a new person appeared: %+v", grid.Items)
			}
			if r.User == "ann@acme.test" {
				level = r.Rights.Item.String()
			}
		}
		if len(grid.Items) != 2 {
			t.Fatalf("the account has %d people, want 2: %+v", len(grid.Items), grid.Items)
		}
		return level
	}
	for _, sp := range annSpellings {
		t.Run("rights, "+sp.name, func(t *testing.T) {
			steps := []struct {
				method, path string
				body         any
				item, want   string
			}{
				{"PUT", "/v1/subusers/" + sp.path + "/rights/fleet", map[string]string{"item": "full", "member": "full"}, public, "full"},
				{"PUT", "/v1/subusers/" + sp.path + "/rights/fleet", map[string]string{"item": "none", "member": "none"}, public, "none"},
				{"POST", "/v1/subusers/" + sp.path + "/roles", map[string]string{"role": "viewer"}, public, "view"},
				{"DELETE", "/v1/subusers/" + sp.path + "/roles/viewer", nil, public, "none"},
				{"PUT", "/v1/collections/" + private + "/shares/" + sp.path, map[string]string{"item": "edit", "member": "view"}, private, "edit"},
				{"DELETE", "/v1/collections/" + private + "/shares/" + sp.path, nil, private, "none"},
				{"PUT", "/v1/hierarchy/placements/" + sp.path, map[string]string{"node": "hq", "kind": "user"}, "hq", "view"},
				{"PUT", "/v1/hierarchy/placements/" + sp.path, map[string]string{"node": "", "kind": "user"}, "hq", "none"},
			}
			for _, st := range steps {
				res := erin.command(st.method, st.path, st.body)
				if got := annOn(t, st.item, res.Position); got != st.want {
					t.Fatalf("%s %s: ann has %q on %s, want %q", st.method, st.path, got, st.item, st.want)
				}
			}
			if r := erin.do("POST", "/v1/users", map[string]any{"email": sp.body, "name": "Ann again", "role": "user"}); r.status != http.StatusConflict || r.problemCode(t) != "already-member" {
				t.Fatalf("adding %q again: %d %s", sp.body, r.status, r.body)
			}
		})
	}
	// ann herself, whatever her token's spelling, is the same subuser.
	var check readapi.Check
	ann.read("/v1/rights/check?item="+public+"&user="+"ANN@acme.test", "0", &check)
	if check.User != "ann@acme.test" {
		t.Fatalf("check for ANN@acme.test answered for %q", check.User)
	}

	// A cloud project's team.
	ada := s.as("ada@crew.test", "crew")
	ada.command("POST", "/v1/identities", map[string]any{"name": "Ada"})
	ann.command("POST", "/v1/identities", map[string]any{"name": "Ann"})
	p := ada.command("POST", "/v1/cloud-projects", map[string]any{"name": "Bridge"}).ID
	base := "/v1/cloud-projects/" + p
	job := ada.command("POST", base+"/jobs", map[string]any{"name": "Survey"}).ID
	tab := func(t *testing.T, pos string) map[string]teammodel.Member {
		t.Helper()
		var page teamPage
		ada.read(base+"/team", pos, &page)
		if len(page.Items) != 2 {
			t.Fatalf("the team has %d people, want 2: %+v", len(page.Items), page.Items)
		}
		return page.byEmail()
	}
	assignees := func(t *testing.T, pos string) string {
		t.Helper()
		var jobs struct {
			Items []teammodel.Job `json:"items"`
		}
		ada.read(base+"/jobs", pos, &jobs)
		var out []string
		for _, j := range jobs.Items {
			for _, a := range j.Assignees {
				out = append(out, string(a))
			}
		}
		return strings.Join(out, ",")
	}
	for _, sp := range annSpellings {
		t.Run("team, "+sp.name, func(t *testing.T) {
			res := ada.command("POST", base+"/invitations", map[string]any{"email": sp.body, "role": "User"})
			if m := tab(t, res.Position)["ann@acme.test"]; m.Status != "active" || m.Role != "user" {
				t.Fatalf("invited as %q: %+v", sp.body, m)
			}
			res = ada.command("PUT", base+"/members/"+sp.path+"/role", map[string]any{"role": "Administrator"})
			if m := tab(t, res.Position)["ann@acme.test"]; m.Role != "administrator" {
				t.Fatalf("role through %q: %+v", sp.path, m)
			}
			ada.command("PUT", base+"/members/"+sp.path+"/role", map[string]any{"role": "User"})
			res = ada.command("POST", base+"/jobs/"+job+"/assignees", map[string]any{"emails": []string{sp.body}})
			if a := assignees(t, res.Position); a != "ann@acme.test" {
				t.Fatalf("assigned %q: assignees %q", sp.body, a)
			}
			res = ada.command("DELETE", base+"/jobs/"+job+"/assignees/"+sp.path, nil)
			if a := assignees(t, res.Position); a != "" {
				t.Fatalf("unassigned %q: assignees %q", sp.path, a)
			}
			res = ada.command("DELETE", base+"/members/"+sp.path, nil)
			if m := tab(t, res.Position)["ann@acme.test"]; m.Status != "removed" {
				t.Fatalf("removed %q: %+v", sp.path, m)
			}
		})
	}
}

// TestEmptyAndMalformedPeopleAreRefused: a person who cannot be named is
// refused with a clear problem, and nothing is appended.
func TestEmptyAndMalformedPeopleAreRefused(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	erin := s.as("erin@acme.test", "acme")
	last := erin.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Erin"})
	for _, who := range []string{"", "%20", "%3Cerin@acme.test%3E", "Erin%20%3Cerin@acme.test%3E", "erin@acme.test%00", "a@b@c"} {
		for _, route := range []struct{ method, path string }{
			{"PUT", "/v1/subusers/" + who + "/rights/fleet"},
			{"PUT", "/v1/collections/x/shares/" + who},
			{"PUT", "/v1/hierarchy/placements/" + who},
		} {
			body := map[string]string{"item": "view", "member": "view"}
			if strings.HasPrefix(route.path, "/v1/hierarchy") {
				body = map[string]string{"node": "", "kind": "user"}
			}
			r := erin.do(route.method, route.path, body)
			if r.status == http.StatusOK || r.status == http.StatusCreated || r.status >= 500 {
				t.Errorf("%s %s: %d %s", route.method, route.path, r.status, r.body)
			}
		}
	}
	assertNothingAppended(t, erin, last.Position)
}

// assertNothingAppended checks that the log's head is still at pos.
func assertNothingAppended(t *testing.T, c client, pos string) {
	t.Helper()
	var status readapi.Page[readapi.ProjectionStatus]
	c.read("/v1/projections", pos, &status)
	for _, st := range status.Items {
		if st.Head.String() != pos {
			t.Fatalf("the log moved from %s to %s: something was appended", pos, st.Head)
		}
	}
}
