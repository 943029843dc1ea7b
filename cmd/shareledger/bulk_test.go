package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

// TestBulkRightsChanges: onboarding loads many memberships, private
// shares and placements in one request each, all or nothing; a load sent
// again changes nothing, and one bad change refuses the whole request,
// naming it, with nothing appended.
func TestBulkRightsChanges(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, testConfig(t, b))
			erin := s.as("erin@fleet.test", "fleetco")
			erin.command("POST", "/v1/accounts", map[string]any{"organization": "FleetCo", "name": "Erin"})
			for _, u := range []string{"ann", "ben"} {
				erin.command("POST", "/v1/users", map[string]any{"email": u + "@fleet.test", "name": u, "role": "user"})
			}
			fleet := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": false}).ID
			erin.command("POST", "/v1/hierarchy/nodes", map[string]any{"id": "hq", "name": "HQ"})
			erin.command("POST", "/v1/hierarchy/nodes", map[string]any{"id": "east", "parent": "hq", "name": "East"})

			var changes []map[string]any
			var placements []map[string]any
			for i := range 300 {
				changes = append(changes, map[string]any{"member": fmt.Sprintf("truck-%03d", i), "kind": "vehicle"})
				placements = append(placements, map[string]any{"member": fmt.Sprintf("truck-%03d", i), "kind": "vehicle", "node": "east"})
			}
			load := []struct {
				path string
				body map[string]any
			}{
				{"/v1/collections/" + fleet + "/members", map[string]any{"changes": changes}},
				{"/v1/collections/" + fleet + "/shares", map[string]any{"changes": []map[string]any{
					{"user": "Ann@Fleet.test", "item": "view", "member": "edit"}, {"user": "ben@fleet.test", "item": "view", "member": "view"}}}},
				{"/v1/hierarchy/placements", map[string]any{"placements": placements}},
			}
			var last commandResult
			for _, l := range load {
				last = erin.command("PATCH", l.path, l.body)
				if again := erin.command("PATCH", l.path, l.body); again.Position != "" && again.Position != "0" && again.Position != last.Position {
					// Sent again, it is skipped entirely: nothing appended.
					t.Fatalf("%s sent again appended (at %s)", l.path, again.Position)
				}
			}
			ann := s.as("ann@fleet.test", "fleetco")
			var members readapi.Page[readapi.VisibleMember]
			ann.read("/v1/collections/"+fleet+"/members?limit=500", last.Position, &members)
			if len(members.Items) != 300 || members.Items[0].Member.String() != "edit" {
				t.Fatalf("ann sees %d members of the fleet (first %+v), want 300 at edit", len(members.Items), members.Items[:min(1, len(members.Items))])
			}
			var placed readapi.Page[readapi.Placement]
			erin.read("/v1/hierarchy/placements?limit=500&kind=vehicle", last.Position, &placed)
			if len(placed.Items) != 300 || placed.Items[0].Node != "east" {
				t.Fatalf("%d vehicles placed, want 300 on east: %+v", len(placed.Items), placed.Items[:min(1, len(placed.Items))])
			}

			refused := []struct {
				name, path string
				body       map[string]any
				status     int
				code, says string
			}{
				{"a marker in a fleet", "/v1/collections/" + fleet + "/members",
					map[string]any{"changes": []map[string]any{{"member": "truck-900", "kind": "vehicle"}, {"member": "pin-1", "kind": "marker"}}},
					http.StatusUnprocessableEntity, "wrong-member-kind", "changes[1]"},
				{"a share with someone of no account", "/v1/collections/" + fleet + "/shares",
					map[string]any{"changes": []map[string]any{{"user": "ann@fleet.test", "item": "full"}, {"user": "zed@fleet.test", "item": "view"}}},
					http.StatusForbidden, "not-member", "changes[1]"},
				{"an unknown node", "/v1/hierarchy/placements",
					map[string]any{"placements": []map[string]any{{"member": "truck-900", "kind": "vehicle", "node": "hq"}, {"member": "truck-901", "kind": "vehicle", "node": "west"}}},
					http.StatusNotFound, "unknown-node", "placements[1]"},
				{"nothing to change", "/v1/hierarchy/placements", map[string]any{"placements": []map[string]any{}}, http.StatusUnprocessableEntity, "no-changes", ""},
			}
			for _, c := range refused {
				var before, after readapi.Page[readapi.ProjectionStatus]
				erin.read("/v1/projections", last.Position, &before)
				r := erin.do("PATCH", c.path, c.body)
				erin.read("/v1/projections", last.Position, &after)
				if r.status != c.status || r.problemCode(t) != c.code || !strings.Contains(string(r.body), c.says) {
					t.Fatalf("%s: %d %s", c.name, r.status, r.body)
				}
				if before.Items[0].Head != after.Items[0].Head {
					t.Fatalf("%s: refused, yet the log moved", c.name)
				}
			}
		})
	}
}
