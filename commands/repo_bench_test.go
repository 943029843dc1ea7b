package commands_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/device"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

// BenchmarkKeyedLoadOnALongStream loads a device for a command sent with
// an Idempotency-Key (LoadState: the cached state, the stream's new events,
// and the look-up of what the command appended before) on streams of
// growing length, with the command cache warm. Neither the state nor the
// look-up depends on the stream's length.
//
//	go test -run '^$' -bench KeyedLoadOnALongStream -benchtime 2000x ./commands/
func BenchmarkKeyedLoadOnALongStream(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			ctx := context.Background()
			es, err := eventpebble.Open(eventpebble.Config{Dir: b.TempDir(), NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer es.Close()
			repo := commands.Repo{Events: es, Registry: catalog.New(), Cache: commands.NewStateCache(1 << 30)}
			stream := device.Stream("d1")
			batch := make([]eventstore.Event, 0, 1000)
			for i := range n {
				m := commands.Meta{CommandID: fmt.Sprintf("cmd-%d", i)}
				batch = append(batch, eventstore.Event{ID: commands.EventID(m.CommandID, stream, 0), Type: "DeviceRegistered", Version: 1,
					Data: []byte(`{"device":"d1","owner":"acme","serial":"s","name":"Rover"}`), Meta: eventstore.Meta{CommandID: m.CommandID, Time: time.Now()}})
				if len(batch) == cap(batch) || i == n-1 {
					if _, err := es.Append(ctx, stream, eventstore.Any(), batch...); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			m := commands.Meta{Caller: domain.Actor{User: "ann@acme.example", Account: "acme"}, CommandID: "new-command", IdempotencyKey: "k", RequestHash: "h"}
			if _, _, err := commands.LoadState(ctx, repo, stream, m, device.Empty); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				l, d, err := commands.LoadState(ctx, repo, stream, m, device.Empty)
				if err != nil || !l.Exists() || d.ID() != "d1" {
					b.Fatalf("%v", err)
				}
			}
		})
	}
}
