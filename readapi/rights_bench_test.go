package readapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/directory"
	rmpostgres "github.com/shareledger/shareledger/projections/postgres"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
	"github.com/shareledger/shareledger/projections/rights/rightstest"
	"github.com/shareledger/shareledger/projections/storetest"
)

var (
	large         = rightstest.Large()
	benchVehicles = large.Vehicles
	benchUsers    = large.Users
	benchFleets   = large.Fleets
)

var (
	benchOnce   sync.Once
	benchStore  projections.Store
	benchStores []namedStore // the embedded store, and PostgreSQL with DATABASE_URL set
	benchErr    error
)

type namedStore struct {
	name  string
	store projections.Store
}

// benchSchema is the PostgreSQL schema the benchmarks build, dropped at the
// end of the run.
const benchSchema = "bench_rights"

// benchAccount builds, once per run, the read models of two accounts
// (rightstest.Large and rightstest.Peer) from their events through the
// directory and rights projections: the large one has 100,000 vehicles
// (each in two fleets, placed on a random node), 10,000 users (roles,
// direct rights, private shares, placements), 1,000 fleets and 1,000
// teams, and an eight-level hierarchy; the other is the account of the
// comparison with OpenFGA.
func benchAccount(b testing.TB) projections.Store {
	benchOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "shareledger-rights-bench-")
		if err != nil {
			benchErr = err
			return
		}
		benchDir = dir
		es := storetest.Pebble(b)
		var batch []domain.Event
		n := 0
		flush := func() {
			if len(batch) == 0 || benchErr != nil {
				return
			}
			evs := make([]eventstore.Event, len(batch))
			for i, e := range batch {
				data, _ := json.Marshal(e)
				n++
				evs[i] = eventstore.Event{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Type: e.EventType(), Version: e.EventVersion(), Data: data}
			}
			_, benchErr = es.Append(ctx, "bench", eventstore.Any(), evs...)
			batch = batch[:0]
		}
		emit := func(e domain.Event) {
			batch = append(batch, e)
			if len(batch) == 1000 {
				flush()
			}
		}
		for _, spec := range []rightstest.Spec{rightstest.Large(), rightstest.Peer()} {
			for _, e := range spec.Events() {
				emit(e)
			}
		}
		flush()
		if benchErr != nil {
			return
		}
		benchStore, benchErr = rmbolt.Open(filepath.Join(dir, "rm.db"))
		if benchErr != nil {
			return
		}
		benchStores = []namedStore{{"bbolt", benchStore}}
		if url := os.Getenv("DATABASE_URL"); url != "" {
			var pg projections.Store
			if pg, benchErr = dropBenchSchema(ctx, url); benchErr != nil {
				return
			}
			benchStores = append(benchStores, namedStore{"postgres", pg})
		}
		for _, st := range benchStores {
			start := time.Now()
			for _, p := range []projections.Projection{directory.Projection{}, rightsmodel.Projection{}} {
				if _, benchErr = projections.CatchUp(ctx, es, st.store, catalog.New(), p, eventstore.Position{}, 2000); benchErr != nil {
					return
				}
			}
			b.Logf("%s: %d events projected in %v", st.name, n, time.Since(start).Round(time.Millisecond))
		}
		if benchPG != "" {
			// The table as autovacuum leaves it some time after the
			// load: the planner's statistics, and the rows' hint bits
			// and visibility set, so that neither the first reads (which
			// would set the hint bits, writing pages) nor an autovacuum
			// run during the benchmark weighs on its figures.
			benchErr = analyze(ctx, b, benchPG)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

// dropBenchSchema drops what an earlier run may have left and opens the
// read models in a fresh schema.
func dropBenchSchema(ctx context.Context, url string) (projections.Store, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+benchSchema+" CASCADE"); err != nil {
		return nil, err
	}
	benchPG = url
	return rmpostgres.Open(ctx, rmpostgres.Config{URL: url, Schema: benchSchema})
}

var benchPG string

// analyze readies the loaded account as a store that has been serving a
// while would be: its statistics gathered, and the pages that loading and
// vacuuming left dirty written out (CHECKPOINT), as the server's
// background writers would have. Without that, the first reads of a run
// pay for writing out the load's pages to make room for their own.
func analyze(ctx context.Context, b testing.TB, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err = conn.Exec(ctx, "VACUUM (ANALYZE) "+benchSchema+".rm_documents"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		// A role that may not (neither a superuser nor pg_checkpoint):
		// the figures then include those writes.
		b.Logf("no checkpoint after the load: %v", err)
	}
	return nil
}

