package main

import (
	"net/http"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

// TestRestartLosesNothingAndRedoesNothing stops the service and starts it
// again on the same storage: every read answers as before, no mail is sent
// twice, no projection applies an old event again, and new commands work.
func TestRestartLosesNothingAndRedoesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig(t, b)
			s := start(t, cfg)
			alice, bob := s.as("alice@acme.test", "acme"), s.as("bob@rentco.test", "rentco")
			alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
			bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
			alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "notify": []string{"bob@rentco.test", "ops@rentco.test"}})
			bob.command("POST", "/v1/partners/ACME/approve", nil)
			dev := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
			last := bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{dev}})

			reads := []struct {
				who  client
				path string
			}{
				{alice, "/v1/devices"}, {bob, "/v1/devices"}, {alice, "/v1/partners"}, {bob, "/v1/partners"},
				{bob, "/v1/notifications"}, {alice, "/v1/account"},
			}
			before := make([]string, len(reads))
			for i, r := range reads {
				res := r.who.do(http.MethodGet, r.path+"?position="+last.Position, nil)
				if res.status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", r.path, res.status, res.body)
				}
				before[i] = string(res.body)
			}
			// Every projection has applied everything before the stop.
			var caughtUp readapi.Page[readapi.ProjectionStatus]
			alice.read("/v1/projections", last.Position, &caughtUp)
			mailsBefore := len(mails(t, cfg))
			if mailsBefore != 2 {
				t.Fatalf("%d mails before the restart, want 2", mailsBefore)
			}

			s.stop()
			s2 := start(t, cfg)
			alice2, bob2 := s2.as("alice@acme.test", "acme"), s2.as("bob@rentco.test", "rentco")
			for i, r := range reads {
				who := alice2
				if r.who.token == bob.token {
					who = bob2
				}
				res := who.do(http.MethodGet, r.path+"?position="+last.Position, nil)
				if string(res.body) != before[i] {
					t.Fatalf("GET %s changed across the restart:\nbefore %s\nafter  %s", r.path, before[i], res.body)
				}
			}
			var status readapi.Page[readapi.ProjectionStatus]
			alice2.read("/v1/projections", last.Position, &status)
			for _, st := range status.Items {
				if st.HandledSinceStart != 0 || st.Checkpoint.String() != last.Position {
					t.Fatalf("after the restart %s applied %d old events (checkpoint %s, want %s)", st.Name, st.HandledSinceStart, st.Checkpoint, last.Position)
				}
			}
			if n := len(mails(t, cfg)); n != mailsBefore {
				t.Fatalf("%d mails after the restart, want %d", n, mailsBefore)
			}
			next := alice2.command("POST", "/v1/projects", map[string]any{"name": "After"})
			alice2.read("/v1/projections", next.Position, &status)
			for _, st := range status.Items {
				if st.HandledSinceStart != 1 {
					t.Fatalf("%s applied %d events after one new command, want 1 (poisoned: %d)", st.Name, st.HandledSinceStart, st.Poisoned)
				}
			}
		})
	}
}
