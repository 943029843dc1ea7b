package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/shareledger/shareledger/commands"
	accountcmd "github.com/shareledger/shareledger/commands/account"
	devicecmd "github.com/shareledger/shareledger/commands/device"
	"github.com/shareledger/shareledger/commands/httpapi"
	partnershipcmd "github.com/shareledger/shareledger/commands/partnership"
	rightscmd "github.com/shareledger/shareledger/commands/rights"
	teamcmd "github.com/shareledger/shareledger/commands/team"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	eventesdb "github.com/shareledger/shareledger/eventstore/esdb"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
	eventpostgres "github.com/shareledger/shareledger/eventstore/postgres"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/projections/partners"
	rmpostgres "github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/relay"
	rightsmodel "github.com/shareledger/shareledger/projections/rights"
	teammodel "github.com/shareledger/shareledger/projections/team"
	"github.com/shareledger/shareledger/readapi"
	"github.com/shareledger/shareledger/readapi/console"
	"github.com/shareledger/shareledger/replay"
)

// app is a wired service: stores, projections runner and HTTP handler.
type app struct {
	log     *slog.Logger
	events  eventstore.Store
	models  projections.Store // raw, seen through its live generations
	raw     projections.Store // raw: as rebuilds and snapshots see it
	lease   projections.Lease
	relay   message.Publisher
	runner  *projections.Runner
	running atomic.Bool // this instance holds the lease and runs the projections
	handler http.Handler

	history   *replay.History
	snapshots *replay.Snapshotter
	ops       *replay.BlueGreen
	releaser  partnershipcmd.Releaser

	verifications *readapi.Verifications
}

func openApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	keys, err := httpapi.LoadOrCreateKeys(cfg.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	a := &app{log: log, lease: projections.Solo{}}
	reg := catalog.New()
	if a.events, a.raw, err = openStores(ctx, cfg, reg, log); err != nil {
		return nil, err
	}
	a.models = projections.Generational(a.raw)
	if cfg.ReadModels != "" {
		// Read models in PostgreSQL may be shared by several instances:
		// one of them at a time runs the projections.
		a.lease = &rmpostgres.Lease{URL: cfg.ReadModels, Name: cfg.PGSchema, Log: log}
	}
	var mailer notify.Mailer = notify.Dir{Path: filepath.Join(cfg.DataDir, "outbox"), From: cfg.MailFrom}
	if cfg.SMTP != "" {
		if mailer, err = notify.ParseSMTP(cfg.SMTP, cfg.MailFrom); err != nil {
			a.close()
			return nil, err
		}
	}
	a.snapshots = &replay.Snapshotter{Every: cfg.SnapshotEvery,
		Taken: func(s replay.Snapshot) {
			log.Info("snapshot written", "projection", s.Projection, "generation", s.Generation, "position", s.Position)
		}}
	// The live point-in-time projections keep, copy-on-write, the versions
	// their snapshots need, and take a snapshot every so many events,
	// whether or not snapshots are configured (those already taken must
	// go on answering); rebuilds run the plain ones (plain), which they
	// wrap themselves.
	plain := projectionList(mailer, cfg.InvitationsPerDay)
	ps := slices.Clone(plain)
	for i, p := range ps {
		if t, ok := p.(replay.Tabled); ok && slices.Contains(replay.Names(pointInTime()), p.Name()) {
			ps[i] = a.snapshots.Note(t)
		}
	}
	if cfg.Relay != "" {
		if a.relay, err = relay.JetStream(cfg.Relay, log); err != nil {
			a.close()
			return nil, err
		}
		ps = append(ps, relay.Projection{Publisher: a.relay})
	}
	a.runner, err = projections.NewRunner(projections.RunnerConfig{
		Events: a.events, Store: a.models, Registry: reg, Logger: log, Projections: ps,
	})
	if err != nil {
		a.close()
		return nil, err
	}
	repo := commands.Repo{Events: a.events, Registry: reg, Cache: commands.NewStateCache(cfg.CommandCache), Locks: commands.NewStreamLocks(),
		SnapshotEvery: cfg.AggregateSnapshotEvery, Metrics: commands.NewMetrics()}
	repo.Metrics.Cache = repo.Cache
	a.history = &replay.History{Events: a.events, Store: a.raw, Registry: reg, Projections: pointInTime()}
	a.ops = &replay.BlueGreen{All: tabled(plain), Log: log,
		Rebuilder: replay.Rebuilder{Events: a.events, Store: a.raw, Registry: reg, SnapshotEvery: cfg.SnapshotEvery, Snapshotted: replay.Names(pointInTime())}}
	a.verifications = readapi.NewVerifications(func(names []string) error {
		_, err := a.ops.Choose(names)
		return err
	}, func(ctx context.Context, names []string) ([]string, []replay.Difference, error) {
		return verifyInService(ctx, a, reg, names)
	})
	read := &readapi.API{Store: a.models, Events: a.events, Progress: a.runner.Progress(), Status: status{a}, WaitTimeout: cfg.WaitTimeout,
		History: a.history, Operations: a.ops, Feeds: readapi.Feeds{PerAccount: cfg.FeedsPerAccount}, Verifications: a.verifications}
	api := router(keys, repo, &commands.MailQuota{PerDay: cfg.InvitationsPerDay}, read, log, time.Now)
	if a.handler, err = withConsole(api, keys); err != nil {
		a.close()
		return nil, err
	}
	a.releaser = releaser(repo, a.models, log)
	return a, nil
}

