package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// BenchmarkFreshDocuments writes transactions of k documents new to their
// keys, the size the catch-up writes, and reports the time a document.
// Below copyAtLeast they go as an INSERT in the flush's batch, from it on
// by COPY; the threshold was chosen by building this benchmark with
// copyAtLeast at 1 and at 1 << 30 and running both (docs/benchmarks.md).
//
//	DATABASE_URL=... go test -run '^$' -bench FreshDocuments -benchtime 400x ./projections/postgres/
func BenchmarkFreshDocuments(b *testing.B) {
	doc := projections.Encoded(`{"id":"d-000000","serial":"SN-000000","name":"Rover","source":"shared","owner":{"id":"rent00","organization":"Rent00"},"shared":true,"activeAccounts":["build00"],"credentials":"","projects":[{"id":"p-000","name":"Site"}],"updatedAt":"2026-03-01T09:00:00Z"}`)
	for _, k := range []int{64, 256, 384, 512, 2048} {
		b.Run(fmt.Sprint("docs=", k), func(b *testing.B) {
			ctx := context.Background()
			s := openBench(b)
			defer s.Close()
			n := 0
			b.ResetTimer()
			for i := range b.N {
				err := s.Update(ctx, "c", func(tx projections.Tx, _ eventstore.Position) (eventstore.Position, error) {
					for range k {
						n++
						if err := tx.Put(ctx, "docs", fmt.Sprintf("k%09d", n), projections.Fresh{V: doc}); err != nil {
							return eventstore.Position{}, err
						}
					}
					return eventstore.At(uint64(i + 1)), nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*k), "µs/doc")
		})
	}
}
