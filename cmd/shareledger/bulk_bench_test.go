package main

import (
	"fmt"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

// BenchmarkRightsLoad loads 5,000 rights changes into a new account, as
// onboarding does (2,500 vehicles into a fleet, 2,500 placements on the
// hierarchy), one request per change or in bulk requests of 1,000, and
// waits until the read models show all of it. One client, over HTTP.
//
//	go test -run '^$' -bench RightsLoad -benchtime 2x ./cmd/shareledger/
func BenchmarkRightsLoad(b *testing.B) {
	for _, be := range []backend{backends[0], backends[3]} {
		for _, bulk := range []bool{false, true} {
			how := "one by one"
			if bulk {
				how = "in bulk of 1,000"
			}
			b.Run(be.name+"/"+how, func(b *testing.B) {
				s := start(b, testConfig(b, be))
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					admin := s.as(fmt.Sprintf("admin%d@load.test", i), fmt.Sprintf("load%d", i))
					admin.command("POST", "/v1/accounts", map[string]any{"organization": fmt.Sprintf("Load%d", i), "name": "Admin"})
					fleet := admin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": true}).ID
					admin.command("POST", "/v1/hierarchy/nodes", map[string]any{"id": "hq", "name": "HQ"})
					b.StartTimer()
					var last commandResult
					if bulk {
						for page := range 3 {
							var members, placements []map[string]any
							for v := page * 1000; v < min((page+1)*1000, 2500); v++ {
								members = append(members, map[string]any{"member": fmt.Sprintf("v%04d", v), "kind": "vehicle"})
								placements = append(placements, map[string]any{"member": fmt.Sprintf("v%04d", v), "kind": "vehicle", "node": "hq"})
							}
							admin.command("PATCH", "/v1/collections/"+fleet+"/members", map[string]any{"changes": members})
							last = admin.command("PATCH", "/v1/hierarchy/placements", map[string]any{"placements": placements})
						}
					} else {
						for v := range 2500 {
							id := fmt.Sprintf("v%04d", v)
							admin.command("POST", "/v1/collections/"+fleet+"/members", map[string]any{"member": id, "kind": "vehicle"})
							last = admin.command("PUT", "/v1/hierarchy/placements/"+id, map[string]any{"kind": "vehicle", "node": "hq"})
						}
					}
					var placed readapi.Page[readapi.Placement]
					admin.read("/v1/hierarchy/placements?limit=1", last.Position, &placed)
					if len(placed.Items) != 1 {
						b.Fatalf("nothing placed: %+v", placed)
					}
				}
				b.ReportMetric(5000*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
			})
		}
	}
}
