package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is everything serve needs.
type config struct {
	Addr           string
	DataDir        string
	EventStore     string
	ReadModels     string
	PGSchema       string
	Relay          string
	SMTP           string
	MailFrom       string
	SigningKeyFile string
	WaitTimeout    time.Duration
	LogLevel       string
	SnapshotEvery  int
	// CommandCache is the memory, in bytes, that command handlers may keep
	// of recently used aggregates' folded states.
	CommandCache int64
	// AggregateSnapshotEvery saves an aggregate's state every so many
	// events that commands fold (0: never).
	AggregateSnapshotEvery int
	// InvitationsPerDay caps the invitation mails one person may cause in
	// a day (0: no cap).
	InvitationsPerDay int
	// FeedsPerAccount caps the change feeds one account streams at once.
	FeedsPerAccount int
	// MemoryLimit is a soft limit on the memory Go manages (0: nine
	// tenths of the container's limit, if any; see decideMemory).
	MemoryLimit int64
}

// flagSet registers a flag whose default comes from an environment variable.
type flagSet struct {
	*flag.FlagSet
}

func (f flagSet) str(p *string, name, env, def, help string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", help, env))
}

func (f flagSet) dur(p *time.Duration, name, env string, def time.Duration, help string) {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		}
	}
	f.DurationVar(p, name, def, fmt.Sprintf("%s (env %s)", help, env))
}

func (f flagSet) num(p *int, name, env string, def int, help string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		}
	}
	f.IntVar(p, name, def, fmt.Sprintf("%s (env %s)", help, env))
}

func (f flagSet) bytes(p *int64, name, env string, def int64, help string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := parseBytes(v); err == nil {
			def = n
		}
	}
	*p = def
	f.Func(name, fmt.Sprintf("%s, in bytes or with KiB, MiB or GiB (env %s) (default %s)", help, env, formatBytes(def)), func(s string) error {
		n, err := parseBytes(s)
		*p = n
		return err
	})
}

// parseBytes reads a size such as 67108864, 64MiB or 512KiB.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

func newFlags(name string, out io.Writer) flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return flagSet{fs}
}