// openStores opens the event store and the read-model store the
// configuration names.
func openStores(ctx context.Context, cfg config, reg *domain.Registry, log *slog.Logger) (eventstore.Store, projections.Store, error) {
	var es eventstore.Store
	var err error
	switch {
	case cfg.EventStore == "":
		es, err = eventpebble.Open(eventpebble.Config{Dir: filepath.Join(cfg.DataDir, "events"), Logger: log})
	case isESDB(cfg.EventStore):
		es, err = eventesdb.Open(eventesdb.Config{URL: cfg.EventStore, EventTypes: reg.Names(), Logger: log})
	default:
		es, err = eventpostgres.Open(ctx, eventpostgres.Config{URL: cfg.EventStore, Schema: cfg.PGSchema, Logger: log})
	}
	if err != nil {
		return nil, nil, err
	}
	var models projections.Store
	if cfg.ReadModels == "" {
		models, err = rmbolt.Open(embeddedReadModels(cfg))
	} else {
		models, err = rmpostgres.Open(ctx, rmpostgres.Config{URL: cfg.ReadModels, Schema: cfg.PGSchema})
	}
	if err != nil {
		_ = es.Close()
		return nil, nil, err
	}
	return es, models, nil
}

func embeddedReadModels(cfg config) string { return filepath.Join(cfg.DataDir, "readmodels.db") }

// projectionList is every projection the service runs (the relay is added
// when configured).
func projectionList(mailer notify.Mailer, mailsPerDay int) []projections.Projection {
	return []projections.Projection{
		directory.Projection{}, devices.Projection{}, partners.Projection{}, notify.Projection{Mailer: mailer, PerDay: mailsPerDay},
		rightsmodel.Projection{}, teammodel.Projection{}, audit.Projection{},
	}
}

// tabled is the projections of ps that own read-model tables: the ones a
// rebuild or verify can work on.
func tabled(ps []projections.Projection) []replay.Tabled {
	var out []replay.Tabled
	for _, p := range ps {
		if t, ok := p.(replay.Tabled); ok {
			out = append(out, t)
		}
	}
	return out
}

// pointInTime is the projections that answer as of a past moment: all
// with read models but the audit index, which is a history already (its
// route filters by time) and would make every snapshot a copy of the log.
func pointInTime() []replay.Tabled {
	return []replay.Tabled{directory.Projection{}, devices.Projection{}, partners.Projection{}, rightsmodel.Projection{}, teammodel.Projection{}}
}

