package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/readapi"
)

type feedPage struct {
	Items []readapi.FeedEvent `json:"items"`
	Next  string              `json:"next"`
}

// stream is an open change feed over server-sent events.
type stream struct {
	res   *http.Response
	lines *bufio.Scanner
	stop  context.CancelFunc
}

func (c client) follow(t *testing.T, path string, headers ...string) *stream {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{res: res, lines: bufio.NewScanner(res.Body), stop: stop}
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() { s.stop(); _ = s.res.Body.Close() }

// next reads events until n have come, failing after a deadline (the feed
// sends each event as soon as the audit index holds it).
func (s *stream) next(t *testing.T, n int) []readapi.FeedEvent {
	t.Helper()
	timer := time.AfterFunc(20*time.Second, s.stop)
	defer timer.Stop()
	var out []readapi.FeedEvent
	var id, data string
	for len(out) < n && s.lines.Scan() {
		line := s.lines.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			var e readapi.FeedEvent
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatalf("event %s: %v", data, err)
			}
			if e.Position.String() != id {
				t.Fatalf("event id %s, position %s", id, e.Position)
			}
			out = append(out, e)
			data = ""
		}
	}
	if len(out) < n {
		t.Fatalf("the stream ended after %d of %d events", len(out), n)
	}
	return out
}

func types(events []readapi.FeedEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

// TestChangeFeed: an account follows its own events, as pages of JSON and
// as a live stream that resumes where it left off; another account's
// events never appear in it; an operator follows every account.
func TestChangeFeed(t *testing.T) {
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := start(t, testConfig(t, b))
			alice, bob := s.partnered()
			eve := s.as("eve@other.test", "other")
			eve.command("POST", "/v1/accounts", map[string]any{"organization": "Other", "name": "Eve"})
			eve.command("POST", "/v1/devices", map[string]any{"serial": "E1", "name": "Eve's"})
			dev := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
			last := bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{dev}}, "X-Correlation-ID", "lend-1")

			var page feedPage
			bob.read("/v1/events", last.Position, &page)
			want := []string{"AccountOpened", "PartnerRequested", "PartnerApproved", "DeviceRegistered", "DeviceSharedWithPartner"}
			if got := types(page.Items); !slices.Equal(got, want) {
				t.Fatalf("RentCo's feed: %v, want %v", got, want)
			}
			for _, e := range page.Items {
				if strings.Contains(string(e.Data), "other") || e.ActorAccount == "other" {
					t.Fatalf("RentCo's feed holds another account's event: %+v", e)
				}
			}
			shared := page.Items[4]
			if shared.CorrelationID != "lend-1" || shared.Actor != "bob@rentco.test" || shared.Schema != "urn:shareledger:event:DeviceSharedWithPartner:1" || shared.CommandID == "" {
				t.Fatalf("the share as the feed tells it: %+v", shared)
			}
			pages := []struct {
				name, query string
				want        []string
			}{
				{"by type", "/v1/events?type=PartnerRequested,DeviceRegistered", []string{"PartnerRequested", "DeviceRegistered"}},
				{"after a position", "/v1/events?after=" + page.Items[2].Position.String(), want[3:]},
				{"one entity", "/v1/events?entity=device:" + dev, []string{"DeviceRegistered", "DeviceSharedWithPartner"}},
				{"a page of two", "/v1/events?limit=2", want[:2]},
			}
			for _, c := range pages {
				var p feedPage
				bob.read(c.query, last.Position, &p)
				if got := types(p.Items); !slices.Equal(got, c.want) {
					t.Fatalf("%s: %v, want %v", c.name, got, c.want)
				}
			}
			refused := []struct {
				name   string
				who    client
				path   string
				status int
			}{
				{"another account's entity", eve, "/v1/events?entity=device:" + dev, http.StatusNotFound},
				{"a user who does not administer", s.as("nina@rentco.test", "rentco"), "/v1/events", http.StatusForbidden},
				{"a bad position", bob, "/v1/events?after=later", http.StatusBadRequest},
				{"a tenant reading every account", bob, "/v1/admin/events", http.StatusForbidden},
			}
			bob.command("POST", "/v1/users", map[string]any{"email": "nina@rentco.test", "name": "Nina", "role": "user"})
			for _, c := range refused {
				if r := c.who.do("GET", c.path, nil); r.status != c.status {
					t.Fatalf("%s: %d %s", c.name, r.status, r.body)
				}
			}

			// Live: the stream sends what is there, then each new event
			// as it comes, and nothing of the other account.
			live := bob.follow(t, "/v1/events?after="+page.Items[3].Position.String())
			if got := types(live.next(t, 1)); !slices.Equal(got, []string{"DeviceSharedWithPartner"}) {
				t.Fatalf("the stream began with %v", got)
			}
			eve.command("POST", "/v1/devices", map[string]any{"serial": "E2", "name": "Eve's second"})
			bob.command("POST", "/v1/partners/ACME/unshare", map[string]any{"devices": []string{dev}})
			got := live.next(t, 1)
			if got[0].Type != "UserAdded" {
				t.Fatalf("next on the stream: %v", types(got))
			}
			got = live.next(t, 1)
			if got[0].Type != "DeviceUnsharedFromPartner" {
				t.Fatalf("then: %v", types(got))
			}
			live.close()
			// Reconnecting with Last-Event-ID resumes after it.
			again := bob.follow(t, "/v1/events", "Last-Event-ID", page.Items[4].Position.String())
			if got := types(again.next(t, 2)); !slices.Equal(got, []string{"UserAdded", "DeviceUnsharedFromPartner"}) {
				t.Fatalf("resumed with %v", got)
			}
			again.close()

			// At most four streams per account at once.
			// The streams closed above give their places back once the
			// server sees them gone: open four, retrying a refusal a
			// moment; then all four places are these.
			var open []*stream
			for deadline := time.Now().Add(10 * time.Second); len(open) < 4; {
				st := bob.follow(t, "/v1/events")
				if st.res.StatusCode == http.StatusOK {
					open = append(open, st)
					continue
				}
				st.close()
				if time.Now().After(deadline) {
					t.Fatalf("only %d streams could open: %d", len(open), st.res.StatusCode)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if extra := bob.follow(t, "/v1/events"); extra.res.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("a fifth stream: %d", extra.res.StatusCode)
			}
			for _, o := range open {
				o.close()
			}

			// An operator follows every account.
			var all feedPage
			s.operator().do("GET", "/v1/admin/events?limit=500", nil).decode(t, &all)
			accounts := map[string]bool{}
			for _, e := range all.Items {
				accounts[e.ActorAccount] = true
			}
			if !accounts["other"] || !accounts["rentco"] || !accounts["acme"] {
				t.Fatalf("the operator's feed covers %v", accounts)
			}
			_ = alice
		})
	}
}
