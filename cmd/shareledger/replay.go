package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/readapi"
	"github.com/shareledger/shareledger/replay"
)

const replayUsage = `Usage:
  shareledger replay verify [flags] [projection...]  rebuild read models (default: all with tables)
                                                     into scratch storage and list how each differs
                                                     from the live one
  shareledger replay rebuild [flags] [projection...] rebuild projections (default: all with tables)
                                                     blue/green: into a new generation beside the
                                                     live one, swapped in once it has caught up

Run "shareledger replay verify --help" or "shareledger replay rebuild --help" for each one's flags.
`

const verifyUsage = `Usage: shareledger replay verify [flags] [projection...]

Rebuilds each read model (default: every one with tables) from the log into scratch storage, each up
to the position its live model reached, and prints every document that differs as a JSON line. Exits
non-zero if any does. With the embedded stores, stop the service first: it holds the files.

Flags:
`

const rebuildUsage = `Usage: shareledger replay rebuild [flags] [projection...]

Rebuilds projections (default: every one with tables) blue/green: each is replayed into a new
generation beside the live one and swapped in once it has caught up. A rebuild never stops the
service: readers keep the live model until the swap, and a rebuild that fails leaves it as it was.
With the embedded stores the running service holds the files, so the rebuild asks it (at --url, with
an operator token minted from the key in --data) and follows its progress; with PostgreSQL read
models it runs here, beside the running instances.

Flags:
`

