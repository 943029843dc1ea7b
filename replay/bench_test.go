package replay_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/storetest"
	"github.com/shareledger/shareledger/replay"
	"github.com/shareledger/shareledger/replay/replaytest"
)

// BenchmarkReplay generates a log (SHARELEDGER_BENCH_EVENTS events,
// default 50,000) that touches every projection, then, into each store:
// rebuilds all projections with read models blue/green, taking snapshots
// every 1,000 events, as the service does (SHARELEDGER_BENCH_SNAPEVERY, 0
// for none), in
// transactions of SHARELEDGER_BENCH_PAGE events
// (default: the Rebuilder's), and asks point-in-time questions at random
// moments of the log, with a cold cache (a fresh History each time) and a
// warm one. With -v it logs the time each tenth of the log took and what
// each table holds after the rebuild. SHARELEDGER_BENCH_SETTLE (a
// duration) waits that long after generating the log, for the event
// store's compactions to end first.
//
//	SHARELEDGER_BENCH_EVENTS=1000000 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -run '^$' -bench Replay -benchtime 1x -timeout 3h ./replay/
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("SHARELEDGER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	es := storetest.Pebble(b)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const devices = 20
	began := time.Now()
	g, err := replaytest.Log(ctx, es, replaytest.Spec{Pairs: max(1, n/replaytest.EventsPerPair(devices)), Devices: devices, Start: start, Step: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d events in %s", g.Count(), time.Since(began).Round(time.Millisecond))
	if d, err := time.ParseDuration(os.Getenv("SHARELEDGER_BENCH_SETTLE")); err == nil {
		time.Sleep(d) // for the event store's compactions to end before the rebuild
	}
	end := g.Now()
	pit := modelled()
	all := append(modelled(), audit.Projection{})
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			b.Run("rebuild all", func(b *testing.B) {
				for range b.N {
					rb := replay.Rebuilder{Events: es, Store: store, Registry: catalog.New(), SnapshotEvery: 1000, Snapshotted: names(pit)}
					if v, err := strconv.Atoi(os.Getenv("SHARELEDGER_BENCH_SNAPEVERY")); err == nil {
						rb.SnapshotEvery = v
					}
					if v, err := strconv.Atoi(os.Getenv("SHARELEDGER_BENCH_PAGE")); err == nil && v > 0 {
						rb.Page = v
					}
					// The time each tenth of the log took (with -v): a
					// rate that falls as the models grow shows here.
					began, tenth := time.Now(), uint64(0)
					rb.Report = func(_ string, done, total uint64, _ float64) {
						if total > 0 && done*10/total > tenth {
							tenth = done * 10 / total
							b.Logf("%3d%% of the log after %s", tenth*10, time.Since(began).Round(100*time.Millisecond))
						}
					}
					if err := rb.Run(ctx, all); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(g.Count())*float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/rebuild")
				// What the embedded file holds: both generations' tables
				// (the one replaced is empty) and the snapshots.
				if sized, ok := store.(interface{ Size() (int64, error) }); ok {
					n, err := sized.Size()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(n)/float64(g.Count()), "file-bytes/event")
				}
			})
			b.StopTimer()
			var snapDocs, liveDocs int
			err := store.View(ctx, func(r projections.Reader) error {
				count := func(table string) int {
					c := 0
					_ = r.Scan(ctx, table, projections.Page{}, func(string, []byte) error { c++; return nil })
					return c
				}
				snapDocs = count(replay.VersionsTable)
				live, err := projections.LiveTables(ctx, r)
				for _, t := range tablesOf(pit) {
					liveDocs += count(live[t])
				}
				// What each table holds, a line a table.
				for _, t := range append(tablesOf(all), replay.VersionsTable) {
					name, rows, keys, docs := t, 0, 0, 0
					if l, ok := live[t]; ok {
						name = l
					}
					_ = r.Scan(ctx, name, projections.Page{}, func(k string, d []byte) error { rows, keys, docs = rows+1, keys+len(k), docs+len(d); return nil })
					if rows > 0 {
						b.Logf("%-24s %9d rows (%.2f an event), keys %6.1f MB, documents %6.1f MB", t, rows, float64(rows)/float64(g.Count()), float64(keys)/1e6, float64(docs)/1e6)
					}
				}
				// The snapshots' versions by the table they keep.
				byTable := map[string][3]int{}
				_ = r.Scan(ctx, replay.VersionsTable, projections.Page{}, func(k string, d []byte) error {
					t := strings.Join(strings.SplitN(k, "/", 4)[:3], "/") // projection/generation/table
					c := byTable[t]
					byTable[t] = [3]int{c[0] + 1, c[1] + len(k), c[2] + len(d)}
					return nil
				})
				for _, t := range slices.Sorted(maps.Keys(byTable)) {
					c := byTable[t]
					b.Logf("  versions of %-28s %9d rows (%.2f an event), keys %6.1f MB, documents %6.1f MB", t, c[0], float64(c[0])/float64(g.Count()), float64(c[1])/1e6, float64(c[2])/1e6)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("point-in-time models hold %d documents; their snapshots %d", liveDocs, snapDocs)
			const questions = 20
			rng := rand.New(rand.NewPCG(1, 2))
			moment := func() replay.Moment {
				return replay.Moment{Time: start.Add(time.Duration(rng.Int64N(int64(end.Sub(start)))))}
			}
			warm := &replay.History{Events: es, Store: store, Registry: catalog.New(), Projections: pit}
			for _, c := range []struct {
				name    string
				history func() *replay.History
			}{
				{"point in time, cold", func() *replay.History {
					return &replay.History{Events: es, Store: store, Registry: catalog.New(), Projections: pit}
				}},
				{"point in time, warm", func() *replay.History { return warm }},
			} {
				b.Run(c.name, func(b *testing.B) {
					replayed := 0
					for range b.N {
						for range questions {
							then, err := c.history().At(ctx, moment())
							if err != nil {
								b.Fatal(err)
							}
							replayed += then.Replayed
						}
					}
					b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*questions), "ms/question")
					b.ReportMetric(float64(replayed)/float64(b.N*questions), "events-replayed/question")
				})
			}
		})
	}
}
