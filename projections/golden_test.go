package projections_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/notify"
	"github.com/shareledger/shareledger/projections/partners"
	rmpostgres "github.com/shareledger/shareledger/projections/postgres"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
	"github.com/shareledger/shareledger/projections/rights"
	"github.com/shareledger/shareledger/projections/team"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// storedEvent is one line of a testdata/*.jsonl event log.
type storedEvent struct {
	Stream  string          `json:"stream"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
	Meta    eventstore.Meta `json:"meta"`
}

type discardMail struct{}

func (discardMail) Send(context.Context, notify.Mail) error { return nil }

// Each testdata/*.jsonl event log, replayed through every projection,
// yields exactly the documents in the matching .golden file: the sharing
// surface (sharing.jsonl), rights for subusers (rights.jsonl: a hierarchy
// with a moved node and placed members, public and private collections,
// shares given and revoked, roles and direct rights, another account's
// items) and cloud project teams (team.jsonl: invitations of people with
// and without an identity, a role change, jobs assigned, renamed and
// deleted, stylesheets, a removal, a deleted project).
func TestGoldenReadModels(t *testing.T) {
	logs, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no event logs in testdata: %v", err)
	}
	ctx := context.Background()
	tables := []string{directory.Accounts, directory.Users, directory.Projects, directory.Memberships, devices.Table, devices.Releases, partners.Table, notify.Table,
		rights.Users, rights.Roles, rights.Items, rights.Shares, rights.In, rights.Members, rights.Placed, rights.Parents, rights.Known, rights.KnownByKind, rights.MemberShares, rights.SharedWith, rights.Held, rights.Admins, rights.Holders, rights.Direct, rights.Paths, rights.Children, rights.Grams, rights.GramCounts, rights.OnNode,
		team.Members, team.Jobs, team.Projects, team.Mine, team.MyJobs, team.Stylesheets}
	old := 0
	for _, log := range logs {
		t.Run(filepath.Base(log), func(t *testing.T) {
			dir := t.TempDir()
			es, err := eventpebble.Open(eventpebble.Config{Dir: filepath.Join(dir, "e"), NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer es.Close()
			f, err := os.Open(log)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var e storedEvent
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("%s: %v", sc.Text(), err)
				}
				if e.Type == "PartnerRequested" && e.Version < (partnership.PartnerRequested{}).EventVersion() {
					old++ // stored before version 2: replayed through the upcaster
				}
				if _, err := es.Append(ctx, e.Stream, eventstore.Any(), eventstore.Event{ID: e.ID, Type: e.Type, Version: e.Version, Data: e.Data, Meta: e.Meta}); err != nil {
					t.Fatal(err)
				}
			}
			_ = f.Close()
			models, err := rmbolt.Open(filepath.Join(dir, "m.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer models.Close()
			got, canonical := project(t, es, models, tables, 0)
			// PostgreSQL holds the same documents (as jsonb, which orders
			// their keys its own way), built through its reads ahead, two
			// events a transaction so that most reads cross them.
			url, schema := pgtest.Schema(t)
			pg, err := rmpostgres.Open(ctx, rmpostgres.Config{URL: url, Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close()
			if _, pgCanonical := project(t, es, pg, tables, 2); pgCanonical != canonical {
				t.Errorf("PostgreSQL's read models differ from the embedded ones:\n%s", pgCanonical)
			}
			golden := strings.TrimSuffix(log, ".jsonl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./projections/ -run Golden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read models differ from %s (rerun with -update if the change is intended):\n%s", golden, got)
			}
		})
	}
	if old == 0 {
		t.Fatal("no log holds an event of an older version; keep one so that upcasting stays tested")
	}
}

// project replays es through every projection into models, page events a
// transaction (0: the default), and returns
// the documents of tables as stored (indented) and in a canonical form
// (keys sorted), for stores that keep JSON in forms of their own.
func project(t *testing.T, es eventstore.Store, models projections.Store, tables []string, page int) (stored []byte, canonical string) {
	t.Helper()
	ctx := context.Background()
	ps := []projections.Projection{directory.Projection{}, devices.Projection{}, partners.Projection{}, rights.Projection{}, team.Projection{},
		notify.Projection{Mailer: discardMail{}, Now: func() time.Time { return time.Unix(1700000000, 0) }}}
	for _, p := range ps {
		if _, err := projections.CatchUp(ctx, es, models, catalog.New(), p, eventstore.Position{}, page); err != nil {
			t.Fatal(err)
		}
	}
	var got, canon bytes.Buffer
	err := models.View(ctx, func(r projections.Reader) error {
		for _, table := range tables {
			if err := r.Scan(ctx, table, projections.Page{}, func(key string, doc []byte) error {
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, doc, "", "  "); err != nil {
					return err
				}
				got.WriteString("== " + table + " " + key + "\n" + pretty.String() + "\n")
				var v any
				if err := json.Unmarshal(doc, &v); err != nil {
					return err
				}
				sorted, err := json.Marshal(v) // maps marshal with their keys sorted
				if err != nil {
					return err
				}
				canon.WriteString("== " + table + " " + key + "\n" + string(sorted) + "\n")
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got.Bytes(), canon.String()
}
