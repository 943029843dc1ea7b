package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	eventpostgres "github.com/shareledger/shareledger/eventstore/postgres"
	rmpostgres "github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
	"github.com/shareledger/shareledger/readapi"
)

// TestSeveralInstances runs three serve processes on one PostgreSQL,
// spreads commands over all of them, kills the one that runs the
// projections, and checks that another takes over, that nothing
// acknowledged is lost, that the one notification was sent once, and that
// the read models equal a rebuild from the log.
func TestSeveralInstances(t *testing.T) {
	bin := binary(t)
	url, schema := pgtest.Schema(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.key")
	var procs []*process
	for i := range 3 {
		procs = append(procs, spawn(t, bin, filepath.Join(dir, fmt.Sprint("data", i)),
			"--eventstore", url, "--readmodels", url, "--pg-schema", schema, "--signing-key-file", key, "--wait-timeout", "30s"))
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	at := func(i int) *server { return &server{t: t, cfg: config{SigningKeyFile: key}, base: procs[i].base} }
	alice, bob := at(0).as("alice@acme.test", "acme"), at(1).as("bob@rentco.test", "rentco")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
	alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "notify": []string{"bob@rentco.test"}})
	approved := at(2).as("bob@rentco.test", "rentco").command("POST", "/v1/partners/ACME/approve", nil)

	// Which instance runs the projections? Wait until they passed the
	// request, so its mail has been sent before anything is killed.
	leader := -1
	for i := range procs {
		var status readapi.Page[readapi.ProjectionStatus]
		at(i).as("bob@rentco.test", "rentco").read("/v1/projections", approved.Position, &status)
		if status.Items[0].RunningHere {
			if leader >= 0 {
				t.Fatalf("instances %d and %d both run the projections", leader, i)
			}
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no instance runs the projections")
	}

	var dead atomic.Int32
	dead.Store(-1)
	var mu sync.Mutex
	var acked []string
	var last eventstore.Position
	phase := make(chan struct{}, 2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := (w + i) % len(procs)
				if int32(n) == dead.Load() {
					continue
				}
				c := at(n).as("bob@rentco.test", "rentco")
				dev, pos, ok := registerAndShare(c, fmt.Sprintf("S%d-%d", w, i))
				if !ok {
					continue // not acknowledged: it is not counted
				}
				mu.Lock()
				acked = append(acked, dev)
				if last.Less(pos) {
					last = pos
				}
				if len(acked) == 30 || len(acked) == 60 {
					phase <- struct{}{}
				}
				mu.Unlock()
			}
		})
	}
	<-phase
	dead.Store(int32(leader))
	if err := procs[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = procs[leader].cmd.Wait()
	<-phase
	close(stop)
	wg.Wait()

	survivor := (leader + 1) % len(procs)
	var mine devicePage
	at(survivor).as("alice@acme.test", "acme").read("/v1/devices?limit=500", last.String(), &mine)
	seen := map[string]bool{}
	for _, d := range mine.Items {
		seen[string(d.ID)] = true
	}
	for _, id := range acked {
		if !seen[id] {
			t.Fatalf("device %s was acknowledged as shared but is missing after the failover", id)
		}
	}
	running := 0
	for i := range procs {
		if i == leader {
			continue
		}
		var status readapi.Page[readapi.ProjectionStatus]
		at(i).as("alice@acme.test", "acme").read("/v1/projections", last.String(), &status)
		if status.Items[0].RunningHere {
			running++
		}
	}
	if running != 1 {
		t.Fatalf("%d surviving instances run the projections, want 1", running)
	}
	mails, _ := filepath.Glob(filepath.Join(dir, "data*", "outbox", "*.eml"))
	if len(mails) != 1 {
		t.Fatalf("%d mails across the instances, want 1: %v", len(mails), mails)
	}
	for i, p := range procs {
		if i != leader {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		}
	}
	ctx := context.Background()
	es, err := eventpostgres.Open(ctx, eventpostgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	live, err := rmpostgres.Open(ctx, rmpostgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	compareWithRebuild(t, es, live)
}
