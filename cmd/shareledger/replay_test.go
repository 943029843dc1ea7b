package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/readapi"
)

func TestReplayVerifyFindsAPlantedDifferenceAndRebuildMendsIt(t *testing.T) {
	cfg := testConfig(t, backends[0])
	s := start(t, cfg)
	_, bob := s.partnered()
	dev := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
	last := bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{dev}})
	var status readapi.Page[readapi.ProjectionStatus]
	bob.read("/v1/projections", last.Position, &status)
	s.stop()

	replayRun := func(action string, only ...string) (string, error) {
		var out, errOut bytes.Buffer
		args := append([]string{"replay", action, "--data", cfg.DataDir}, only...)
		err := run(context.Background(), args, &out, &errOut)
		return out.String(), err
	}
	if out, err := replayRun("verify"); err != nil || out != "" {
		t.Fatalf("verify on untouched read models: %v\n%s", err, out)
	}
	// Plant a difference: someone edited a read model by hand.
	live, err := rmbolt.Open(embeddedReadModels(cfg))
	if err != nil {
		t.Fatal(err)
	}
	err = live.Update(context.Background(), devices.Name, func(tx projections.Tx, cp eventstore.Position) (eventstore.Position, error) {
		var d devices.Device
		if _, err := tx.Get(context.Background(), devices.Table, devices.Key("acme", "")+dev, &d); err != nil {
			return cp, err
		}
		d.Name = "Tampered"
		return cp, tx.Put(context.Background(), devices.Table, devices.Key("acme", "")+dev, d)
	})
	_ = live.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := replayRun("verify")
	if err == nil || !strings.Contains(out, "acme/"+dev) || !strings.Contains(out, "Tampered") {
		t.Fatalf("verify missed the planted difference: %v\n%s", err, out)
	}
	if _, err := replayRun("rebuild", "nosuch"); err == nil {
		t.Fatal("rebuilding an unknown projection succeeded")
	}
	if _, err := replayRun("rebuild", devices.Name); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if out, err := replayRun("verify"); err != nil {
		t.Fatalf("verify after the rebuild: %v\n%s", err, out)
	}
	// The service starts again on the rebuilt read models.
	s2 := start(t, cfg)
	var d devices.Device
	s2.as("alice@acme.test", "acme").read("/v1/devices/"+dev, last.Position, &d)
	if d.Name != "Rover" {
		t.Fatalf("after the rebuild ACME sees %+v", d)
	}
}
