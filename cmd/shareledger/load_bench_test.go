package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCommandsOverHTTP drives the whole service (embedded stores,
// fsync on) over HTTP from 64 concurrent clients spread over 8 partner
// pairs, each repeating the product's workflow: the owner registers a
// device and shares it, the partner assigns it to a project and sends it a
// design. It reports commands per second; run it with -cpuprofile to see
// where the time goes. The client bypasses the contract check the other
// tests make, so the profile is the service's.
//
//	go test -run '^$' -bench CommandsOverHTTP -benchtime 20000x -cpuprofile cpu.out ./cmd/shareledger/
func BenchmarkCommandsOverHTTP(b *testing.B) {
	cfg := testConfig(b, backends[0])
	cfg.AggregateSnapshotEvery = 1000
	s := start(b, cfg)
	const pairs, workers = 8, 64
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * workers}, Timeout: 30 * time.Second}
	type side struct{ token string }
	owners, partners, projects := make([]side, pairs), make([]side, pairs), make([]string, pairs)
	for p := range pairs {
		o, q := s.as(fmt.Sprintf("own%d@rent%d.test", p, p), fmt.Sprintf("rent%d", p)), s.as(fmt.Sprintf("use%d@build%d.test", p, p), fmt.Sprintf("build%d", p))
		o.command("POST", "/v1/accounts", map[string]any{"organization": fmt.Sprintf("rent%d", p), "name": "Owner"})
		q.command("POST", "/v1/accounts", map[string]any{"organization": fmt.Sprintf("build%d", p), "name": "User"})
		q.command("POST", "/v1/partners", map[string]any{"organization": fmt.Sprintf("rent%d", p), "type": "rental"})
		o.command("POST", fmt.Sprintf("/v1/partners/build%d/approve", p), nil)
		projects[p] = q.command("POST", "/v1/projects", map[string]any{"name": "Site"}).ID
		owners[p], partners[p] = side{o.token}, side{q.token}
	}
	send := func(token, method, path string, body any) (commandResult, error) {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, s.base+path, bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return commandResult{}, err
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		var out commandResult
		if res.StatusCode/100 != 2 {
			return out, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
		}
		return out, json.Unmarshal(data, &out)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range workers {
		wg.Go(func() {
			p := w % pairs
			var device string
			for step := 0; next.Add(1) <= int64(b.N); step = (step + 1) % 4 {
				var err error
				var res commandResult
				switch step {
				case 0:
					res, err = send(owners[p].token, "POST", "/v1/devices", map[string]any{"serial": fmt.Sprint("S", w, "-", next.Load()), "name": "Rover"})
					device = res.ID
				case 1:
					_, err = send(owners[p].token, "POST", fmt.Sprintf("/v1/partners/build%d/devices", p), map[string]any{"devices": []string{device}})
				case 2:
					_, err = send(partners[p].token, "POST", "/v1/devices/"+device+"/projects", map[string]any{"project": projects[p]})
				case 3:
					_, err = send(partners[p].token, "POST", "/v1/devices/"+device+"/designs", map[string]any{"project": projects[p], "design": "deck.dxf"})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}
