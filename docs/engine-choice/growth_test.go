package enginechoice

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// quiet is a Pebble logger that says nothing (the benchmark's output
// stays readable).
type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// BenchmarkLookupGrowth is the raw engine's share of a warm command's
// growth with history (issue 12): point look-ups in Pebble holding n
// events' keys (an event's id, its stream index entry), compacted, as
// the event store's Idempotency-Key and stream-head look-ups make them,
// for a key that is there and one that is not, with the event store's
// options (a 64 MiB block cache, Bloom filters of 10 bits a key). It
// reports the median and 99th percentile of a look-up; compare the
// sizes within one run.
//
//	cd docs/engine-choice && go test -run '^$' -bench LookupGrowth -benchtime 200000x
func BenchmarkLookupGrowth(b *testing.B) {
	for _, c := range []struct {
		n       int
		present bool
	}{{1_000, true}, {1_000, false}, {1_000_000, true}, {1_000_000, false}} {
		n := c.n
		b.Run(fmt.Sprintf("events=%d/present=%v", n, c.present), func(b *testing.B) {
			cache := pebble.NewCache(64 << 20)
			defer cache.Unref()
			opts := &pebble.Options{Cache: cache, Logger: quiet{}}
			for i := range opts.Levels {
				opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
			}
			db, err := pebble.Open(filepath.Join(b.TempDir(), "x"), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			key := func(kind string, i int) []byte {
				return fmt.Appendf(nil, "%s/%016x", kind, uint64(i)*0x9E3779B97F4A7C15)
			}
			for start := 0; start < n; start += 10_000 {
				batch := db.NewBatch()
				for i := start; i < min(start+10_000, n); i++ {
					_ = batch.Set(key("id", i), payload[:16], nil)
					_ = batch.Set(key("stream", i), payload, nil)
				}
				if err := batch.Commit(pebble.NoSync); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Compact(b.Context(), []byte("a"), []byte("z"), true); err != nil {
				b.Fatal(err)
			}
			rnd := rand.New(rand.NewPCG(1, 2))
			took := make([]time.Duration, 0, b.N)
			for b.Loop() {
				k := key("id", rnd.IntN(n))
				if !c.present {
					k = key("id", n+rnd.IntN(n)) // a command id never seen
				}
				t0 := time.Now()
				v, closer, err := db.Get(k)
				if err == nil {
					_ = v
					_ = closer.Close()
				} else if err != pebble.ErrNotFound {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
