package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/partners"
)

// SharingLog appends a realistic device-sharing history to es: accounts
// in pairs, each pair partnered, every device registered, shared, assigned
// to a partner's project and sent a design. It returns the head position.
func SharingLog(ctx context.Context, es eventstore.Store, pairs, devicesPerPair int) (eventstore.Position, error) {
	var head eventstore.Position
	n := 0
	add := func(stream string, evs ...domain.Event) error {
		batch := make([]eventstore.Event, len(evs))
		for i, e := range evs {
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			n++
			batch[i] = eventstore.Event{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Type: e.EventType(), Version: e.EventVersion(), Data: data,
				Meta: eventstore.Meta{User: "gen@example.test", Account: "gen", CommandID: "gen", CorrelationID: "gen", Time: time.Unix(1700000000, 0).UTC()}}
		}
		res, err := es.Append(ctx, stream, eventstore.Any(), batch...)
		head = res.Position
		return err
	}
	for p := range pairs {
		owner, partner := domain.AccountID(fmt.Sprintf("rent%d", p)), domain.AccountID(fmt.Sprintf("build%d", p))
		pid := partnership.IDOf(owner, partner)
		for _, acc := range []domain.AccountID{owner, partner} {
			if err := add(account.Stream(acc),
				account.AccountOpened{Account: acc, Organization: string(acc), Administrator: domain.UserID("admin@" + string(acc)), Name: "Admin"},
				account.ProjectCreated{Account: acc, Project: "site", Name: "Site"}); err != nil {
				return head, err
			}
		}
		if err := add(partnership.Stream(owner, partner),
			partnership.PartnerRequested{Partnership: pid, Requester: partner, Partner: owner, Type: partnership.Rental, RequesterType: partnership.Contractor, By: "admin@x"},
			partnership.PartnerApproved{Partnership: pid, Requester: partner, Partner: owner, By: "admin@y"}); err != nil {
			return head, err
		}
		for d := range devicesPerPair {
			id := device.ID(fmt.Sprintf("dev-%d-%d", p, d))
			if err := add(device.Stream(id), device.DeviceRegistered{Device: id, Owner: owner, Serial: string(id), Name: "Rover", Credentials: "login"}); err != nil {
				return head, err
			}
			if err := add(partnership.Stream(owner, partner),
				partnership.DeviceSharedWithPartner{Partnership: pid, Device: id, Owner: owner, Partner: partner, By: "admin@x"},
				device.DeviceAssignedToProject{Device: id, Account: partner, Project: "site"},
				device.DesignSentToDevice{Device: id, Account: partner, Project: "site", Design: "deck.dxf", By: "u@y"}); err != nil {
				return head, err
			}
		}
	}
	return head, nil
}

// Pebble is an event store for BenchmarkCatchUp: the embedded default.
func Pebble(b testing.TB) eventstore.Store {
	es, err := eventpebble.Open(eventpebble.Config{Dir: filepath.Join(b.TempDir(), "events"), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	return es
}

// BenchmarkCatchUp generates a sharing log in the event store newEvents
// returns, then rebuilds the directory, My Devices and Partners
// projections from it into fresh storage from newStore, in one pass over
// the log, and reports log events per second (each is applied by all
// three projections).
func BenchmarkCatchUp(b *testing.B, newEvents func(b testing.TB) eventstore.Store, newStore func(b testing.TB) projections.Store) {
	ctx := context.Background()
	es, head, n, ps := catchUpLog(b, newEvents)
	defer es.Close()
	reg := catalog.New()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		store := newStore(b)
		b.StartTimer()
		if _, err := projections.CatchUpAll(ctx, es, store, reg, ps, head, 500); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRunnerCatchUp is BenchmarkCatchUp as the service does it: a
// projections.Runner (the log read once, each projection a Watermill
// handler applying its batches) started on fresh storage behind the same
// log, until every projection's progress reaches its head. It reports log
// events per second.
func BenchmarkRunnerCatchUp(b *testing.B, newEvents func(b testing.TB) eventstore.Store, newStore func(b testing.TB) projections.Store) {
	ctx := context.Background()
	es, head, n, ps := catchUpLog(b, newEvents)
	defer es.Close()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name()
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		store := newStore(b)
		r, err := projections.NewRunner(projections.RunnerConfig{Events: es, Store: store, Registry: catalog.New(), Projections: ps})
		if err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- r.Run(runCtx) }()
		err = r.Progress().Wait(ctx, head, names...)
		b.StopTimer()
		stop()
		if runErr := <-done; err == nil && runErr != nil && runCtx.Err() == nil {
			err = runErr
		}
		if err != nil {
			b.Fatal(err)
		}
		_ = store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// catchUpLog is what the catch-up benchmarks catch up with: a sharing log
// in the event store newEvents returns, its head, how many events it
// holds, and the projections that follow it.
func catchUpLog(b *testing.B, newEvents func(b testing.TB) eventstore.Store) (eventstore.Store, eventstore.Position, int, []projections.Projection) {
	ctx := context.Background()
	es := newEvents(b)
	head, err := SharingLog(ctx, es, 20, 500)
	if err != nil {
		b.Fatal(err)
	}
	all, err := es.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil {
		b.Fatal(err)
	}
	return es, head, len(all), []projections.Projection{directory.Projection{}, devices.Projection{}, partners.Projection{}}
}
