package commands_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/device"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
)

// TestHistoryCacheStaysWithinItsBudget loads more streams than the budget
// holds, and one stream larger than the whole budget: the cache never
// holds more than its budget, keeps the most recently used streams, and
// every load still answers the whole history.
func TestHistoryCacheStaysWithinItsBudget(t *testing.T) {
	ctx := context.Background()
	es, err := eventpebble.Open(eventpebble.Config{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close() })
	const budget = 64 << 10
	cache := commands.NewHistoryCache(budget)
	repo := commands.Repo{Events: es, Registry: catalog.New(), Cache: cache}
	register := func(stream string, n int, name string) {
		for i := range n {
			l, err := repo.Load(ctx, stream)
			if err != nil {
				t.Fatal(err)
			}
			m := commands.Meta{Caller: domain.Actor{User: "ann@acme.example", Account: "acme"}, CommandID: fmt.Sprintf("%s-%d", stream, i),
				CorrelationID: "c", Time: time.Now()}
			ev := device.DeviceRegistered{Device: device.ID(fmt.Sprintf("d%d", i)), Owner: "acme", Serial: "s", Name: name}
			if _, err := repo.Save(ctx, l, m, "", []domain.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		streams int
		events  int
		text    string
	}{
		{"many small streams", 400, 3, "x"},
		{"one stream larger than the budget", 1, 40, strings.Repeat("y", 2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for s := range tt.streams {
				stream := fmt.Sprintf("%s-%d", strings.ReplaceAll(tt.name, " ", "-"), s)
				register(stream, tt.events, tt.text)
				l, err := repo.Load(ctx, stream)
				if err != nil {
					t.Fatal(err)
				}
				if len(l.History) != tt.events {
					t.Fatalf("%s: loaded %d events, want %d", stream, len(l.History), tt.events)
				}
				if got := cache.Size(); got > budget {
					t.Fatalf("cache holds %d bytes, over its budget of %d", got, budget)
				}
			}
		})
	}
	if cache.Len() == 0 {
		t.Fatal("the cache kept nothing")
	}
}
