package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/shareledger/shareledger/eventstore"
)

// BenchmarkAppend measures appends of one event each by 1, 16 and 64
// concurrent writers, each writing its own streams with the expected
// revision it last saw (as command handlers do), and reports events/s.
func BenchmarkAppend(b *testing.B, h Harness) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := h.New(b)
			defer s.Close()
			payload := []byte(`{"device":"3f1c0e5e-4d6b-4f0c-9a59-1b2f7f0a9c11","owner":"rentco","partner":"acme","by":"bob@rentco.example"}`)
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					stream := fmt.Sprintf("bench-%d-%s", w, uuid.NewString())
					rev, exists := uint64(0), false
					for next.Add(1) <= int64(b.N) {
						ev := eventstore.Event{ID: uuid.NewString(), Type: "DeviceSharedWithPartner", Version: 1, Data: payload,
							Meta: eventstore.Meta{User: "bob@rentco.example", Account: "rentco", CommandID: "c", CorrelationID: "c"}}
						res, err := s.Append(context.Background(), stream, eventstore.After(rev, exists), ev)
						if err != nil {
							b.Error(err)
							return
						}
						rev, exists = res.LastRevision, true
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
