package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func csvOf(n int, domainName string) string {
	var b strings.Builder
	b.WriteString("email, group, role\n")
	for i := range n {
		fmt.Fprintf(&b, "person%05d@%s,,User\n", i, domainName)
	}
	return b.String()
}

// BenchmarkCSVImport invites 10,000 people from one CSV file into a new
// project (validation, identity lookups, one append), through HTTP.
//
//	go test -run '^$' -bench CSVImport -benchtime 5x ./cmd/shareledger/
func BenchmarkCSVImport(b *testing.B) {
	cfg := testConfig(b, backends[0])
	cfg.InvitationsPerDay = 0 // thousands of invitations
	s := start(b, cfg)
	ada := s.as("ada@crew.test", "crew")
	ada.command("POST", "/v1/identities", map[string]any{"name": "Ada"})
	file := csvOf(10_000, "crew.test")
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		p := ada.command("POST", "/v1/cloud-projects", map[string]any{"name": fmt.Sprint("P", i)}).ID
		b.StartTimer()
		r := ada.do("POST", "/v1/cloud-projects/"+p+"/invitations/csv", file, "Content-Type", "text/csv")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"invited":10000`) {
			b.Fatalf("import: %d %.300s", r.status, r.body)
		}
	}
	b.ReportMetric(10_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkTeamTab reads the Team tab of a project with 5,000 members:
// the first page, and every page by cursor.
//
//	go test -run '^$' -bench TeamTab ./cmd/shareledger/
func BenchmarkTeamTab(b *testing.B) {
	cfg := testConfig(b, backends[0])
	cfg.InvitationsPerDay = 0 // thousands of invitations
	s := start(b, cfg)
	ada := s.as("ada@crew.test", "crew")
	ada.command("POST", "/v1/identities", map[string]any{"name": "Ada"})
	p := ada.command("POST", "/v1/cloud-projects", map[string]any{"name": "Big"}).ID
	r := ada.do("POST", "/v1/cloud-projects/"+p+"/invitations/csv", csvOf(4_999, "crew.test"), "Content-Type", "text/csv")
	var res commandResult
	r.decode(b, &res)
	var tab teamPage
	ada.read("/v1/cloud-projects/"+p+"/team?limit=1", res.Position, &tab) // wait until projected
	b.Run("first page of 50", func(b *testing.B) {
		for b.Loop() {
			if r := ada.do("GET", "/v1/cloud-projects/"+p+"/team", nil); r.status != http.StatusOK {
				b.Fatal(r.status)
			}
		}
	})
	b.Run("all 5,000 in pages of 500", func(b *testing.B) {
		for b.Loop() {
			cursor, n := "", 0
			for {
				r := ada.do("GET", "/v1/cloud-projects/"+p+"/team?limit=500&cursor="+cursor, nil)
				var page struct {
					Items []any  `json:"items"`
					Next  string `json:"next"`
				}
				r.decode(b, &page)
				n += len(page.Items)
				if page.Next == "" {
					break
				}
				cursor = page.Next
			}
			if n != 5_000 {
				b.Fatalf("walked %d members, want 5000", n)
			}
		}
	})
}
