package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/replay"
)

const replayUsage = `Usage:
  shareledger replay verify [flags]                 rebuild every read model into scratch storage
                                                    and list how it differs from the live one
  shareledger replay rebuild [flags] [projection...] rebuild projections (default: all with tables)
                                                    into a copy of the read models, then swap it in

With the embedded stores, stop the service first (it holds the files). A rebuild that fails leaves
the live read models as they were.

Flags:
`

// replayCmd runs the replay subcommands.
func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("replay", stderr)
	var cfg config
	f.Usage = func() { fmt.Fprint(stderr, replayUsage); f.PrintDefaults() }
	f.str(&cfg.DataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "data folder of the embedded stores")
	f.str(&cfg.EventStore, "eventstore", "SHARELEDGER_EVENTSTORE", "", "event store, as for serve")
	f.str(&cfg.ReadModels, "readmodels", "SHARELEDGER_READMODELS", "", "read-model store, as for serve")
	f.str(&cfg.PGSchema, "pg-schema", "SHARELEDGER_PG_SCHEMA", "shareledger", "PostgreSQL schema")
	if len(args) == 0 {
		f.Usage()
		return errors.New("name verify or rebuild")
	}
	action := args[0]
	if err := f.Parse(args[1:]); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := catalog.New()
	es, live, err := openStores(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	defer es.Close()
	var all []replay.Tabled
	for _, p := range projectionList(notify.Dir{Path: os.DevNull}) {
		if t, ok := p.(replay.Tabled); ok {
			all = append(all, t)
		}
	}
	report := progressBar(stderr)
	switch action {
	case "verify":
		defer live.Close()
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
		ps := make([]projections.Projection, len(all))
		for i, p := range all {
			ps[i] = p
		}
		diffs, err := replay.Verify(ctx, es, live, scratch, reg, ps, report)
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
	case "rebuild":
		chosen := all
		if f.NArg() > 0 {
			chosen = nil
			for _, name := range f.Args() {
				i := slices.IndexFunc(all, func(p replay.Tabled) bool { return p.Name() == name })
				if i < 0 {
					_ = live.Close()
					return fmt.Errorf("no projection %q with read models (have %v)", name, names(all))
				}
				chosen = append(chosen, all[i])
			}
		}
		return rebuildEmbedded(ctx, cfg, live, es, reg, chosen, report, stderr)
	}
	_ = live.Close()
	f.Usage()
	return fmt.Errorf("unknown replay action %q", action)
}

// rebuildEmbedded rebuilds into a copy of the embedded read models and
// renames it over the live file only once it has caught up: a rebuild that
// fails leaves the live file as it was.
func rebuildEmbedded(ctx context.Context, cfg config, live projections.Store, es eventstore.Store, reg *domain.Registry, chosen []replay.Tabled, report replay.Progress, stderr io.Writer) error {
	embedded, ok := live.(*rmbolt.Store)
	if !ok {
		_ = live.Close()
		return errors.New("replay rebuild works on the embedded read models for now; with PostgreSQL read models, rebuild into a new --pg-schema and point the service at it")
	}
	path := embeddedReadModels(cfg)
	next := path + ".rebuild"
	_ = os.Remove(next)
	err := embedded.Snapshot(next)
	_ = live.Close()
	if err != nil {
		return fmt.Errorf("copy the read models: %w", err)
	}
	target, err := rmbolt.Open(next)
	if err != nil {
		_ = os.Remove(next)
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = target.Close()
			_ = os.Remove(next)
		}
	}()
	ps := make([]projections.Projection, len(chosen))
	for i, p := range chosen {
		if err := replay.Reset(ctx, target, p); err != nil {
			return fmt.Errorf("reset %s: %w", p.Name(), err)
		}
		ps[i] = p
	}
	if err := replay.Rebuild(ctx, es, target, reg, ps, report); err != nil {
		return err
	}
	done = true
	if err := target.Close(); err != nil {
		_ = os.Remove(next)
		return err
	}
	if err := os.Rename(next, path); err != nil {
		return fmt.Errorf("swap in the rebuilt read models: %w", err)
	}
	fmt.Fprintf(stderr, "\nrebuilt %v\n", names(chosen))
	return nil
}

func names(ps []replay.Tabled) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
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