// router assembles the HTTP API: health and the API description are
// public, everything else needs a bearer token.
func router(keys *httpapi.Keys, repo commands.Repo, mails *commands.MailQuota, read *readapi.API, log *slog.Logger, now func() time.Time) http.Handler {
	if repo.Metrics == nil {
		repo.Metrics = commands.NewMetrics()
	}
	r := chi.NewRouter()
	r.Use(chimw.Recoverer, httpapi.DecodedPaths)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	r.Get("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(httpapi.OpenAPI)
	})
	r.Get("/v1/schemas/events", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(readapi.EventSchemas)
	})
	r.Group(func(r chi.Router) {
		r.Use(keys.RequireOperator(httpapi.WriteProblem))
		read.OperatorRoutes(r)
		read.OperatorFeedRoutes(r)
		read.MetricsRoute(r, repo.Metrics)
	})
	r.Group(func(r chi.Router) {
		r.Use(keys.Require(httpapi.WriteProblem))
		accountcmd.New(repo, log).Routes(r, now)
		devicecmd.New(repo, log).Routes(r, now)
		partnershipcmd.New(repo, log, mails).Routes(r, now)
		rightscmd.New(repo, log).Routes(r, now)
		teamcmd.New(repo, log, mails).Routes(r, now)
		read.Routes(r)
		read.RightsRoutes(r)
		read.TeamRoutes(r)
		read.AuditRoutes(r)
		read.FeedRoutes(r)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteProblem(w, r, &httpapi.RouteError{Status: http.StatusNotFound, Code: "no-such-route", Err: fmt.Errorf("no route %s; see /openapi.json", r.URL.Path)})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(httpapi.AllowedMethods(r, req.URL.Path), ", "))
		httpapi.WriteProblem(w, req, &httpapi.RouteError{Status: http.StatusMethodNotAllowed, Code: "method-not-allowed", Err: fmt.Errorf("%s is not served at %s; see /openapi.json", req.Method, req.URL.Path)})
	})
	return r
}

// run serves HTTP on ln and feeds the projections until ctx ends, then
// shuts down in order: HTTP first, then projections, then the stores.
func (a *app) run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every phase of a connection is bounded, so slow or idle clients
	// cannot hold connections forever: a request's head, a whole request
	// (a 16 MiB CSV upload on a slow line included), an answer (an audit
	// export, or a read waiting --wait-timeout for the projections), and
	// an idle keep-alive connection.
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: 3 * time.Minute, IdleTimeout: 2 * time.Minute}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	a.ops.Serve(ctx)
	a.verifications.Serve(ctx)
	wg.Go(func() { a.project(ctx) })
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
		}
		cancel()
	})
	<-ctx.Done()
	shutdown, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdown)
	wg.Wait()
	a.ops.Wait()
	a.verifications.Wait()
	a.close()
	close(errs)
	return errors.Join(func() (all []error) {
		for err := range errs {
			all = append(all, err)
		}
		return all
	}()...)
}

// project runs the projections whenever this instance holds the lease.
func (a *app) project(ctx context.Context) {
	for ctx.Err() == nil {
		held, release, err := a.lease.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Error("cannot take the projections lease; retrying", "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
			continue
		}
		a.log.Info("this instance runs the projections")
		a.running.Store(true)
		beside, stop := context.WithCancel(held)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = a.releaser.Run(beside)
		}()
		if err := a.runner.Run(held); err != nil {
			a.log.Error("projections stopped", "err", err)
		}
		stop()
		<-done
		a.running.Store(false)
		release()
	}
}