// replayCmd runs the replay subcommands, each with its own flags.
func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "rebuild") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(stdout, replayUsage)
			return flag.ErrHelp
		}
		fmt.Fprint(stderr, replayUsage)
		if len(args) == 0 {
			return errors.New("name verify or rebuild")
		}
		return fmt.Errorf("unknown replay action %q", args[0])
	}
	action := args[0]
	f := newFlags("replay "+action, stderr)
	var cfg config
	var c remote
	var remoteOnly bool
	usage := verifyUsage
	f.str(&c.dataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "the service's data folder (the embedded stores and the signing key)")
	f.str(&cfg.EventStore, "eventstore", "SHARELEDGER_EVENTSTORE", "", "event store, as for serve: empty for the embedded Pebble store in --data")
	f.str(&cfg.ReadModels, "readmodels", "SHARELEDGER_READMODELS", "", "read-model store, as for serve: empty for embedded bbolt in --data")
	f.str(&cfg.PGSchema, "pg-schema", "SHARELEDGER_PG_SCHEMA", "shareledger", "PostgreSQL schema")
	if action == "rebuild" {
		usage = rebuildUsage
		f.str(&c.base, "url", "SHARELEDGER_URL", "http://127.0.0.1:8080", "the running service, asked to rebuild when it holds the embedded stores")
		f.str(&c.token, "token", "SHARELEDGER_TOKEN", "", "an operator's token for --url (default: minted with the signing key in --data)")
		f.num(&cfg.SnapshotEvery, "snapshot-every", "SHARELEDGER_SNAPSHOT_EVERY", 1000, "snapshot for point-in-time answers every so many events of a rebuild (0: never)")
		f.BoolVar(&remoteOnly, "remote", false, "ask the running service at --url to rebuild, whatever the stores")
	}
	f.Usage = func() { fmt.Fprint(f.Output(), usage); f.PrintDefaults() }
	if err := f.Parse(args[1:]); err != nil {
		return err
	}
	cfg.DataDir = c.dataDir
	bg := &replay.BlueGreen{All: tabled(projectionList(notify.Dir{Path: os.DevNull}, 0))}
	chosen, err := bg.Choose(f.Args())
	if err != nil {
		return err
	}
	if action == "rebuild" && remoteOnly {
		return rebuildRemote(c, f.Args(), stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := catalog.New()
	es, raw, err := openStores(ctx, cfg, reg, log)
	if err != nil {
		if action == "rebuild" && cfg.ReadModels == "" {
			fmt.Fprintf(stderr, "cannot open the embedded stores (%v): asking the service at %s to rebuild\n", err, c.base)
			return rebuildRemote(c, f.Args(), stderr)
		}
		return err
	}
	defer es.Close()
	defer raw.Close()
	report := progressBar(stderr)
	if action == "rebuild" {
		bg.Rebuilder = replay.Rebuilder{Events: es, Store: raw, Registry: reg, Report: report, SnapshotEvery: cfg.SnapshotEvery, Snapshotted: replay.Names(pointInTime())}
		names, err := bg.Run(ctx, f.Args())
		fmt.Fprintln(stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "rebuilt and swapped in %v\n", names)
		return nil
	}
	dir, err := os.MkdirTemp("", "shareledger-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	scratch, err := rmbolt.Open(filepath.Join(dir, "scratch.db"))
	if err != nil {
		return err
	}
	defer scratch.Close()
	ps := make([]projections.Projection, len(chosen))
	for i, p := range chosen {
		ps[i] = p
	}
	diffs, err := replay.Verify(ctx, es, projections.Generational(raw), scratch, reg, ps, report)
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, d := range diffs {
		_ = enc.Encode(d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d documents differ from a rebuild", len(diffs))
	}
	fmt.Fprintln(stderr, "the read models equal a rebuild from the log")
	return nil
}

// rebuildRemote asks the running service to rebuild and follows the
// progress until every rebuild has swapped in or failed.
func rebuildRemote(c remote, names []string, stderr io.Writer) error {
	var before readapi.Page[replay.RebuildState]
	if err := c.decode(http.MethodGet, "/v1/admin/rebuilds", nil, &before, true); err != nil {
		return fmt.Errorf("ask the service for its rebuilds: %w", err)
	}
	prev := map[string]int{}
	for _, s := range before.Items {
		prev[s.Projection] = s.Generation
	}
	var started readapi.RebuildStarted
	if err := c.decode(http.MethodPost, "/v1/admin/rebuilds", readapi.RebuildRequest{Projections: names}, &started, true); err != nil {
		return err
	}
	report := progressBar(stderr)
	for {
		var states readapi.Page[replay.RebuildState]
		if err := c.decode(http.MethodGet, "/v1/admin/rebuilds", nil, &states, true); err != nil {
			return err
		}
		finished, failed := 0, []string{}
		for _, s := range states.Items {
			if !slices.Contains(started.Projections, s.Projection) || s.Generation <= prev[s.Projection] {
				continue
			}
			switch {
			case s.Running():
				report(s.Projection, s.Done, s.Total, s.Rate)
			case s.State == replay.Rebuilding:
				// Gone quiet: the service stopped during the rebuild.
				finished++
				failed = append(failed, s.Projection+": the service stopped answering for it")
			case s.State == replay.Swapped:
				finished++
			case s.State == replay.Failed:
				finished++
				failed = append(failed, s.Projection+": "+s.Error)
			}
		}
		if finished == len(started.Projections) {
			fmt.Fprintln(stderr)
			if len(failed) > 0 {
				return fmt.Errorf("rebuild failed; the live read models are as they were: %s", strings.Join(failed, "; "))
			}
			fmt.Fprintf(stderr, "rebuilt and swapped in %v\n", started.Projections)
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// progressBar prints "name: done/total events (rate/s, time left)" on one
// line, at most five times a second.
func progressBar(w io.Writer) replay.Progress {
	var last time.Time
	return func(name string, done, total uint64, rate float64) {
		if time.Since(last) < 200*time.Millisecond && done < total {
			return
		}
		last = time.Now()
		left := time.Duration(0)
		if rate > 0 && total > done {
			left = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
		}
		fmt.Fprintf(w, "\r%-10s %d/%d events (%.0f events/s, %s left)   ", name, done, total, rate, left)
	}
}
