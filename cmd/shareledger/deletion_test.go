package main

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/shareledger/shareledger/projections/audit"
)

// TestDeletingASharedDevice: the owner deletes a device it shares with a
// partner who uses it in a project. The device is gone at once from both
// accounts' pages and for both accounts' commands; then the partnership
// releases it (out of the partner's project) on behalf of the person who
// deleted it, under the deletion's correlation id, and its history stays.
func TestDeletingASharedDevice(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, testConfig(t, b))
			alice, bob := s.partnered()
			eve := s.as("eve@other.test", "other")
			eve.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Eve"})
			rover := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
			dozer := bob.command("POST", "/v1/devices", map[string]any{"serial": "S2", "name": "Dozer"}).ID
			yard := bob.command("POST", "/v1/projects", map[string]any{"name": "Yard"}).ID
			bob.command("POST", "/v1/devices/"+rover+"/projects", map[string]any{"project": yard})
			bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{rover, dozer}})
			bridge := alice.command("POST", "/v1/projects", map[string]any{"name": "Bridge"}).ID
			alice.command("POST", "/v1/devices/"+rover+"/projects", map[string]any{"project": bridge})

			refusals := []struct {
				name   string
				who    client
				status int
				code   string
			}{
				{"the partner may not delete it", alice, http.StatusForbidden, "not-device-owner"},
				{"a third account does not see it", eve, http.StatusNotFound, "unknown-device"},
			}
			for _, c := range refusals {
				if r := c.who.do("DELETE", "/v1/devices/"+rover, nil); r.status != c.status || r.problemCode(t) != c.code {
					t.Fatalf("%s: %d %s", c.name, r.status, r.body)
				}
			}

			del := bob.command("DELETE", "/v1/devices/"+rover, nil, "X-Correlation-ID", "retire-rover")
			ids := func(c client) []string {
				var page devicePage
				c.read("/v1/devices", del.Position, &page)
				var out []string
				for _, d := range page.Items {
					out = append(out, string(d.ID))
				}
				return out
			}
			for name, c := range map[string]client{"owner": bob, "partner": alice} {
				if got := ids(c); slices.Contains(got, rover) || !slices.Contains(got, dozer) {
					t.Fatalf("the %s's My Devices after the deletion: %v", name, got)
				}
			}
			gone := []struct {
				name, method, path string
				who                client
				body               any
			}{
				{"the owner assigns it", "POST", "/v1/devices/" + rover + "/projects", bob, map[string]any{"project": yard}},
				{"the partner sends it a design", "POST", "/v1/devices/" + rover + "/designs", alice, map[string]any{"project": bridge, "design": "deck.dxf"}},
				{"the owner shares it again", "POST", "/v1/partners/ACME/devices", bob, map[string]any{"devices": []string{rover}}},
				{"the owner deletes it again", "DELETE", "/v1/devices/" + rover, bob, nil},
			}
			for _, c := range gone {
				if r := c.who.do(c.method, c.path, c.body); r.status != http.StatusNotFound || r.problemCode(t) != "unknown-device" {
					t.Fatalf("%s: %d %s", c.name, r.status, r.body)
				}
			}

			// The release is the releaser's, a moment later: wait for it
			// in the device's history.
			var released *auditPage
			for deadline := time.Now().Add(20 * time.Second); released == nil && time.Now().Before(deadline); {
				var page auditPage
				bob.read("/v1/audit/device/"+rover, del.Position, &page)
				if slices.ContainsFunc(page.Items, func(e audit.Entry) bool { return e.Type == "DeviceUnsharedFromPartner" }) {
					released = &page
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if released == nil {
				t.Fatal("the partnership never released the deleted device")
			}
			var types []string
			at := ""
			for _, e := range released.Items {
				at = e.Position.String()
				types = append(types, e.Type)
				if e.Type == "DeviceUnsharedFromPartner" && (e.Actor != "bob@rentco.test" || e.CorrelationID != "retire-rover") {
					t.Fatalf("the release was recorded as %+v", e)
				}
			}
			want := []string{"DeviceRegistered", "DeviceAssignedToProject", "DeviceSharedWithPartner", "DeviceAssignedToProject",
				"DeviceUnassignedFromProject", "DeviceDeleted", "DeviceUnassignedFromProject", "DeviceUnsharedFromPartner"}
			if !slices.Equal(types, want) {
				t.Fatalf("the device's history:\n%v\nwant\n%v", types, want)
			}
			var pp partnerPage
			alice.read("/v1/partners", at, &pp)
			if len(pp.Items) != 1 || pp.Items[0].DevicesReceived != 1 {
				t.Fatalf("ACME's Partners page after the release: %+v", pp.Items)
			}
		})
	}
}
