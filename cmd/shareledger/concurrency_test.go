package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

// TestConcurrentCommands races commands on one partnership: different
// commands all succeed (conflicts are retried), copies of one command (one
// Idempotency-Key) append once, and of conflicting commands (the same
// assignment sent without a key; the two last administrators leaving at
// once) exactly one succeeds and the others are refused with 409.
func TestConcurrentCommands(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.as("alice@acme.test", "acme"), s.as("bob@rentco.test", "rentco")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
	alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"})
	bob.command("POST", "/v1/partners/ACME/approve", nil)

	const n = 12
	ids := make([]string, n)
	var registered string // the last registration's position
	for i := range ids {
		res := bob.command("POST", "/v1/devices", map[string]any{"serial": fmt.Sprint("S", i), "name": "D"})
		ids[i], registered = res.ID, res.Position
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
	// Read where Bob's own writes are: a read model that has not seen his
	// account yet would not know him.
	bob.read("/v1/projections", registered, &status)
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

	// Conflicting: the same assignment of another device, sent 8 times
	// without a key, is one decision; the other 7 see it made.
	other := alice.command("POST", "/v1/projects", map[string]any{"name": "Tunnel"}).ID
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = alice.do("POST", "/v1/devices/"+ids[1]+"/projects", map[string]any{"project": other}).status
		})
	}
	wg.Wait()
	if ok, conflicts := count(statuses, http.StatusOK), count(statuses, http.StatusConflict); ok != 1 || conflicts != 7 {
		t.Fatalf("8 conflicting assignments: %v, want one 200 and seven 409", statuses)
	}

	// The two last administrators of a cloud project leave at once: one
	// may, the other is then the last and may not.
	ada, eve := s.as("ada@crew.test", "crew"), s.as("eve@crew.test", "crew")
	ada.command("POST", "/v1/identities", map[string]any{"name": "Ada"})
	eve.command("POST", "/v1/identities", map[string]any{"name": "Eve"})
	races, lastAdminHeld := 10, 0
	for range races {
		p := ada.command("POST", "/v1/cloud-projects", map[string]any{"name": "Race"}).ID
		ada.command("POST", "/v1/cloud-projects/"+p+"/invitations", map[string]any{"email": "eve@crew.test", "role": "Administrator"})
		left := make([]int, 2)
		for i, c := range []client{ada, eve} {
			wg.Go(func() { left[i] = c.do("POST", "/v1/cloud-projects/"+p+"/leave", nil).status })
		}
		wg.Wait()
		if count(left, http.StatusOK) != 1 || count(left, http.StatusConflict) != 1 {
			t.Fatalf("the two last administrators leaving at once: %v, want one 200 and one 409", left)
		}
		lastAdminHeld++
	}
	writeReport(t, "concurrency", fmt.Sprintf(`| race | sent at once | outcome |
| --- | --- | --- |
| different shares on one partnership stream | %d | all %d succeed (conflicts retried), all %d devices shared |
| one command, one Idempotency-Key | %d | one append, every copy answers the same position |
| one assignment without a key | %d | one 200, seven 409 already-assigned |
| the two last administrators leave | 2, %d times | each time one 200 and one 409 last-administrator (%d of %d) |
`, n, n, n, len(results), len(statuses), races, lastAdminHeld, races))
}

func count(statuses []int, status int) int {
	n := 0
	for _, s := range statuses {
		if s == status {
			n++
		}
	}
	return n
}
