package device_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands"
	devicecmd "github.com/shareledger/shareledger/commands/device"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

// BenchmarkSendDesignAfterALongHistory sends a design to a device shared
// with the caller's account, whose partnership stream already holds n
// events (earlier designs), with the command cache warm: the cost of a
// command as its history grows.
//
//	go test -run '^$' -bench SendDesignAfterALongHistory -benchtime 3000x ./commands/device/
//
// SHARELEDGER_BENCH_COLD=N runs it with nothing cached and a snapshot
// every N events (0: none), as after a restart.
func BenchmarkSendDesignAfterALongHistory(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			ctx := context.Background()
			es, err := eventpebble.Open(eventpebble.Config{Dir: b.TempDir(), NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer es.Close()
			seedSharedDevice(b, es)
			add := func(stream string, events ...domain.Event) { add(b, es, stream, events...) }
			designs := make([]domain.Event, 0, 1000)
			for i := 4; i < n; i++ {
				designs = append(designs, device.DesignSentToDevice{Device: "d1", Account: "acme", Project: "site", Design: "deck.dxf", By: "alice@acme.test"})
				if len(designs) == cap(designs) || i == n-1 {
					add(partnership.Stream("acme", "rentco"), designs...)
					designs = designs[:0]
				}
			}
			repo := newRepo(es, catalog.New())
			if cold := os.Getenv("SHARELEDGER_BENCH_COLD"); cold != "" {
				// Nothing cached: every command starts from the store,
				// from a snapshot when SnapshotEvery is set.
				repo.Cache = commands.NewStateCache(0)
				repo.SnapshotEvery, _ = strconv.Atoi(cold)
			}
			h := devicecmd.New(repo, slog.New(slog.NewTextHandler(io.Discard, nil)))
			send := func(i int) {
				m := commands.Meta{Caller: domain.Actor{User: "alice@acme.test", Account: "acme"}, CommandID: fmt.Sprint("send-", i), Time: time.Now()}
				if _, err := h.SendDesign.Handle(ctx, devicecmd.SendDesign{Meta: m, Device: "d1", Project: "site", Design: "deck.dxf"}); err != nil {
					b.Fatal(err)
				}
			}
			send(-1) // warm the cache
			b.ResetTimer()
			for i := range b.N {
				send(i)
			}
		})
	}
}

// add appends events to a stream, as given history.
func add(t testing.TB, es eventstore.Store, stream string, events ...domain.Event) {
	t.Helper()
	out := make([]eventstore.Event, len(events))
	for i, e := range events {
		data, _ := json.Marshal(e)
		out[i] = eventstore.Event{ID: fmt.Sprintf("%s-%d-%d", stream, time.Now().UnixNano(), i), Type: e.EventType(), Version: e.EventVersion(), Data: data}
	}
	if _, err := es.Append(context.Background(), stream, eventstore.Any(), out...); err != nil {
		t.Fatal(err)
	}
}

// seedSharedDevice opens RentCo and ACME (with its project "site"), makes
// them partners, and shares RentCo's device d1 with ACME, in ACME's site.
func seedSharedDevice(t testing.TB, es eventstore.Store) {
	t.Helper()
	add(t, es, account.Stream("rentco"), account.AccountOpened{Account: "rentco", Organization: "RentCo", Administrator: "bob@rentco.test", Name: "Bob"})
	add(t, es, account.Stream("acme"), account.AccountOpened{Account: "acme", Organization: "ACME", Administrator: "alice@acme.test", Name: "Alice"},
		account.ProjectCreated{Account: "acme", Project: "site", Name: "Site"})
	add(t, es, device.Stream("d1"), device.DeviceRegistered{Device: "d1", Owner: "rentco", Serial: "S1", Name: "Rover"})
	pid := partnership.IDOf("acme", "rentco")
	add(t, es, partnership.Stream("acme", "rentco"),
		partnership.PartnerRequested{Partnership: pid, Requester: "acme", Partner: "rentco", Type: partnership.Rental, RequesterType: partnership.Contractor, By: "alice@acme.test"},
		partnership.PartnerApproved{Partnership: pid, Requester: "acme", Partner: "rentco", By: "bob@rentco.test"},
		partnership.DeviceSharedWithPartner{Partnership: pid, Device: "d1", Owner: "rentco", Partner: "acme", By: "bob@rentco.test"},
		device.DeviceAssignedToProject{Device: "d1", Account: "acme", Project: "site"})
}
