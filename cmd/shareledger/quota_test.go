package main

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/shareledger/shareledger/projections/notify"
)

// TestInvitationMailsAreLimitedPerPerson: one person may cause at most
// --invitations-per-day mails a day. A command that would go over is
// refused with 429, a Retry-After and nothing appended; other people of the
// same account, and partner requests within the limit, go on.
func TestInvitationMailsAreLimitedPerPerson(t *testing.T) {
	cfg := testConfig(t, backends[0])
	cfg.InvitationsPerDay = 3
	s := start(t, cfg)
	alice, _ := s.openAccounts()
	carol := s.as("carol@acme.test", "acme")
	p := alice.command("POST", "/v1/cloud-projects", map[string]any{"name": "Bridge"}).ID
	base := "/v1/cloud-projects/" + p
	alice.command("POST", base+"/invitations", map[string]any{"email": "carol@acme.test", "role": "Administrator"})
	carol.command("POST", "/v1/identities", map[string]any{"name": "Carol"})
	last := alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "notify": []string{"bob@rentco.test"}})

	tests := []struct {
		name   string
		by     client
		method string
		path   string
		body   any
		status int
	}{
		{"a CSV of two over alice's last mail of the day", alice, "POST", base + "/invitations/csv", "email,group,role\nk1@x.test,,User\nk2@x.test,,User\n", http.StatusTooManyRequests},
		{"alice's third mail", alice, "POST", base + "/invitations", map[string]any{"email": "k3@x.test", "role": "User"}, http.StatusOK},
		{"alice's fourth mail", alice, "POST", base + "/invitations", map[string]any{"email": "k4@x.test", "role": "User"}, http.StatusTooManyRequests},
		{"carol's first", carol, "POST", base + "/invitations/csv", "email,group,role\nk5@x.test,,User\nk6@x.test,,User\n", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if csv, ok := tt.body.(string); ok {
				r = tt.by.do(tt.method, tt.path, csv, "Content-Type", "text/csv")
			} else {
				r = tt.by.do(tt.method, tt.path, tt.body)
			}
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != http.StatusTooManyRequests {
				var res commandResult
				r.decode(t, &res)
				last.Position = res.Position
				return
			}
			if code := r.problemCode(t); code != "mail-quota-exceeded" {
				t.Fatalf("code %q", code)
			}
			if after, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || after <= 0 || after > 86400 {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
			assertNothingAppended(t, alice, last.Position)
		})
	}
	var out struct {
		Items []notify.Notification `json:"items"`
	}
	alice.read("/v1/notifications", last.Position, &out)
	sent := 0
	for _, n := range out.Items {
		if n.Status == "sent" {
			sent++
		}
	}
	if sent != 5 || len(mails(t, cfg)) != 5 { // alice: carol, bob, k3; carol: k5, k6
		t.Fatalf("sent %d (%d files), want 5: %+v", sent, len(mails(t, cfg)), out.Items)
	}
}
