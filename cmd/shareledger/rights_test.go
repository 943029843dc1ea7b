package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/readapi"
)

// TestSharingWithSubusers walks the product doc's Fleets & Teams, Marker
// Categories and hierarchy flows over HTTP.
func TestSharingWithSubusers(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, testConfig(t, b))
			erin := s.as("erin@acme.test", "acme") // the administrator
			ann, bob := s.as("ann@acme.test", "acme"), s.as("bob@acme.test", "acme")
			carl, dora := s.as("carl@acme.test", "acme"), s.as("dora@acme.test", "acme")
			erin.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Erin"})
			for _, u := range []string{"ann", "bob", "carl", "dora"} {
				names := map[string]string{"ann": "Ann Ames", "bob": "Bob Brown", "carl": "Carl Cole", "dora": "Dora Diaz"}
				erin.command("POST", "/v1/users", map[string]any{"email": u + "@acme.test", "name": names[u], "role": "user"})
			}
			check := func(c client, pos, query string) readapi.Check {
				t.Helper()
				var out readapi.Check
				c.read("/v1/rights/check?"+query, pos, &out)
				return out
			}
			via := func(ch readapi.Check) string {
				if len(ch.Sources) == 0 {
					return ""
				}
				return ch.Sources[0].Via
			}

			// Fleets & Teams: public view on all fleets, private edit on one.
			erin.command("POST", "/v1/roles", map[string]any{"name": "viewer", "rights": map[string]any{"fleet": map[string]string{"item": "view", "member": "view"}}})
			erin.command("POST", "/v1/subusers/ann@acme.test/roles", map[string]any{"role": "viewer"})
			north := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": true}).ID
			south := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "South", "public": true}).ID
			erin.command("POST", "/v1/collections/"+north+"/members", map[string]any{"member": "v1", "kind": "vehicle"})
			erin.command("POST", "/v1/collections/"+south+"/members", map[string]any{"member": "v1", "kind": "vehicle"})
			last := erin.command("PUT", "/v1/collections/"+south+"/shares/ann@acme.test", map[string]any{"item": "edit", "member": "edit"})
			if c := check(ann, last.Position, "item="+north); !c.Allowed || c.Rights.Item.String() != "view" || via(c) != "role" {
				t.Fatalf("ann on North: %+v", c)
			}
			if c := check(ann, last.Position, "member=v1&level=edit"); !c.Allowed || via(c) != "private-share" || string(c.Sources[0].Collection) != south {
				t.Fatalf("ann on v1, in two fleets: %+v", c)
			}
			if c := check(bob, last.Position, "item="+north); c.Allowed {
				t.Fatalf("bob without rights sees North: %+v", c)
			}
			var grid struct {
				Items []readapi.GridRow `json:"items"`
			}
			erin.read("/v1/rights/items/"+north+"/grid", last.Position, &grid)
			rows := map[string]readapi.GridRow{}
			for _, r := range grid.Items {
				rows[string(r.User)] = r
			}
			if len(grid.Items) != 5 || rows["ann@acme.test"].Rights.Item.String() != "view" || rows["bob@acme.test"].Rights.Item.String() != "none" || rows["erin@acme.test"].Sources[0].Via != "administrator" {
				t.Fatalf("North's User Permissions tab: %+v", grid.Items)
			}
			if r := ann.do("GET", "/v1/rights/check?user=bob@acme.test&item="+north, nil); r.status != http.StatusForbidden {
				t.Fatalf("ann asking about bob: %d %s", r.status, r.body)
			}
			// What if North were private? Ann would lose her view of North
			// (her role), not of v1 (her share of South); nothing is
			// appended.
			var whatIf readapi.WhatIfAnswer
			erin.post("/v1/rights/what-if", last.Position, map[string]any{"change": "make-private", "item": north}, &whatIf)
			if len(whatIf.Gains) != 0 || len(whatIf.Losses) != 1 || whatIf.Losses[0].User != "ann@acme.test" || whatIf.Losses[0].Object != north ||
				whatIf.Losses[0].Before.Item != rights.View || whatIf.Losses[0].After.Item != rights.None || whatIf.Objects != 2 {
				t.Fatalf("what if North were private: %+v", whatIf)
			}
			erin.post("/v1/rights/what-if", last.Position, map[string]any{"change": "unassign-role", "user": "ann@acme.test", "role": "viewer"}, &whatIf)
			if len(whatIf.Losses) != 1 || whatIf.Losses[0].Object != north {
				t.Fatalf("what if ann lost her role: %+v", whatIf)
			}
			erin.post("/v1/rights/what-if", last.Position, map[string]any{"change": "share", "item": north, "user": "bob@acme.test", "rights": map[string]string{"item": "view", "member": "edit"}}, &whatIf)
			if len(whatIf.Gains) != 2 || len(whatIf.Losses) != 0 {
				t.Fatalf("what if bob had a share of North: %+v", whatIf)
			}
			if r := ann.do("POST", "/v1/rights/what-if", map[string]any{"change": "make-private", "item": north}); r.status != http.StatusForbidden {
				t.Fatalf("ann trying a change: %d %s", r.status, r.body)
			}
			if c := check(ann, last.Position, "item="+north); !c.Allowed {
				t.Fatalf("a what-if changed something: %+v", c)
			}
			// Making North private withdraws public sharing at once, after confirmation.
			if r := erin.do("POST", "/v1/collections/"+north+"/private", map[string]any{"confirm": false}); r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "confirmation-required" {
				t.Fatalf("unconfirmed: %d %s", r.status, r.body)
			}
			private := erin.command("POST", "/v1/collections/"+north+"/private", map[string]any{"confirm": true})
			if c := check(ann, private.Position, "item="+north); c.Allowed {
				t.Fatalf("North private, ann still sees it: %+v", c)
			}
			public := erin.command("POST", "/v1/collections/"+north+"/public", nil)
			if c := check(ann, public.Position, "item="+north); !c.Allowed {
				t.Fatalf("North public again, ann does not see it: %+v", c)
			}
			var visible struct {
				Items []readapi.VisibleItem `json:"items"`
			}
			ann.read("/v1/rights/items?kind=fleet", public.Position, &visible)
			if len(visible.Items) != 2 {
				t.Fatalf("ann's fleets: %+v", visible.Items)
			}

			// Marker Categories: private to its creator, shared with one user.
			hazards := carl.command("POST", "/v1/collections", map[string]any{"kind": "category", "name": "Hazards"}).ID
			carl.command("POST", "/v1/collections/"+hazards+"/members", map[string]any{"member": "m1", "kind": "marker"})
			shared := carl.command("PUT", "/v1/collections/"+hazards+"/shares/bob@acme.test", map[string]any{"item": "view", "member": "view"})
			if c := check(bob, shared.Position, "member=m1"); !c.Allowed || via(c) != "private-share" {
				t.Fatalf("bob on the shared marker: %+v", c)
			}
			var markers struct {
				Items []readapi.VisibleMember `json:"items"`
			}
			bob.read("/v1/rights/members?kind=marker", shared.Position, &markers)
			if len(markers.Items) != 1 || markers.Items[0].ID != "m1" || markers.Items[0].Member.String() != "view" {
				t.Fatalf("bob's markers: %+v", markers.Items)
			}
			if c := check(ann, shared.Position, "member=m1"); c.Allowed {
				t.Fatalf("ann sees carl's private marker: %+v", c)
			}
			if r := ann.do("PUT", "/v1/collections/"+hazards+"/shares/ann@acme.test", map[string]any{"item": "full"}); r.status != http.StatusForbidden {
				t.Fatalf("ann sharing carl's category with herself: %d %s", r.status, r.body)
			}
			// Item rights govern what a holder may do: bob's view share
			// changes nothing; with full rights dora changes members and
			// shares onward, as the creator would.
			if r := bob.do("POST", "/v1/collections/"+hazards+"/members", map[string]any{"member": "m2", "kind": "marker"}); r.status != http.StatusForbidden || r.problemCode(t) != "not-item-manager" {
				t.Fatalf("bob, holding view, adding a marker: %d %s", r.status, r.body)
			}
			carl.command("PUT", "/v1/collections/"+hazards+"/shares/dora@acme.test", map[string]any{"item": "full", "member": "full"})
			dora.command("POST", "/v1/collections/"+hazards+"/members", map[string]any{"member": "m2", "kind": "marker"})
			onward := dora.command("PUT", "/v1/collections/"+hazards+"/shares/ann@acme.test", map[string]any{"item": "view", "member": "view"})
			if c := check(ann, onward.Position, "member=m2"); !c.Allowed || via(c) != "private-share" {
				t.Fatalf("ann after dora shared carl's category onward: %+v", c)
			}
			dora.command("DELETE", "/v1/collections/"+hazards+"/shares/ann@acme.test", nil)

			// The hierarchy: a user on a middle node of a three-level tree.
			for _, n := range []map[string]any{
				{"id": "hq", "name": "HQ"}, {"id": "east", "parent": "hq", "name": "East"},
				{"id": "depot", "parent": "east", "name": "Depot"}, {"id": "west", "parent": "hq", "name": "West"},
			} {
				erin.command("POST", "/v1/hierarchy/nodes", n)
			}
			erin.command("PUT", "/v1/subusers/dora@acme.test/rights/node", map[string]any{"item": "edit", "member": "edit"})
			for member, node := range map[string]string{"dora@acme.test": "east", "v3": "depot", "v4": "hq", "ann@acme.test": "depot", "carl@acme.test": "west"} {
				kind := "vehicle"
				if strings.Contains(member, "@") {
					kind = "user"
				}
				last = erin.command("PUT", "/v1/hierarchy/placements/"+member, map[string]any{"node": node, "kind": kind})
			}
			cases := []struct {
				query string
				want  bool
			}{
				{"item=depot", true}, {"item=east", true}, {"item=hq", false}, {"item=west", false},
				{"member=v3", true}, {"member=v4", false},
				{"member=v1", true},  // v1 is on no node: the hierarchy reaches it
				{"member=v9", false}, // no vehicle v9 is held by the account
			}
			for _, c := range cases {
				if got := check(dora, last.Position, c.query); got.Allowed != c.want {
					t.Fatalf("dora %s: allowed %v, want %v (%+v)", c.query, got.Allowed, c.want, got)
				}
			}
			var subs struct {
				Items []struct {
					User string `json:"user"`
				} `json:"items"`
			}
			dora.read("/v1/subusers", last.Position, &subs)
			seen := map[string]bool{}
			for _, u := range subs.Items {
				seen[u.User] = true
			}
			// Placed below dora's node (ann) or on no node (bob, erin):
			// visible; placed on another branch (carl): not.
			if !seen["ann@acme.test"] || !seen["bob@acme.test"] || !seen["erin@acme.test"] || seen["carl@acme.test"] {
				t.Fatalf("dora's subusers: %+v", subs.Items)
			}
			dora.read("/v1/subusers?search=an", last.Position, &subs)
			if len(subs.Items) != 1 || subs.Items[0].User != "ann@acme.test" {
				t.Fatalf("dora searching 'an': %+v", subs.Items)
			}
			// A search long enough for the index of grams, which every
			// address holds: the subusers she sees, exactly, whole and a
			// row a page (their rights read with them, View.UsersFor).
			var all []string
			dora.read("/v1/subusers", last.Position, &subs)
			for _, u := range subs.Items {
				all = append(all, u.User)
			}
			for _, limit := range []string{"", "&limit=1"} {
				var found []string
				cursor := ""
				for range 10 {
					var p struct {
						Items []struct {
							User string `json:"user"`
						} `json:"items"`
						Next string `json:"next"`
					}
					dora.read("/v1/subusers?search=acme.test"+limit+"&cursor="+url.QueryEscape(cursor), last.Position, &p)
					for _, u := range p.Items {
						found = append(found, u.User)
					}
					if cursor = p.Next; cursor == "" {
						break
					}
				}
				if fmt.Sprint(found) != fmt.Sprint(all) {
					t.Fatalf("dora searching 'acme.test'%s: %v, want %v", limit, found, all)
				}
			}
			var vehicles struct {
				Items []readapi.VisibleMember `json:"items"`
			}
			dora.read("/v1/rights/members?kind=vehicle", last.Position, &vehicles)
			got := map[string]string{}
			for _, m := range vehicles.Items {
				got[string(m.ID)] = m.Member.String()
			}
			// v1 is on no node (so the hierarchy reaches it); v3 below dora; v4 above.
			if len(got) != 2 || got["v1"] != "edit" || got["v3"] != "edit" {
				t.Fatalf("dora's vehicles: %+v", vehicles.Items)
			}
			ann.read("/v1/rights/members", last.Position, &vehicles)
			if len(vehicles.Items) != 1 || vehicles.Items[0].ID != "v1" || vehicles.Items[0].Member.String() != "edit" {
				t.Fatalf("ann's members: %+v", vehicles.Items)
			}
			// The screens: the Hierarchy screen as dora sees it (her node
			// and below, what is placed there), one subuser, a collection.
			var nodes struct {
				Items []readapi.Node `json:"items"`
			}
			dora.read("/v1/hierarchy/nodes", last.Position, &nodes)
			var tree []string
			for _, n := range nodes.Items {
				tree = append(tree, string(n.ID)+"<"+string(n.Parent))
			}
			if strings.Join(tree, " ") != "depot<east east<hq" {
				t.Fatalf("dora's hierarchy: %v", tree)
			}
			erin.read("/v1/hierarchy/nodes?search=EA", last.Position, &nodes)
			if len(nodes.Items) != 1 || nodes.Items[0].ID != "east" {
				t.Fatalf("erin searching nodes for EA: %+v", nodes.Items)
			}
			var placed struct {
				Items []readapi.Placement `json:"items"`
			}
			dora.read("/v1/hierarchy/placements", last.Position, &placed)
			var where []string
			for _, p := range placed.Items {
				where = append(where, string(p.Member)+"@"+string(p.Node))
			}
			if strings.Join(where, " ") != "ann@acme.test@depot dora@acme.test@east v3@depot" {
				t.Fatalf("what dora sees placed: %v", where)
			}
			// "Ames" is in Ann's name and in no e-mail address.
			erin.read("/v1/hierarchy/placements?search=ames&kind=user", last.Position, &placed)
			if len(placed.Items) != 1 || placed.Items[0].Member != "ann@acme.test" {
				t.Fatalf("erin searching placements for the name Ames: %+v", placed.Items)
			}
			var ann0 readapi.Subuser
			dora.read("/v1/subusers/ann@acme.test", last.Position, &ann0)
			if ann0.Node != "depot" || ann0.AccountRole != "user" || len(ann0.Roles) != 1 || ann0.Roles[0] != "viewer" {
				t.Fatalf("ann as dora sees her: %+v", ann0)
			}
			if r := dora.do("GET", "/v1/subusers/carl@acme.test?position="+last.Position, nil); r.status != http.StatusNotFound {
				t.Fatalf("dora reading carl, on another branch: %d %s", r.status, r.body)
			}
			var hz readapi.Collection
			bob.read("/v1/collections/"+hazards, last.Position, &hz)
			if hz.Name != "Hazards" || hz.Kind != "category" || hz.Public || hz.Creator != "carl@acme.test" || hz.Rights.Item != rights.View {
				t.Fatalf("the category carl shared with bob: %+v", hz)
			}
			var inside struct {
				Items []readapi.VisibleMember `json:"items"`
			}
			bob.read("/v1/collections/"+hazards+"/members", last.Position, &inside)
			if len(inside.Items) != 2 || inside.Items[0].ID != "m1" || inside.Items[1].ID != "m2" || inside.Items[0].Member != rights.View {
				t.Fatalf("the markers bob sees in carl's category: %+v", inside.Items)
			}
			if r := ann.do("GET", "/v1/collections/"+hazards+"?position="+last.Position, nil); r.status != http.StatusNotFound {
				t.Fatalf("ann reading carl's private category: %d %s", r.status, r.body)
			}

			var roles struct {
				Items []struct {
					Name   string                   `json:"name"`
					Rights map[string]rights.Rights `json:"rights"`
				} `json:"items"`
			}
			erin.read("/v1/roles", last.Position, &roles)
			if len(roles.Items) != 1 || roles.Items[0].Name != "viewer" || roles.Items[0].Rights["fleet"] != (rights.Rights{Item: rights.View, Member: rights.View}) {
				t.Fatalf("the account's roles: %+v", roles.Items)
			}
			if r := ann.do("GET", "/v1/roles/viewer?position="+last.Position, nil); r.status != http.StatusForbidden {
				t.Fatalf("ann reading a role: %d %s", r.status, r.body)
			}

			// Renamed by a holder with edit rights (dora holds full), then
			// deleted by its creator: gone with its shares and memberships.
			renamed := dora.command("PATCH", "/v1/collections/"+hazards, map[string]any{"name": "Dangers"})
			bob.read("/v1/collections/"+hazards, renamed.Position, &hz)
			if hz.Name != "Dangers" {
				t.Fatalf("after the rename: %+v", hz)
			}
			if r := bob.do("DELETE", "/v1/collections/"+hazards, nil); r.status != http.StatusForbidden {
				t.Fatalf("bob, holding view, deleting: %d %s", r.status, r.body)
			}
			deleted := carl.command("DELETE", "/v1/collections/"+hazards, nil)
			if c := check(bob, deleted.Position, "member=m1"); c.Allowed {
				t.Fatalf("bob still reaches a marker of a deleted category: %+v", c)
			}
			if r := bob.do("GET", "/v1/collections/"+hazards+"?position="+deleted.Position, nil); r.status != http.StatusNotFound {
				t.Fatalf("reading a deleted category: %d %s", r.status, r.body)
			}
			if r := carl.do("PATCH", "/v1/collections/"+hazards, map[string]any{"name": "Again"}); r.status != http.StatusNotFound {
				t.Fatalf("renaming a deleted category: %d %s", r.status, r.body)
			}

			// What if depot moved to west: dora would lose it, and v3 and
			// ann placed on it.
			var moveIf readapi.WhatIfAnswer
			erin.post("/v1/rights/what-if", deleted.Position, map[string]any{"change": "move-node", "node": "depot", "parent": "west"}, &moveIf)
			lost := map[string]bool{}
			for _, l := range moveIf.Losses {
				if l.User == "dora@acme.test" {
					lost[l.Object] = true
				}
			}
			if !lost["depot"] || !lost["v3"] || !lost["ann@acme.test"] || lost["east"] {
				t.Fatalf("what dora would lose if depot moved: %+v", moveIf.Losses)
			}

			// Moving a node moves what it grants.
			moved := erin.command("POST", "/v1/hierarchy/nodes/depot/move", map[string]any{"parent": "west"})
			if c := check(dora, moved.Position, "item=depot"); c.Allowed {
				t.Fatalf("depot moved to west, dora still sees it: %+v", c)
			}
			if r := erin.do("POST", "/v1/hierarchy/nodes/hq/move", map[string]any{"parent": "depot"}); r.status != http.StatusConflict {
				t.Fatalf("moving the root: %d %s", r.status, r.body)
			}
			// Deletions: a role someone holds and a node that holds
			// something are refused; empty ones go.
			if r := erin.do("DELETE", "/v1/roles/viewer", nil); r.status != http.StatusConflict || r.problemCode(t) != "role-in-use" {
				t.Fatalf("deleting a role ann holds: %d %s", r.status, r.body)
			}
			if r := erin.do("DELETE", "/v1/hierarchy/nodes/hq", nil); r.status != http.StatusConflict || r.problemCode(t) != "node-not-empty" {
				t.Fatalf("deleting the root: %d %s", r.status, r.body)
			}
			erin.command("POST", "/v1/roles", map[string]any{"name": "temp", "rights": map[string]any{"team": map[string]string{"item": "view", "member": "none"}}})
			erin.command("POST", "/v1/hierarchy/nodes", map[string]any{"id": "spare", "parent": "hq", "name": "Spare"})
			erin.command("DELETE", "/v1/roles/temp", nil)
			gone := erin.command("DELETE", "/v1/hierarchy/nodes/spare", nil)
			if r := erin.do("GET", "/v1/roles/temp?position="+gone.Position, nil); r.status != http.StatusNotFound {
				t.Fatalf("a deleted role: %d %s", r.status, r.body)
			}
			erin.read("/v1/hierarchy/nodes?search=spare", gone.Position, &nodes)
			if len(nodes.Items) != 0 {
				t.Fatalf("a deleted node: %+v", nodes.Items)
			}
		})
	}
}

