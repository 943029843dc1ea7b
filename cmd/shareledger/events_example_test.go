package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestTheEventsExampleFolds runs docs/events/example/fold.py over a real
// export of an account's history: an analyst can rebuild who holds which
// device from the published contracts alone.
func TestTheEventsExampleFolds(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("SHARELEDGER_REQUIRE_DB") != "" {
			t.Fatal("python3 is needed to run docs/events/example/fold.py")
		}
		t.Skip("python3 is not installed: docs/events/example/fold.py is not run")
	}
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.partnered()
	rover := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
	dozer := bob.command("POST", "/v1/devices", map[string]any{"serial": "S2", "name": "Dozer"}).ID
	bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{rover, dozer}})
	bob.command("POST", "/v1/partners/ACME/unshare", map[string]any{"devices": []string{dozer}})
	last := bob.command("DELETE", "/v1/devices/"+dozer, nil)
	_ = alice

	var page auditPage
	bob.read("/v1/audit/account/rentco", last.Position, &page)
	r := bob.do("GET", "/v1/audit/account/rentco?format=jsonl", nil)
	cmd := exec.Command(python, "../../docs/events/example/fold.py")
	cmd.Stdin = bytes.NewReader(r.body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fold.py: %v\n%s", err, out)
	}
	var folded struct {
		Devices map[string]struct {
			Owner      string   `json:"owner"`
			SharedWith []string `json:"sharedWith"`
			Deleted    bool     `json:"deleted"`
		} `json:"devices"`
		Partnerships map[string]struct {
			State string            `json:"state"`
			Types map[string]string `json:"types"`
		} `json:"partnerships"`
	}
	if err := json.Unmarshal(out, &folded); err != nil {
		t.Fatalf("fold.py printed %s: %v", out, err)
	}
	if d := folded.Devices[rover]; d.Owner != "rentco" || !slices.Equal(d.SharedWith, []string{"acme"}) || d.Deleted {
		t.Fatalf("the rover: %+v", d)
	}
	if d := folded.Devices[dozer]; len(d.SharedWith) != 0 || !d.Deleted {
		t.Fatalf("the dozer: %+v", d)
	}
	p := folded.Partnerships["acme+rentco"]
	if p.State != "approved" || p.Types["acme"] != "rental" || p.Types["rentco"] != "contractor" {
		t.Fatalf("the partnership: %+v", p)
	}
}
