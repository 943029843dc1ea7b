package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

// TestConcurrentCommands races commands on one partnership: different
// commands all succeed (conflicts are retried), and copies of one command
// (one Idempotency-Key) append once.
func TestConcurrentCommands(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.as("alice@acme.test", "acme"), s.as("bob@rentco.test", "rentco")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
	alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"})
	bob.command("POST", "/v1/partners/ACME/approve", nil)

	const n = 12
	ids := make([]string, n)
	for i := range ids {
		ids[i] = bob.command("POST", "/v1/devices", map[string]any{"serial": fmt.Sprint("S", i), "name": "D"}).ID
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := bob.do("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{ids[i]}})
			if r.status != http.StatusOK {
				t.Errorf("share %d: %d %s", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	var status readapi.Page[readapi.ProjectionStatus]
	bob.read("/v1/projections", "1", &status)
	var mine devicePage
	alice.read("/v1/devices", status.Items[0].Head.String(), &mine)
	if len(mine.Items) != n {
		t.Fatalf("ACME sees %d shared devices after %d concurrent shares", len(mine.Items), n)
	}

	before := status.Items[0].Head
	project := alice.command("POST", "/v1/projects", map[string]any{"name": "Bridge"}).ID
	results := make([]commandResult, 8)
	for i := range results {
		wg.Go(func() {
			r := alice.do("POST", "/v1/devices/"+ids[0]+"/projects", map[string]any{"project": project}, "Idempotency-Key", "assign-once")
			if r.status != http.StatusOK {
				t.Errorf("copy %d: %d %s", i, r.status, r.body)
				return
			}
			r.decode(t, &results[i])
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		if r.Position != results[0].Position {
			t.Fatalf("copies of one command answered different positions: %+v", results)
		}
	}
	bob.read("/v1/projections", results[0].Position, &status)
	if got := status.Items[0].Head.Commit - before.Commit; got != 2 {
		t.Fatalf("the log grew by %d events for one project and one assignment sent 8 times, want 2", got)
	}
}