// An account's users and projects page through all of them, whatever
// their number; /v1/account holds the first ones.
func TestAccountListsPage(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	erin := s.as("erin@acme.test", "acme")
	erin.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Erin"})
	var last string
	for i := range 4 {
		erin.command("POST", "/v1/users", map[string]any{"email": fmt.Sprintf("u%d@acme.test", i), "name": "U", "role": "user"})
		last = erin.command("POST", "/v1/projects", map[string]any{"name": fmt.Sprint("P", i)}).Position
	}
	cases := []struct {
		path string
		want int
	}{
		{"/v1/account/users", 5}, // the four and erin
		{"/v1/account/projects", 4},
	}
	for _, c := range cases {
		seen, cursor := 0, ""
		for pages := 0; ; pages++ {
			var page struct {
				Items []json.RawMessage `json:"items"`
				Next  string            `json:"next"`
			}
			erin.read(c.path+"?limit=2&cursor="+url.QueryEscape(cursor), last, &page)
			seen += len(page.Items)
			if page.Next == "" || pages > 10 {
				break
			}
			cursor = page.Next
		}
		if seen != c.want {
			t.Errorf("%s paged through %d, want %d", c.path, seen, c.want)
		}
	}

	// Roles and removal: the last administrator stays one and stays in;
	// a removed user acts for the account no more.
	if r := erin.do("PUT", "/v1/users/erin@acme.test/role", map[string]any{"role": "user"}); r.status != http.StatusConflict || r.problemCode(t) != "last-account-administrator" {
		t.Fatalf("the last administrator becoming a user: %d %s", r.status, r.body)
	}
	erin.command("PUT", "/v1/users/u0@acme.test/role", map[string]any{"role": "administrator"})
	removed := erin.command("DELETE", "/v1/users/u1@acme.test", nil)
	var one readapi.Subuser
	erin.read("/v1/subusers/u0@acme.test", removed.Position, &one)
	if one.AccountRole != "administrator" {
		t.Fatalf("u0 after becoming an administrator: %+v", one)
	}
	if r := s.as("u1@acme.test", "acme").do("GET", "/v1/account?position="+removed.Position, nil); r.status != http.StatusForbidden {
		t.Fatalf("a removed user reading the account: %d %s", r.status, r.body)
	}
	if r := s.as("u1@acme.test", "acme").do("POST", "/v1/projects", map[string]any{"name": "Mine"}); r.status != http.StatusForbidden {
		t.Fatalf("a removed user creating a project: %d %s", r.status, r.body)
	}
	var me readapi.Me
	s.as("u0@acme.test", "acme").read("/v1/me", removed.Position, &me)
	if len(me.Accounts.Items) != 1 || me.Accounts.Items[0].Account != "acme" || me.Accounts.Items[0].Role != "administrator" || me.Accounts.Items[0].Organization != "ACME" {
		t.Fatalf("u0 as a person: %+v", me)
	}
	s.as("u1@acme.test", "acme").read("/v1/me", removed.Position, &me)
	if len(me.Accounts.Items) != 0 {
		t.Fatalf("a removed user still acts for: %+v", me.Accounts.Items)
	}
	erin.command("DELETE", "/v1/users/erin@acme.test", nil) // u0 administers now
}