var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, st := range benchStores {
		_ = st.store.Close()
	}
	if benchPG != "" {
		conn, err := pgx.Connect(context.Background(), benchPG)
		if err == nil {
			_, err = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+benchSchema+" CASCADE")
			_ = conn.Close(context.Background())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "drop the benchmark schema:", err)
		}
	}
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// go test -run '^$' -bench Rights -benchtime 2000x ./readapi/
func BenchmarkRightsCheck(b *testing.B) {
	benchAccount(b)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name string
		run  func(v *rightsmodel.View) error
	}{
		// As GET /v1/rights/check answers them.
		{"item", func(v *rightsmodel.View) error {
			_, err := checkAlone(v, CheckRequest{User: domain.UserID(fmt.Sprintf("u%d@big.test", rnd.IntN(benchUsers))), Item: fmt.Sprint("fleet", rnd.IntN(benchFleets))})
			return err
		}},
		{"member", func(v *rightsmodel.View) error {
			_, err := checkAlone(v, CheckRequest{User: domain.UserID(fmt.Sprintf("u%d@big.test", rnd.IntN(benchUsers))), Member: fmt.Sprintf("v%06d", rnd.IntN(benchVehicles))})
			return err
		}},
	}
	cases = append(cases, struct {
		name string
		run  func(v *rightsmodel.View) error
	}{"batch of 100 (50 items, 50 members)", func(v *rightsmodel.View) error {
		// As batchCheck answers them: every question's reads ahead, then
		// each question.
		checks := make([]CheckRequest, 100)
		ahead := make([]rightsmodel.Check, 100)
		for i := range checks {
			c := CheckRequest{User: domain.UserID(fmt.Sprintf("u%d@big.test", rnd.IntN(benchUsers)))}
			if i%2 == 0 {
				c.Item = fmt.Sprint("fleet", rnd.IntN(benchFleets))
			} else {
				c.Member = fmt.Sprintf("v%06d", rnd.IntN(benchVehicles))
			}
			checks[i], ahead[i] = c, rightsmodel.Check{User: c.User, Item: rights.ItemID(c.Item), Member: rights.MemberID(c.Member)}
		}
		v.AheadChecks(ahead)
		for _, c := range checks {
			if _, err := checkOne(v, c); err != nil {
				return err
			}
		}
		return nil
	}})
	for _, st := range benchStores {
		for _, c := range cases {
			b.Run(st.name+"/"+c.name, func(b *testing.B) {
				defer reportCPU(b)()
				for b.Loop() {
					err := st.store.View(ctx, func(tx projections.Reader) error {
						v := rightsmodel.Query{R: tx}.Account(ctx, "big")
						if err := c.run(v); err != nil {
							return err
						}
						return v.Err()
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkRightsList(b *testing.B) {
	benchAccount(b)
	ctx := context.Background()
	a := &API{}
	cases := []struct {
		name string
		path string
		user string
	}{
		{"fleets, 50 a page", "/v1/rights/items?kind=fleet", "u0@big.test"},
		{"vehicles, 50 a page, role and hierarchy user", "/v1/rights/members?kind=vehicle", "u0@big.test"},
		{"vehicles, 50 a page, private shares only", "/v1/rights/members?kind=vehicle", "u1@big.test"},
		{"subusers, search", "/v1/subusers?search=User%2099", "u3@big.test"},
		{"who can see a vehicle, first page", "/v1/rights/members/v000042/grid", "admin@big.test"},
		{"who can edit a fleet, first page", "/v1/rights/items/fleet7/grid?level=edit", "admin@big.test"},
		{"who can edit a vehicle, first page", "/v1/rights/members/v000042/grid?level=edit", "admin@big.test"},
	}
	for _, st := range benchStores {
		for _, c := range cases {
			b.Run(st.name+"/"+c.name, func(b *testing.B) {
				caller := directory.User{User: domain.UserID(c.user), Account: "big", Role: "user"}
				if c.user == "admin@big.test" {
					caller.Role = "administrator"
				}
				req := httptest.NewRequest("GET", c.path, nil)
				route := chi.NewRouteContext()
				parts := strings.Split(req.URL.Path, "/")
				switch {
				case strings.HasPrefix(req.URL.Path, "/v1/rights/members/"):
					route.URLParams.Add("member", parts[4])
				case strings.HasPrefix(req.URL.Path, "/v1/rights/items/"):
					route.URLParams.Add("item", parts[4])
				}
				req = req.WithContext(context.WithValue(req.Context(), chi.RouteCtxKey, route))
				defer reportCPU(b)()
				for b.Loop() {
					err := st.store.View(ctx, func(tx projections.Reader) error {
						var err error
						switch {
						case strings.HasPrefix(req.URL.Path, "/v1/rights/members/"):
							_, err = a.memberGrid(ctx, req, tx, caller)
						case strings.HasPrefix(req.URL.Path, "/v1/rights/items/"):
							_, err = a.grid(ctx, req, tx, caller)
						case req.URL.Path == "/v1/rights/members":
							_, err = a.visibleMembers(ctx, req, tx, caller)
						case req.URL.Path == "/v1/subusers":
							_, err = a.subusers(ctx, req, tx, caller)
						default:
							_, err = a.listItems(ctx, req, tx, caller)
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// reportCPU reports, besides the wall time, the CPU this process spends an
// answer (the runtime's included; a database server's not): call the
// function it returns when the loop ends.
func reportCPU(b *testing.B) func() {
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(0, &ru0)
	return func() {
		var ru1 syscall.Rusage
		_ = syscall.Getrusage(0, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
