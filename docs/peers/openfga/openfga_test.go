package openfga

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	openfgav1 "github.com/openfga/api/proto/openfga/v1"
	parser "github.com/openfga/language/pkg/go/transformer"
	"github.com/openfga/openfga/pkg/server"
	"github.com/openfga/openfga/pkg/storage"
	"github.com/openfga/openfga/pkg/storage/memory"
	"github.com/openfga/openfga/pkg/storage/migrate"
	"github.com/openfga/openfga/pkg/storage/postgres"
	"github.com/openfga/openfga/pkg/storage/sqlcommon"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/rights"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmmemory "github.com/shareledger/shareledger/projections/memory"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
	"github.com/shareledger/shareledger/projections/rights/rightstest"
	"github.com/shareledger/shareledger/projections/storetest"
)

//go:embed model.fga
var model string

// fga is an OpenFGA server in this process with the account loaded.
type fga struct {
	s       *server.Server
	store   string
	modelID string
}

// load starts OpenFGA on ds and writes the model and the account's tuples.
func load(tb testing.TB, ds storage.OpenFGADatastore, spec rightstest.Spec) *fga {
	tb.Helper()
	ctx := context.Background()
	s := server.MustNewServerWithOpts(
		server.WithDatastore(ds),
		server.WithListObjectsMaxResults(uint32(spec.Vehicles)),
		server.WithListUsersMaxResults(uint32(spec.Users+1)),
		// Past its deadline (3 s by default) ListObjects answers with what it
		// found so far: the comparison wants every answer.
		server.WithListObjectsDeadline(time.Minute),
		server.WithListUsersDeadline(time.Minute),
	)
	tb.Cleanup(s.Close)
	st, err := s.CreateStore(ctx, &openfgav1.CreateStoreRequest{Name: string(spec.Account)})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := parser.TransformDSLToProto(model)
	if err != nil {
		tb.Fatal(err)
	}
	wm, err := s.WriteAuthorizationModel(ctx, &openfgav1.WriteAuthorizationModelRequest{StoreId: st.GetId(), TypeDefinitions: m.GetTypeDefinitions(), SchemaVersion: m.GetSchemaVersion()})
	if err != nil {
		tb.Fatal(err)
	}
	tuples, err := Tuples(spec.Events())
	if err != nil {
		tb.Fatal(err)
	}
	for start := 0; start < len(tuples); start += 100 { // OpenFGA's limit per write
		_, err := s.Write(ctx, &openfgav1.WriteRequest{StoreId: st.GetId(), AuthorizationModelId: wm.GetAuthorizationModelId(),
			Writes: &openfgav1.WriteRequestWrites{TupleKeys: tuples[start:min(start+100, len(tuples))]}})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return &fga{s: s, store: st.GetId(), modelID: wm.GetAuthorizationModelId()}
}

func (f *fga) check(ctx context.Context, user domain.UserID, relation string, v rights.MemberID) (bool, error) {
	r, err := f.s.Check(ctx, &openfgav1.CheckRequest{StoreId: f.store, AuthorizationModelId: f.modelID,
		TupleKey: &openfgav1.CheckRequestTupleKey{User: "user:" + string(user), Relation: relation, Object: "vehicle:" + string(v)}})
	return r.GetAllowed(), err
}

func (f *fga) vehicles(ctx context.Context, user domain.UserID, relation string) ([]string, error) {
	r, err := f.s.ListObjects(ctx, &openfgav1.ListObjectsRequest{StoreId: f.store, AuthorizationModelId: f.modelID,
		Type: "vehicle", Relation: relation, User: "user:" + string(user)})
	return r.GetObjects(), err
}

func (f *fga) users(ctx context.Context, v rights.MemberID, relation string) ([]string, error) {
	r, err := f.s.ListUsers(ctx, &openfgav1.ListUsersRequest{StoreId: f.store, AuthorizationModelId: f.modelID,
		Object: &openfgav1.Object{Type: "vehicle", Id: string(v)}, Relation: relation,
		UserFilters: []*openfgav1.UserTypeFilter{{Type: "user"}}})
	var out []string
	for _, u := range r.GetUsers() {
		out = append(out, "user:"+u.GetObject().GetId())
	}
	return out, err
}

// shareLedger builds ShareLedger's rights read model of the account from
// its events, in memory, and returns it.
func shareLedger(tb testing.TB, spec rightstest.Spec) projections.Store {
	tb.Helper()
	ctx := context.Background()
	es := storetest.Pebble(tb)
	var evs []eventstore.Event
	for i, e := range spec.Events() {
		data, err := json.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, eventstore.Event{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), Type: e.EventType(), Version: e.EventVersion(), Data: data})
	}
	for start := 0; start < len(evs); start += 1000 {
		if _, err := es.Append(ctx, "peer", eventstore.Any(), evs[start:min(start+1000, len(evs))]...); err != nil {
			tb.Fatal(err)
		}
	}
	store := rmmemory.New(nil)
	if _, err := projections.CatchUp(ctx, es, store, catalog.New(), rightsmodel.Projection{}, eventstore.Position{}, 2000); err != nil {
		tb.Fatal(err)
	}
	return store
}

