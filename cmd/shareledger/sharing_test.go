package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/readapi"
)

type devicePage struct {
	Items []devices.Device `json:"items"`
	Next  string           `json:"next"`
}

type partnerPage struct {
	Items []readapi.Partner `json:"items"`
}

// TestShareDevicesAcrossAccounts walks the product doc's three steps over
// HTTP: a contractor and a rental agency become partners, the agency shares
// devices, and the contractor assigns them to its project and sends a
// design; then the agency takes them back.
func TestShareDevicesAcrossAccounts(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig(t, b)
			s := start(t, cfg)
			alice := s.as("alice@acme.test", "acme")   // ACME's administrator (contractor)
			bob := s.as("bob@rentco.test", "rentco")   // RentCo's administrator (rental agency)
			nina := s.as("nina@rentco.test", "rentco") // a plain user at RentCo
			eve := s.as("eve@other.test", "other")     // a third account
			alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
			bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
			eve.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Eve"})
			bob.command("POST", "/v1/users", map[string]any{"email": "nina@rentco.test", "name": "Nina", "role": "user"})

			// Step 1: a partnership between the account owners.
			req := alice.command("POST", "/v1/partners", map[string]any{"organization": "rentco", "type": "rental", "notify": []string{"Bob@RentCo.test"}})
			var pp partnerPage
			bob.read("/v1/partners", req.Position, &pp)
			if len(pp.Items) != 1 || pp.Items[0].State != "pending" || pp.Items[0].Direction != "received" || !pp.Items[0].CanApprove || pp.Items[0].Organization != "ACME" {
				t.Fatalf("RentCo's Partners page: %+v", pp.Items)
			}
			// Each side sees what the other is to it: ACME asked RentCo as
			// its rental agency, so ACME is RentCo's contractor.
			if pp.Items[0].Type != "contractor" || pp.Items[0].OwnType != "rental" {
				t.Fatalf("RentCo sees ACME as its %q and itself as ACME's %q", pp.Items[0].Type, pp.Items[0].OwnType)
			}
			nina.read("/v1/partners", req.Position, &pp)
			if pp.Items[0].CanApprove {
				t.Fatal("nina may approve a request that names someone else")
			}
			if r := nina.do("POST", "/v1/partners/ACME/approve", nil); r.status != http.StatusForbidden || r.problemCode(t) != "not-approver" {
				t.Fatalf("nina approving: %d %s", r.status, r.body)
			}
			alice.read("/v1/partners", req.Position, &pp)
			if pp.Items[0].Direction != "sent" || pp.Items[0].CanApprove || pp.Items[0].Type != "rental" || pp.Items[0].OwnType != "contractor" {
				t.Fatalf("ACME's Partners page: %+v", pp.Items)
			}
			var outbox struct {
				Items []struct{ To, Subject string } `json:"items"`
			}
			bob.read("/v1/notifications", req.Position, &outbox)
			if len(outbox.Items) != 1 || outbox.Items[0].To != "bob@rentco.test" || !strings.Contains(outbox.Items[0].Subject, "ACME") {
				t.Fatalf("outbox: %+v", outbox.Items)
			}
			files := mails(t, cfg)
			if len(files) != 1 {
				t.Fatalf("mails on disk: %v", files)
			}
			if mail, _ := os.ReadFile(files[0]); !strings.Contains(string(mail), "To: bob@rentco.test") {
				t.Fatalf("mail: %s", mail)
			}
			approved := bob.command("POST", "/v1/partners/ACME/approve", nil)
			alice.read("/v1/partners", approved.Position, &pp)
			if pp.Items[0].State != "approved" {
				t.Fatalf("after approval ACME sees %+v", pp.Items)
			}

			// Step 2: RentCo shares two devices in one command.
			rover := bob.command("POST", "/v1/devices", map[string]any{"serial": "SN-1", "name": "Rover", "model": "R10", "credentials": "rentco-tcc"}).ID
			dozer := bob.command("POST", "/v1/devices", map[string]any{"serial": "SN-2", "name": "Dozer"}).ID
			shared := bob.command("POST", "/v1/partners/acme/devices", map[string]any{"devices": []string{rover, dozer}})
			var mine devicePage
			bob.read("/v1/devices", shared.Position, &mine)
			if len(mine.Items) != 2 {
				t.Fatalf("RentCo's My Devices: %+v", mine.Items)
			}
			for _, d := range mine.Items {
				if d.Source != "own" || !d.Shared || len(d.ActiveAccounts) != 1 || d.ActiveAccounts[0].ID != "acme" || d.CredentialsOwner.ID != "rentco" {
					t.Fatalf("RentCo's device: %+v", d)
				}
			}
			alice.read("/v1/devices", shared.Position, &mine)
			if len(mine.Items) != 2 {
				t.Fatalf("ACME's My Devices: %+v", mine.Items)
			}
			for _, d := range mine.Items {
				if d.Source != "shared-in" || !d.Shared || d.Owner.Organization != "RentCo" || d.Credentials != "" || d.CredentialsOwner.ID != "rentco" {
					t.Fatalf("ACME's shared-in device: %+v", d)
				}
			}

			// Step 3: ACME assigns a shared device to its project and sends a design.
			bridge := alice.command("POST", "/v1/projects", map[string]any{"name": "Bridge"}).ID
			alice.command("POST", "/v1/devices/"+rover+"/projects", map[string]any{"project": bridge})
			sent := alice.command("POST", "/v1/devices/"+rover+"/designs", map[string]any{"project": bridge, "design": "deck.dxf"})
			var one devices.Device
			alice.read("/v1/devices/"+rover, sent.Position, &one)
			if len(one.Projects) != 1 || one.Projects[0].Name != "Bridge" || one.LastTransfer == nil || one.LastTransfer.Design != "deck.dxf" {
				t.Fatalf("ACME's rover: %+v", one)
			}
			if r := alice.do("POST", "/v1/devices/"+rover+"/base-station", map[string]any{"project": bridge}); r.status != http.StatusConflict || r.problemCode(t) != "ibss-not-supported-for-shared-device" || !strings.Contains(string(r.body), "TCC") {
				t.Fatalf("IBSS on a shared device: %d %s", r.status, r.body)
			}
			// The owner's own project use and IBSS still work.
			yard := bob.command("POST", "/v1/projects", map[string]any{"name": "Yard"}).ID
			bob.command("POST", "/v1/devices/"+rover+"/projects", map[string]any{"project": yard})
			bob.command("POST", "/v1/devices/"+rover+"/base-station", map[string]any{"project": yard})

			// Eve's account sees none of it.
			eveReads := eve.command("POST", "/v1/projects", map[string]any{"name": "Eve's"})
			eve.read("/v1/devices", eveReads.Position, &mine)
			if len(mine.Items) != 0 {
				t.Fatalf("Eve sees devices: %+v", mine.Items)
			}
			if r := eve.do("GET", "/v1/devices/"+rover, nil); r.status != http.StatusNotFound {
				t.Fatalf("Eve reading rover: %d", r.status)
			}
			if r := eve.do("POST", "/v1/devices/"+rover+"/projects", map[string]any{"project": eveReads.ID}); r.status != http.StatusNotFound || r.problemCode(t) != "unknown-device" {
				t.Fatalf("Eve assigning rover: %d %s", r.status, r.body)
			}

			// Unsharing takes the rover out of ACME's project and page.
			unshared := bob.command("POST", "/v1/partners/ACME/unshare", map[string]any{"devices": []string{rover}})
			alice.read("/v1/devices", unshared.Position, &mine)
			if len(mine.Items) != 1 || string(mine.Items[0].ID) != dozer {
				t.Fatalf("after unsharing ACME sees %+v", mine.Items)
			}
			if r := alice.do("POST", "/v1/devices/"+rover+"/designs", map[string]any{"project": bridge, "design": "x"}); r.status != http.StatusNotFound {
				t.Fatalf("design to an unshared device: %d %s", r.status, r.body)
			}
			// Ending the partnership takes the rest back.
			alice.command("POST", "/v1/devices/"+dozer+"/projects", map[string]any{"project": bridge})
			ended := alice.command("POST", "/v1/partners/RentCo/end", nil)
			alice.read("/v1/devices", ended.Position, &mine)
			if len(mine.Items) != 0 {
				t.Fatalf("after the end ACME sees %+v", mine.Items)
			}
			bob.read("/v1/devices", ended.Position, &mine)
			for _, d := range mine.Items {
				if d.Shared || len(d.ActiveAccounts) != 0 {
					t.Fatalf("after the end RentCo's device is still shared: %+v", d)
				}
			}
			bob.read("/v1/partners?state=ended", ended.Position, &pp)
			if len(pp.Items) != 1 || pp.Items[0].DevicesShared != 0 {
				t.Fatalf("RentCo's ended partnerships: %+v", pp.Items)
			}
		})
	}
}

