package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/projections/relay"
	"github.com/shareledger/shareledger/readapi"
	"github.com/shareledger/shareledger/replay"
)

// Point-in-time answers over the API equal what the live read models
// answered at that position; only administrators ask about the past, and
// questions without a past answer are refused.
func TestPointInTimeAnswersOverTheAPI(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig(t, b)
			cfg.SnapshotEvery = 3
			s := start(t, cfg)
			alice, bob := s.openAccounts()
			alice.command("POST", "/v1/users", map[string]any{"email": "ursula@acme.test", "name": "Ursula", "role": "user"})
			// What the live read models answered then.
			liveThen := map[string]string{}
			asked := func(path, pos string) {
				r := alice.do(http.MethodGet, path+"?position="+pos, nil)
				if r.status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", path, r.status, r.body)
				}
				liveThen[path+"@"+pos] = string(r.body)
			}
			requested := alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"})
			asked("/v1/partners", requested.Position)
			bob.command("POST", "/v1/partners/ACME/approve", nil)
			rover := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
			drone := bob.command("POST", "/v1/devices", map[string]any{"serial": "S2", "name": "Drone"}).ID
			shared := bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{rover, drone}})
			asked("/v1/devices", shared.Position)
			unshared := bob.command("POST", "/v1/partners/ACME/unshare", map[string]any{"devices": []string{rover}})
			var now readapi.Page[struct{ ID string }]
			alice.read("/v1/devices", unshared.Position, &now)
			if len(now.Items) != 1 {
				t.Fatalf("after the unshare ACME sees %+v", now)
			}
			atShare := alice.do(http.MethodGet, "/v1/devices?atPosition="+shared.Position, nil)
			sharedAt := atShare.header.Get(readapi.AsOfTimeHeader)
			if sharedAt == "" {
				t.Fatalf("no %s header: %v", readapi.AsOfTimeHeader, atShare.header)
			}

			tests := []struct {
				name     string
				client   client
				path     string
				status   int
				code     string
				want     string // the live answer it must equal
				position string // the moment it must name
			}{
				{"devices by position", alice, "/v1/devices?atPosition=" + shared.Position, 200, "", liveThen["/v1/devices@"+shared.Position], shared.Position},
				{"devices by time", alice, "/v1/devices?asOf=" + url.QueryEscape(sharedAt), 200, "", liveThen["/v1/devices@"+shared.Position], shared.Position},
				{"partners while requested", alice, "/v1/partners?atPosition=" + requested.Position, 200, "", liveThen["/v1/partners@"+requested.Position], requested.Position},
				{"the owner's side", bob, "/v1/devices/" + rover + "?atPosition=" + shared.Position, 200, "", "", shared.Position},
				{"before the account existed", alice, "/v1/devices?asOf=2000-01-01T00:00:00Z", 200, "", `{"items":[]}` + "\n", ""},
				{"a user who is not an administrator", s.as("ursula@acme.test", "acme"), "/v1/devices?atPosition=" + shared.Position, 403, "not-administrator", "", ""},
				{"a stranger", s.as("eve@evil.test", "evil"), "/v1/devices?atPosition=" + shared.Position, 403, "not-member", "", ""},
				{"no past for the outbox", alice, "/v1/notifications?atPosition=" + shared.Position, 400, "point-in-time-unsupported", "", ""},
				{"a bad time", alice, "/v1/devices?asOf=yesterday", 400, "invalid-moment", "", ""},
				{"both kinds of moment", alice, "/v1/devices?asOf=2026-01-01T00:00:00Z&atPosition=" + shared.Position, 400, "invalid-moment", "", ""},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := tt.client.do(http.MethodGet, tt.path, nil)
					if r.status != tt.status {
						t.Fatalf("GET %s: %d %s, want %d", tt.path, r.status, r.body, tt.status)
					}
					if tt.code != "" {
						if got := r.problemCode(t); got != tt.code {
							t.Errorf("code %q, want %q", got, tt.code)
						}
						return
					}
					if tt.want != "" && string(r.body) != tt.want {
						t.Errorf("answer\n%s\nwant what the live model said then\n%s", r.body, tt.want)
					}
					if got := r.header.Get(readapi.AsOfPositionHeader); tt.position != "" && got != tt.position {
						t.Errorf("as of %q, want %q", got, tt.position)
					}
				})
			}
		})
	}
}