// verifyInService rebuilds the named projections (none: all with read
// models) from the log into a scratch store in a temporary folder and
// compares them with the live ones, as `sl replay verify` does.
func verifyInService(ctx context.Context, a *app, reg *domain.Registry, names []string) ([]string, []replay.Difference, error) {
	chosen, err := a.ops.Choose(names)
	if err != nil {
		return names, nil, err
	}
	ps := make([]projections.Projection, len(chosen))
	picked := make([]string, len(chosen))
	for i, p := range chosen {
		ps[i], picked[i] = p, p.Name()
	}
	dir, err := os.MkdirTemp("", "shareledger-verify-")
	if err != nil {
		return picked, nil, err
	}
	defer os.RemoveAll(dir)
	scratch, err := rmbolt.Open(filepath.Join(dir, "scratch.db"))
	if err != nil {
		return picked, nil, err
	}
	defer scratch.Close()
	diffs, err := replay.Verify(ctx, a.events, projections.Generational(a.raw), scratch, reg, ps, nil)
	return picked, diffs, err
}

// withConsole serves the console's pages at /console beside the API (whose
// OpenAPI description they are not part of); the console calls the API in
// process.
func withConsole(api http.Handler, keys *httpapi.Keys) (http.Handler, error) {
	con, err := console.New(api, keys.Identify)
	if err != nil {
		return nil, err
	}
	pages := chi.NewRouter()
	con.Routes(pages)
	mux := http.NewServeMux()
	mux.Handle("/console", pages)
	mux.Handle("/console/", pages)
	mux.Handle("/", api)
	return mux, nil
}

// releaser finishes device deletions in the partnerships that shared the
// devices; like the projections, it runs where the lease is held.
func releaser(repo commands.Repo, models projections.Store, log *slog.Logger) partnershipcmd.Releaser {
	return partnershipcmd.Releaser{
		Release: partnershipcmd.New(repo, log, nil).Release,
		Owed: func(ctx context.Context, limit int) ([]partnershipcmd.Owed, error) {
			var page []devices.Release
			err := models.View(ctx, func(r projections.Reader) (err error) {
				page, _, err = devices.Query{R: r}.Releases(ctx, projections.Page{Limit: limit})
				return err
			})
			owed := make([]partnershipcmd.Owed, len(page))
			for i, r := range page {
				owed[i] = partnershipcmd.Owed{Device: r.Device, Owner: r.Owner, Partner: r.Partner, By: r.By, Cause: r.Cause, Correlation: r.Correlation}
			}
			return owed, err
		},
		Every: 250 * time.Millisecond,
		Now:   time.Now,
		Log:   log,
	}
}

// status reports the projections, and whether they run here.
type status struct{ a *app }

func (s status) Names() []string           { return s.a.runner.Names() }
func (s status) Handled(name string) int64 { return s.a.runner.Handled(name) }
func (s status) RunningHere() bool         { return s.a.running.Load() }

func (a *app) close() {
	if a.relay != nil {
		_ = a.relay.Close()
	}
	if a.models != nil {
		_ = a.models.Close()
	}
	if a.events != nil {
		_ = a.events.Close()
	}
}

func serve(ctx context.Context, cfg config, stderr io.Writer) error {
	level, _ := cfg.level()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	mem := decideMemory(os.LookupEnv, cfg.MemoryLimit, cgroupMemory())
	defer mem.apply()()
	procs := decideProcs(os.LookupEnv, runtime.GOMAXPROCS(0), embeddedStores(cfg))
	defer procs.apply()()
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close()
		return err
	}
	log.Info("shareledger listening", "addr", "http://"+ln.Addr().String(), "data", cfg.DataDir,
		"eventstore", storeKind(cfg.EventStore),
		"readmodels", map[bool]string{true: "embedded", false: "postgres"}[cfg.ReadModels == ""],
		"gc", mem.String(), "procs", procs.String())
	return a.run(ctx, ln)
}

func storeKind(url string) string {
	switch {
	case url == "":
		return "embedded"
	case isESDB(url):
		return "eventstoredb"
	}
	return "postgres"
}