// TestBadCommandsAppendNothing sends commands that must be refused with the
// right status and machine code, and checks that the log did not move.
func TestBadCommandsAppendNothing(t *testing.T) {
	cfg := testConfig(t, backends[0])
	cfg.WaitTimeout = 200 * time.Millisecond
	s := start(t, cfg)
	alice := s.as("alice@acme.test", "acme")
	bob := s.as("bob@rentco.test", "rentco")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
	last := alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "subcontractor"})
	stranger := s.as("mallory@acme.test", "acme")
	anonymous := client{s: s}
	cases := []struct {
		name   string
		as     client
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"no token", anonymous, "GET", "/v1/devices", nil, 401, "unauthenticated"},
		{"forged token", client{s: s, token: alice.token + "x"}, "GET", "/v1/devices", nil, 401, "unauthenticated"},
		{"a user not in the account", stranger, "POST", "/v1/projects", map[string]any{"name": "P"}, 403, "not-member"},
		{"a user not in the account reads", stranger, "GET", "/v1/devices", nil, 403, "not-member"},
		{"broken JSON", alice, "POST", "/v1/projects", `{"name":`, 400, "invalid-json"},
		{"unknown field", alice, "POST", "/v1/projects", map[string]any{"title": "P"}, 400, "invalid-json"},
		{"missing name", alice, "POST", "/v1/projects", map[string]any{"name": " "}, 422, "missing-name"},
		{"unknown organization", alice, "POST", "/v1/partners", map[string]any{"organization": "nobody", "type": "rental"}, 422, "unknown-organization"},
		{"invalid partner type", alice, "POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "friend"}, 422, "invalid-partner-type"},
		{"invalid own type", alice, "POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "ownType": "friend"}, 422, "invalid-partner-type"},
		{"two rental agencies", alice, "POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "ownType": "rental"}, 422, "invalid-partner-types"},
		{"invalid e-mail to notify", alice, "POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "notify": []string{"bob"}}, 422, "invalid-email"},
		{"partner with itself", alice, "POST", "/v1/partners", map[string]any{"organization": "acme", "type": "rental"}, 409, "self-partnership"},
		{"request twice", alice, "POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"}, 409, "already-requested"},
		{"requester approves", alice, "POST", "/v1/partners/RentCo/approve", nil, 403, "own-request"},
		{"share before approval", alice, "POST", "/v1/partners/RentCo/devices", map[string]any{"devices": []string{"nope"}}, 404, "unknown-device"},
		{"open someone else's account", alice, "POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "A"}, 403, "token-account-mismatch"},
		{"open an account twice", alice, "POST", "/v1/accounts", map[string]any{"organization": "acme", "name": "A"}, 409, "organization-taken"},
		{"invalid role", alice, "POST", "/v1/users", map[string]any{"email": "x@acme.test", "name": "X", "role": "boss"}, 422, "invalid-role"},
		{"unknown device", alice, "POST", "/v1/devices/nope/projects", map[string]any{"project": "p"}, 404, "unknown-device"},
		{"bad idempotency key", alice, "POST", "/v1/projects", map[string]any{"name": "P"}, 400, "invalid-idempotency-key"},
		{"read a position never reached", alice, "GET", "/v1/devices?position=999999", nil, 503, "read-model-lagging"},
		{"read a malformed position", alice, "GET", "/v1/devices?position=abc", nil, 400, "invalid-position"},
		{"a limit too large", alice, "GET", "/v1/devices?limit=100000", nil, 400, "invalid-limit"},
		{"no such route", alice, "GET", "/v1/nothing", nil, 404, "no-such-route"},
		{"no such method", alice, "PUT", "/v1/devices", nil, 405, "method-not-allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			if c.code == "invalid-idempotency-key" {
				headers = []string{"Idempotency-Key", "has spaces"}
			}
			r := c.as.do(c.method, c.path, c.body, headers...)
			if r.status != c.status || r.problemCode(t) != c.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
		})
	}
	var status readapi.Page[readapi.ProjectionStatus]
	alice.read("/v1/projections", last.Position, &status)
	if len(status.Items) == 0 || status.Items[0].Head.String() != last.Position {
		t.Fatalf("the refused commands moved the log from %s: %+v", last.Position, status)
	}
}

