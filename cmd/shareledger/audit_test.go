package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections/audit"
)

type auditPage struct {
	Items []audit.Entry `json:"items"`
	Next  string        `json:"next"`
}

// TestAuditTrail: who shared what with whom, when and through which
// command, for each account only what it is entitled to see.
func TestAuditTrail(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, testConfig(t, b))
			alice, bob, eve := s.as("alice@acme.test", "acme"), s.as("bob@rentco.test", "rentco"), s.as("eve@other.test", "other")
			alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
			bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
			eve.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Eve"})
			alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"}, "X-Correlation-ID", "deal-42")
			bob.command("POST", "/v1/partners/ACME/approve", nil, "X-Correlation-ID", "deal-42")
			dev := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}, "Idempotency-Key", "register-rover").ID
			bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{dev}}, "Idempotency-Key", "share-rover")
			p := alice.command("POST", "/v1/projects", map[string]any{"name": "Bridge"}).ID
			last := alice.command("POST", "/v1/devices/"+dev+"/projects", map[string]any{"project": p})

			var page auditPage
			bob.read("/v1/audit/device/"+dev, last.Position, &page)
			types := []string{}
			for _, e := range page.Items {
				types = append(types, e.Type)
			}
			if strings.Join(types, ",") != "DeviceRegistered,DeviceSharedWithPartner,DeviceAssignedToProject" {
				t.Fatalf("RentCo's history of the device: %v", types)
			}
			shared := page.Items[1]
			if shared.Actor != "bob@rentco.test" || shared.ActorAccount != "rentco" || shared.IdempotencyKey != "share-rover" || shared.CommandID == "" ||
				!strings.Contains(shared.Summary, "partner=acme") || shared.Time.IsZero() {
				t.Fatalf("the share: %+v", shared)
			}
			// ACME sees what concerns it, not RentCo's own registration.
			alice.read("/v1/audit/device/"+dev, last.Position, &page)
			if len(page.Items) != 2 || page.Items[0].Type != "DeviceSharedWithPartner" {
				t.Fatalf("ACME's history of the device: %+v", page.Items)
			}
			// A third account learns nothing of it, not even that it
			// exists: the same 404 as for an id nobody uses.
			for _, path := range []string{"/v1/audit/device/" + dev, "/v1/audit/device/no-such-device", "/v1/audit/account/rentco", "/v1/audit/stream/device-" + dev} {
				r := eve.do("GET", path+"?position="+last.Position, nil)
				if r.status != http.StatusNotFound || r.problemCode(t) != "not-found" {
					t.Fatalf("Eve reads %s: %d %s", path, r.status, r.body)
				}
			}
			// The partnership's history, by correlation, filtered and paged.
			bob.read("/v1/audit/partnership/acme+rentco?limit=1", last.Position, &page)
			if len(page.Items) != 1 || page.Items[0].Type != "PartnerRequested" || page.Items[0].CorrelationID != "deal-42" || page.Next == "" {
				t.Fatalf("first page: %+v", page)
			}
			bob.read("/v1/audit/partnership/acme+rentco?limit=1&cursor="+page.Next, last.Position, &page)
			if len(page.Items) != 1 || page.Items[0].Type != "PartnerApproved" {
				t.Fatalf("second page: %+v", page)
			}
			bob.read("/v1/audit/partnership/acme+rentco?actor=alice@acme.test", last.Position, &page)
			if len(page.Items) != 1 || page.Items[0].Type != "PartnerRequested" {
				t.Fatalf("by actor: %+v", page.Items)
			}
			bob.read("/v1/audit/partnership/acme+rentco?from=2999-01-01T00:00:00Z", last.Position, &page)
			if len(page.Items) != 0 {
				t.Fatalf("from the future: %+v", page.Items)
			}
			// Exports.
			r := bob.do("GET", "/v1/audit/device/"+dev+"?format=csv", nil)
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil || len(rows) != 4 || rows[0][2] != "type" || rows[2][2] != "DeviceSharedWithPartner" {
				t.Fatalf("CSV export: %v %q", err, r.body)
			}
			r = bob.do("GET", "/v1/audit/device/"+dev+"?format=jsonl", nil)
			lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
			var first audit.Entry
			if len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &first) != nil || first.Type != "DeviceRegistered" {
				t.Fatalf("JSON lines export: %q", r.body)
			}
			// Plain users do not audit.
			bob.command("POST", "/v1/users", map[string]any{"email": "nina@rentco.test", "name": "Nina", "role": "user"})
			if r := s.as("nina@rentco.test", "rentco").do("GET", "/v1/audit/device/"+dev, nil); r.status != http.StatusForbidden {
				t.Fatalf("a plain user audits: %d %s", r.status, r.body)
			}
			// The CLI prints the same history.
			var out, errOut bytes.Buffer
			if err := auditCmd([]string{"--url", s.base, "--token", bob.token, "--format", "csv", "device:" + dev}, &out, &errOut); err != nil {
				t.Fatalf("shareledger audit: %v %s", err, errOut.String())
			}
			if !strings.Contains(out.String(), "DeviceSharedWithPartner") || !strings.Contains(out.String(), "share-rover") {
				t.Fatalf("shareledger audit printed %q", out.String())
			}
		})
	}
}

// TestAuditExportsAWholeLongHistory: an export of a history longer than
// the pages it is read in comes whole, in log order, each event once, in
// either format.
func TestAuditExportsAWholeLongHistory(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	erin := s.as("erin@fleet.test", "fleetco")
	erin.command("POST", "/v1/accounts", map[string]any{"organization": "FleetCo", "name": "Erin"})
	fleet := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": false}).ID
	var last commandResult
	for batch := range 2 {
		var changes []map[string]any
		for i := range 700 {
			changes = append(changes, map[string]any{"member": fmt.Sprintf("truck-%d-%03d", batch, i), "kind": "vehicle"})
		}
		last = erin.command("PATCH", "/v1/collections/"+fleet+"/members", map[string]any{"changes": changes})
	}
	const want = 1 + 1400 // the fleet made, then its members
	cases := []struct {
		format string
		rows   func(body []byte) []string // the positions, in the order written
	}{
		{"jsonl", func(body []byte) []string {
			var out []string
			for line := range strings.SplitSeq(strings.TrimSpace(string(body)), "\n") {
				var e audit.Entry
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				out = append(out, e.Position.String())
			}
			return out
		}},
		{"csv", func(body []byte) []string {
			rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows[1:] {
				out = append(out, r[0])
			}
			return out
		}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			r := erin.do("GET", "/v1/audit/item/"+fleet+"?format="+c.format+"&position="+last.Position, nil)
			if r.status != http.StatusOK {
				t.Fatalf("export: %d %s", r.status, r.body)
			}
			positions := c.rows(r.body)
			if len(positions) != want {
				t.Fatalf("the export holds %d events, want %d", len(positions), want)
			}
			for i := 1; i < len(positions); i++ {
				a, _ := eventstore.ParsePosition(positions[i-1])
				b, _ := eventstore.ParsePosition(positions[i])
				if !a.Less(b) {
					t.Fatalf("event %d at %s follows %s", i, positions[i], positions[i-1])
				}
			}
		})
	}
}