func parseServe(args []string, stderr io.Writer) (config, error) {
	var c config
	f := newFlags("serve", stderr)
	f.Usage = func() {
		fmt.Fprint(stderr, "Usage: shareledger serve [flags]\n\nRuns the command API, the read API and the projections.\n"+
			"With no flags it keeps everything in ./shareledger-data: events in Pebble (events/), read models in bbolt,\n"+
			"the signing key, and mails as .eml files in outbox/.\n\nFlags:\n")
		f.PrintDefaults()
	}
	f.str(&c.Addr, "addr", "SHARELEDGER_ADDR", "127.0.0.1:8080", "host:port to listen on")
	f.str(&c.DataDir, "data", "SHARELEDGER_DATA", "shareledger-data", "folder for the embedded stores, the signing key and the mail outbox")
	f.str(&c.EventStore, "eventstore", "SHARELEDGER_EVENTSTORE", "", "event store: empty for the embedded Pebble store in the data folder, a postgres:// URL, or an EventStoreDB connection string (esdb://host:2113?tls=false, esdb+discover://...)")
	f.str(&c.ReadModels, "readmodels", "SHARELEDGER_READMODELS", "", "read-model store: empty for embedded bbolt, or a postgres:// URL")
	f.str(&c.PGSchema, "pg-schema", "SHARELEDGER_PG_SCHEMA", "shareledger", "PostgreSQL schema for the event store and read models")
	f.str(&c.Relay, "relay", "SHARELEDGER_RELAY", "", "nats://host:4222 to publish every event to NATS JetStream (stream shareledger-events) for other systems; empty: off")
	f.str(&c.SMTP, "smtp", "SHARELEDGER_SMTP", "", "smtp://[user:password@]host:port to send mail; empty writes .eml files to <data>/outbox")
	f.str(&c.MailFrom, "mail-from", "SHARELEDGER_MAIL_FROM", "shareledger@localhost", "sender address of notification mails")
	f.str(&c.SigningKeyFile, "signing-key-file", "SHARELEDGER_SIGNING_KEY_FILE", "", "file holding the token signing key (default <data>/signing.key, created on first start)")
	f.dur(&c.WaitTimeout, "wait-timeout", "SHARELEDGER_WAIT_TIMEOUT", 5*time.Second, "how long a read waits for the position it asks for")
	f.num(&c.SnapshotEvery, "snapshot-every", "SHARELEDGER_SNAPSHOT_EVERY", 1000, "snapshot the read models for point-in-time answers every so many events (0: never); a snapshot is one entry, and an answer replays about this many events at most")
	f.bytes(&c.CommandCache, "command-cache", "SHARELEDGER_COMMAND_CACHE", 64<<20, "memory kept of recently used aggregates' states for commands, evicting the least recently used")
	f.num(&c.AggregateSnapshotEvery, "aggregate-snapshot-every", "SHARELEDGER_AGGREGATE_SNAPSHOT_EVERY", 1000, "save an aggregate's state for commands every so many events (a large state waits for one event per 256 bytes of it), so a cold load folds only the events after it (0: never)")
	f.num(&c.FeedsPerAccount, "feeds-per-account", "SHARELEDGER_FEEDS_PER_ACCOUNT", 4, "change feeds (GET /v1/events as server-sent events) one account may stream at once; more are refused with 429")
	f.num(&c.InvitationsPerDay, "invitations-per-day", "SHARELEDGER_INVITATIONS_PER_DAY", 500, "invitation mails one person may cause in 24 hours; more invitations are refused with 429 (0: no limit)")
	f.bytes(&c.MemoryLimit, "memory-limit", "SHARELEDGER_MEMORY_LIMIT", 0, "soft limit on the memory the Go runtime manages, past which the garbage collector works harder (0: nine tenths of the container's memory limit if it has one, else none; GOMEMLIMIT wins)")
	f.str(&c.LogLevel, "log-level", "SHARELEDGER_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := f.Parse(args); err != nil {
		return c, err
	}
	if f.NArg() > 0 {
		return c, fmt.Errorf("serve: unexpected arguments %q", f.Args())
	}
	c.fill()
	return c, c.validate()
}

func (c *config) fill() {
	if c.SigningKeyFile == "" {
		c.SigningKeyFile = filepath.Join(c.DataDir, "signing.key")
	}
}

// validate reports every problem at once.
func (c config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: %v", c.Addr, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data must name a folder"))
	}
	if c.EventStore != "" && !isPostgres(c.EventStore) && !isESDB(c.EventStore) {
		errs = append(errs, fmt.Errorf("--eventstore %q: want empty (embedded), a postgres:// URL or an esdb:// connection string", c.EventStore))
	}
	if c.ReadModels != "" && !isPostgres(c.ReadModels) {
		errs = append(errs, fmt.Errorf("--readmodels %q: want empty (embedded) or a postgres:// URL", c.ReadModels))
	}
	if c.Relay != "" && !strings.HasPrefix(c.Relay, "nats://") {
		errs = append(errs, fmt.Errorf("--relay %q: want nats://host:port", c.Relay))
	}
	if c.SMTP != "" && !strings.HasPrefix(c.SMTP, "smtp://") {
		errs = append(errs, fmt.Errorf("--smtp %q: want smtp://host:port", c.SMTP))
	}
	if c.WaitTimeout <= 0 {
		errs = append(errs, errors.New("--wait-timeout must be positive"))
	}
	if c.AggregateSnapshotEvery < 0 {
		errs = append(errs, errors.New("--aggregate-snapshot-every must be 0 (never) or more"))
	}
	if c.SnapshotEvery < 0 {
		errs = append(errs, errors.New("--snapshot-every must be 0 (never) or more"))
	}
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isESDB(url string) bool {
	return strings.HasPrefix(url, "esdb://") || strings.HasPrefix(url, "esdb+discover://")
}

func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

func (c config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}