// A rebuild asked of the running service swaps in while readers keep
// getting whole answers, and the rebuilt models equal a replay.
func TestOnlineRebuildWhileServing(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig(t, b)
			cfg.SnapshotEvery = 5
			s := start(t, cfg)
			alice, bob := s.partnered()
			var ids []string
			for i := range 12 {
				ids = append(ids, bob.command("POST", "/v1/devices", map[string]any{"serial": "S" + string(rune('a'+i)), "name": "Rover"}).ID)
			}
			last := bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": ids})
			var mine readapi.Page[struct{ ID string }]
			alice.read("/v1/devices", last.Position, &mine)

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var reads atomic.Int64
			reading := make(chan struct{})
			var once sync.Once
			for range 2 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						r := alice.do(http.MethodGet, "/v1/devices?limit=100", nil)
						var page readapi.Page[struct{ ID string }]
						if r.status == http.StatusOK {
							r.decode(t, &page)
						}
						if r.status != http.StatusOK || len(page.Items) != len(ids) {
							t.Errorf("during the rebuild ACME got %d with %d devices: %s", r.status, len(page.Items), r.body)
							once.Do(func() { close(reading) })
							return
						}
						reads.Add(1)
						once.Do(func() { close(reading) })
					}
				})
			}
			<-reading // readers run before, during and after the rebuild
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"replay", "rebuild", "--remote", "--url", s.base, "--data", cfg.DataDir}, &out, &errOut)
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatalf("rebuild: %v\n%s", err, errOut.String())
			}
			if !strings.Contains(errOut.String(), "rebuilt and swapped in") {
				t.Errorf("rebuild said %q", errOut.String())
			}

			var status readapi.Page[readapi.ProjectionStatus]
			alice.read("/v1/projections", last.Position, &status)
			for _, st := range status.Items {
				if st.Name == notify.Name || st.Name == relay.Name {
					continue
				}
				if st.Rebuild == nil || st.Rebuild.State != replay.Swapped || st.Rebuild.Generation != 1 {
					t.Errorf("%s: rebuild %+v, want swapped into generation 1", st.Name, st.Rebuild)
				}
			}
			keys, _ := httpapi.LoadOrCreateKeys(cfg.SigningKeyFile)
			op, _ := keys.MintOperator(3600e9)
			metrics := string((client{s: s, token: op}).do(http.MethodGet, "/metrics", nil).body)
			for _, want := range []string{`shareledger_rebuild_running{projection="devices"} 0`, `shareledger_rebuild_target_position{projection="devices"} `} {
				if !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %q", want)
				}
			}
			// New commands land in the new generation.
			extra := bob.command("POST", "/v1/devices", map[string]any{"serial": "Sz", "name": "Drone"}).ID
			again := bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{extra}})
			alice.read("/v1/devices?limit=100", again.Position, &mine)
			if len(mine.Items) != len(ids)+1 {
				t.Errorf("after the swap ACME sees %d devices, want %d", len(mine.Items), len(ids)+1)
			}
			// Users' tokens do not reach the operations routes.
			if r := alice.do(http.MethodPost, "/v1/admin/rebuilds", nil); r.status != http.StatusForbidden || r.problemCode(t) != "operator-only" {
				t.Errorf("a user's rebuild: %d %s", r.status, r.body)
			}
			if r := (client{s: s, token: op}).do(http.MethodGet, "/v1/devices", nil); r.status != http.StatusForbidden || r.problemCode(t) != "user-token-required" {
				t.Errorf("an operator reading an account's devices: %d %s", r.status, r.body)
			}
			s.stop()
			if err := run(context.Background(), []string{"replay", "verify", "--data", cfg.DataDir, "--readmodels", cfg.ReadModels, "--pg-schema", cfg.PGSchema}, &out, &errOut); err != nil {
				t.Fatalf("verify after the online rebuild: %v\n%s\n%s", err, out.String(), errOut.String())
			}
		})
	}
}

// "Who could see vehicle v1 then, at which level, and why?": the rights
// check and the permission grid as of a position equal what they answered
// then, after the fleet was made private.
func TestPointInTimeRights(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	erin, ann := s.as("erin@acme.test", "acme"), s.as("ann@acme.test", "acme")
	erin.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Erin"})
	erin.command("POST", "/v1/users", map[string]any{"email": "ann@acme.test", "name": "Ann", "role": "user"})
	erin.command("POST", "/v1/roles", map[string]any{"name": "viewer", "rights": map[string]any{"fleet": map[string]string{"item": "view", "member": "view"}}})
	erin.command("POST", "/v1/subusers/ann@acme.test/roles", map[string]any{"role": "viewer"})
	north := erin.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": true}).ID
	before := erin.command("POST", "/v1/collections/"+north+"/members", map[string]any{"member": "v1", "kind": "vehicle"})
	questions := []string{
		"/v1/rights/check?user=ann@acme.test&member=v1&level=view",
		"/v1/rights/items/" + north + "/grid",
	}
	with := func(q, param string) string {
		if strings.Contains(q, "?") {
			return q + "&" + param
		}
		return q + "?" + param
	}
	then := map[string]string{}
	for _, q := range questions {
		r := erin.do(http.MethodGet, with(q, "position="+before.Position), nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), "role") {
			t.Fatalf("GET %s: %d %s", q, r.status, r.body)
		}
		then[q] = string(r.body)
	}
	after := erin.command("POST", "/v1/collections/"+north+"/private", map[string]any{"confirm": true})
	var now readapi.Check
	erin.read(questions[0], after.Position, &now)
	if now.Allowed {
		t.Fatalf("after North went private Ann still sees v1: %+v", now)
	}
	for _, q := range questions {
		r := erin.do(http.MethodGet, with(q, "atPosition="+before.Position), nil)
		if r.status != http.StatusOK || string(r.body) != then[q] {
			t.Errorf("GET %s as of %s: %d\n%s\nwant what it answered then\n%s", q, before.Position, r.status, r.body, then[q])
		}
	}
	// Ann may not ask about the past: she does not administer ACME.
	if r := ann.do(http.MethodGet, with(questions[0], "atPosition="+before.Position), nil); r.status != http.StatusForbidden {
		t.Errorf("Ann asking about the past: %d %s", r.status, r.body)
	}
}