// TestOpenFGAAgreesWithShareLedger checks the comparison's premise: for
// every user and vehicle of the account, OpenFGA's ListObjects finds the
// vehicle for viewer (editor) exactly when ShareLedger's rights give the
// user at least view (edit) on it, and ListUsers agrees for some vehicles.
func TestOpenFGAAgreesWithShareLedger(t *testing.T) {
	ctx := context.Background()
	spec := rightstest.Peer()
	f := load(t, memory.New(), spec)
	store := shareLedger(t, spec)
	err := store.View(ctx, func(r projections.Reader) error {
		v := rightsmodel.Query{R: r}.Account(ctx, spec.Account)
		seers := map[rights.MemberID][]string{}
		for i := range spec.Users {
			u := spec.User(i)
			want := map[string][]string{}
			for j := range spec.Vehicles {
				m := spec.Vehicle(j)
				g, err := rights.OnMember(v, u, m)
				if err != nil {
					return err
				}
				if g.Rights.Member.AtLeast(rights.View) {
					want["viewer"] = append(want["viewer"], "vehicle:"+string(m))
					seers[m] = append(seers[m], "user:"+string(u))
				}
				if g.Rights.Member.AtLeast(rights.Edit) {
					want["editor"] = append(want["editor"], "vehicle:"+string(m))
				}
			}
			for _, rel := range []string{"viewer", "editor"} {
				got, err := f.vehicles(ctx, u, rel)
				if err != nil {
					return err
				}
				slices.Sort(got)
				if !slices.Equal(got, want[rel]) {
					t.Errorf("%s %s: OpenFGA lists %d vehicles, ShareLedger %d", u, rel, len(got), len(want[rel]))
				}
			}
		}
		for _, j := range []int{0, 42, 1999} {
			m := spec.Vehicle(j)
			got, err := f.users(ctx, m, "viewer")
			if err != nil {
				return err
			}
			slices.Sort(got)
			want := seers[m]
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("who can see %s: OpenFGA %v, ShareLedger %v", m, got, want)
			}
		}
		return v.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkOpenFGA asks OpenFGA, on its memory and PostgreSQL datastores,
// what readapi's BenchmarkRightsPeer asks ShareLedger.
//
//	go test -run '^$' -bench OpenFGA -benchtime 200x
//	(cd ../../.. && go test -run '^$' -bench RightsPeer -benchtime 200x ./readapi/)
func BenchmarkOpenFGA(b *testing.B) {
	ctx := context.Background()
	spec := rightstest.Peer()
	stores := []struct {
		name string
		open func(b *testing.B) storage.OpenFGADatastore
	}{
		{"memory", func(*testing.B) storage.OpenFGADatastore { return memory.New() }},
		{"postgres", openPostgres},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			f := load(b, st.open(b), spec)
			rnd := rand.New(rand.NewPCG(5, 6))
			cases := []struct {
				name string
				run  func() (int, error)
			}{
				{"check a vehicle", func() (int, error) {
					ok, err := f.check(ctx, spec.User(rnd.IntN(spec.Users)), "viewer", spec.Vehicle(rnd.IntN(spec.Vehicles)))
					if ok {
						return 1, err
					}
					return 0, err
				}},
				{"vehicles u0 can see", func() (int, error) {
					got, err := f.vehicles(ctx, spec.User(0), "viewer")
					return len(got), err
				}},
				{"users who can see v000042", func() (int, error) {
					got, err := f.users(ctx, spec.Vehicle(42), "viewer")
					return len(got), err
				}},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					found := 0
					for b.Loop() {
						n, err := c.run()
						if err != nil {
							b.Fatal(err)
						}
						found += n
					}
					b.ReportMetric(float64(found)/float64(b.N), "answers/op")
				})
			}
		})
	}
}

// openPostgres migrates a database of its own for OpenFGA on the server
// that DATABASE_URL names.
func openPostgres(b *testing.B) storage.OpenFGADatastore {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		b.Skip("set DATABASE_URL (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to compare on PostgreSQL")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{"DROP DATABASE IF EXISTS openfga_peer", "CREATE DATABASE openfga_peer"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	uri := fmt.Sprintf("postgres://%s@%s:%d/openfga_peer?sslmode=disable", cfg.User, cfg.Host, cfg.Port)
	if err := migrate.RunMigrations(migrate.MigrationConfig{Engine: "postgres", URI: uri, Timeout: time.Minute, PingTimeout: 5 * time.Second}); err != nil {
		b.Fatal(err)
	}
	// As the OpenFGA server configures it by default: with pgx's default of
	// four connections on this machine, ListObjects waits forever on its own
	// open iterators.
	ds, err := postgres.New(uri, sqlcommon.NewConfig(sqlcommon.WithMaxOpenConns(30)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ds.Close)
	return ds
}
