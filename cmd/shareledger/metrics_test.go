package main

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/readapi"
)

func TestMetrics(t *testing.T) {
	s := start(t, testConfig(t, backends[0]))
	alice := s.as("alice@acme.test", "acme")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	alice.command("POST", "/v1/projects", map[string]any{"name": "A"})
	last := alice.command("POST", "/v1/projects", map[string]any{"name": "B"})
	_ = alice.do("POST", "/v1/projects", map[string]any{"name": " "}) // refused
	var status readapi.Page[readapi.ProjectionStatus]
	alice.read("/v1/projections", last.Position, &status)
	for _, st := range status.Items {
		if st.State != "live" || st.LagEvents != 0 || st.Poisoned != 0 {
			t.Errorf("projection %s: %+v", st.Name, st)
		}
	}
	var out, errOut bytes.Buffer
	if err := statusCmd([]string{"--url", s.base, "--token", alice.token}, &out, &errOut); err != nil || !strings.Contains(out.String(), `"state":"live"`) {
		t.Fatalf("shareledger status: %v %s %s", err, out.String(), errOut.String())
	}
	if r := (client{s: s}).do("GET", "/metrics", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("metrics without a token: %d", r.status)
	}
	if r := alice.do("GET", "/metrics", nil); r.status != http.StatusForbidden || r.problemCode(t) != "operator-only" {
		t.Fatalf("metrics with a user's token: %d %s", r.status, r.body)
	}
	r := s.operator().do("GET", "/metrics", nil)
	body := string(r.body)
	for _, want := range []string{
		"shareledger_events_appended_total 3\n",
		`shareledger_command_duration_seconds_count{command="CreateProject"} 3`,
		`shareledger_command_errors_total{command="CreateProject"} 1`,
		"shareledger_eventstore_head_position 3\n",
		`shareledger_projection_checkpoint_position{projection="devices"} 3`,
		`shareledger_projection_lag_positions{projection="audit"} 0`,
		"shareledger_projections_running_here 1",
		"shareledger_command_cache_streams ",
		"shareledger_go_heap_objects_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !regexp.MustCompile(`shareledger_command_duration_seconds_bucket\{command="OpenAccount",le="\+Inf"\} 1`).MatchString(body) {
		t.Errorf("no histogram for OpenAccount:\n%s", body)
	}
}
