package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// BenchmarkFeed delivers an account's events to 100 readers streaming its
// change feed at once (server-sent events), each from the start: events/s
// is the events all readers received together per second. The account's
// history is written first and not timed.
//
//	go test -run '^$' -bench Feed -benchtime 3x ./cmd/shareledger/
func BenchmarkFeed(b *testing.B) {
	const readers, events = 100, 2000
	cfg := testConfig(b, backends[0])
	cfg.FeedsPerAccount = readers
	s := start(b, cfg)
	admin := s.as("admin@feed.test", "feed")
	admin.command("POST", "/v1/accounts", map[string]any{"organization": "Feed", "name": "Admin"})
	fleet := admin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": true}).ID
	var last commandResult
	for page := range events / 1000 {
		var changes []map[string]any
		for v := range 1000 {
			changes = append(changes, map[string]any{"member": fmt.Sprintf("v%d-%d", page, v), "kind": "vehicle"})
		}
		last = admin.command("PATCH", "/v1/collections/"+fleet+"/members", map[string]any{"changes": changes})
	}
	var p feedPage
	admin.read("/v1/events?limit=1", last.Position, &p)
	total := events + 2 // the account and the fleet
	for b.Loop() {
		var wg sync.WaitGroup
		for range readers {
			wg.Go(func() {
				ctx, stop := context.WithCancel(context.Background())
				defer stop()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/events", nil)
				req.Header.Set("Authorization", "Bearer "+admin.token)
				req.Header.Set("Accept", "text/event-stream")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				defer res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("stream: %d", res.StatusCode)
					return
				}
				lines := bufio.NewScanner(res.Body)
				lines.Buffer(make([]byte, 64<<10), 1<<20)
				n := 0
				for n < total && lines.Scan() {
					if strings.HasPrefix(lines.Text(), "id: ") {
						n++
					}
				}
				if n < total {
					b.Errorf("a reader received %d of %d events", n, total)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(readers*total*b.N)/b.Elapsed().Seconds(), "events/s")
}