// TestCommandsAreIdempotent sends the same command twice with one
// Idempotency-Key: the second answers with the first outcome and appends
// nothing.
func TestCommandsAreIdempotent(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice := s.as("alice@acme.test", "acme")
	bob := s.as("bob@rentco.test", "rentco")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
	cases := []struct {
		name string
		as   client
		path string
		body any
	}{
		{"create a project", alice, "/v1/projects", map[string]any{"name": "Bridge"}},
		{"register a device", bob, "/v1/devices", map[string]any{"serial": "S", "name": "D"}},
		{"request a partner", alice, "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"}},
		{"approve", bob, "/v1/partners/acme/approve", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "key-" + strings.ReplaceAll(c.name, " ", "-")
			first := c.as.command("POST", c.path, c.body, "Idempotency-Key", key)
			again := c.as.do("POST", c.path, c.body, "Idempotency-Key", key)
			var second commandResult
			again.decode(t, &second)
			if again.status != http.StatusOK || !second.Replayed || again.header.Get("Idempotent-Replayed") != "true" ||
				second.Position != first.Position || second.ID != first.ID {
				t.Fatalf("second send: %d %s; first was %+v", again.status, again.body, first)
			}
			var status readapi.Page[readapi.ProjectionStatus]
			c.as.read("/v1/projections", first.Position, &status)
			if status.Items[0].Head.String() != first.Position {
				t.Fatalf("log moved to %s after a repeated command", status.Items[0].Head)
			}
		})
	}
}
