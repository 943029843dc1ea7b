package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain/catalog"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
	"github.com/shareledger/shareledger/projections/devices"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/partners"
	"github.com/shareledger/shareledger/readapi"
)

var listening = regexp.MustCompile(`addr=http://(\S+)`)

// process is the shareledger binary running serve in its own process.
type process struct {
	cmd  *exec.Cmd
	base string
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the shareledger binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shareledger-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "shareledger")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func spawn(t *testing.T, bin, data string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "info"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &process{cmd: cmd, base: "http://" + a}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not say where it listens")
	}
	return nil
}

// TestCrashLosesNoAcknowledgedCommand kills serve (SIGKILL) while clients
// write, on the embedded stores and on PostgreSQL, starts it again, and
// checks that every command it acknowledged is there, that the outbox
// holds each mail once, and that replay verify finds the read models equal
// to a rebuild from the log.
func TestCrashLosesNoAcknowledgedCommand(t *testing.T) {
	// The embedded stores, and PostgreSQL for events and read models.
	for _, b := range []backend{backends[0], backends[3]} {
		t.Run(b.name, func(t *testing.T) {
			bin := binary(t)
			cfg := testConfig(t, b)
			data := cfg.DataDir
			var stores []string
			if cfg.EventStore != "" {
				stores = []string{"--eventstore", cfg.EventStore, "--readmodels", cfg.ReadModels, "--pg-schema", cfg.PGSchema}
			}
			p := spawn(t, bin, data, stores...)
			s := &server{t: t, cfg: config{SigningKeyFile: filepath.Join(data, "signing.key")}, base: p.base}
			alice, bob := s.as("alice@acme.test", "acme"), s.as("bob@rentco.test", "rentco")
			alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
			bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
			alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental", "notify": []string{"bob@rentco.test"}})
			bob.command("POST", "/v1/partners/ACME/approve", nil)

			// Writers share devices until the process dies under them.
			var mu sync.Mutex
			var acked []string
			var last eventstore.Position
			enough := make(chan struct{})
			var once sync.Once
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					for i := 0; ; i++ {
						dev, pos, ok := registerAndShare(bob, fmt.Sprintf("S%d-%d", w, i))
						if !ok {
							return
						}
						mu.Lock()
						acked = append(acked, dev)
						if last.Less(pos) {
							last = pos
						}
						if len(acked) >= 60 {
							once.Do(func() { close(enough) })
						}
						mu.Unlock()
					}
				})
			}
			<-enough
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = p.cmd.Wait()
			wg.Wait()

			p = spawn(t, bin, data, stores...)
			s.base = p.base
			var mine devicePage
			alice.read("/v1/devices?limit=500", last.String(), &mine)
			seen := map[string]bool{}
			for _, d := range mine.Items {
				seen[string(d.ID)] = true
			}
			for _, id := range acked {
				if !seen[id] {
					t.Fatalf("device %s was acknowledged as shared before the crash but is not on ACME's page after it", id)
				}
			}
			var status readapi.Page[readapi.ProjectionStatus]
			alice.read("/v1/projections", last.String(), &status)
			head := status.Items[0].Head
			alice.read("/v1/projections", head.String(), &status)
			if n, _ := filepath.Glob(filepath.Join(data, "outbox", "*.eml")); len(n) != 1 {
				t.Fatalf("%d mails after the crash, want 1", len(n))
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("serve did not stop cleanly on SIGTERM: %v", err)
			}
			var out, errOut bytes.Buffer
			if err := run(context.Background(), append([]string{"replay", "verify", "--data", data}, stores...), &out, &errOut); err != nil {
				t.Fatalf("replay verify after the crash: %v\n%s\n%s", err, out.String(), errOut.String())
			}
			t.Logf("%d devices registered and shared (two acknowledged commands each) before kill -9, all %d found after the restart (log head %s); replay verify: no difference",
				len(acked), len(acked), head)
			label := "embedded (Pebble, bbolt)"
			if cfg.EventStore != "" {
				label = "PostgreSQL (events and read models)"
			}
			writeReport(t, "crash-"+strings.Fields(b.name)[0], fmt.Sprintf("| %s | 6 | %d | %d | %d | 1 | no difference |\n", label, 2*len(acked), 2*len(acked), head.Commit))
			if cfg.EventStore == "" {
				es, err := eventpebble.Open(eventpebble.Config{Dir: filepath.Join(data, "events")})
				if err != nil {
					t.Fatal(err)
				}
				defer es.Close()
				live, err := rmbolt.Open(filepath.Join(data, "readmodels.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer live.Close()
				compareWithRebuild(t, es, live)
			}
		})
	}
}

// registerAndShare registers a device as c and shares it with ACME; ok
// is false when either command was not acknowledged (the service may be
// dying).
func registerAndShare(c client, serial string) (device string, shared eventstore.Position, ok bool) {
	r := c.tryDo("POST", "/v1/devices", map[string]any{"serial": serial, "name": "D"})
	if r == nil || r.status != http.StatusCreated {
		return "", shared, false
	}
	var dev commandResult
	_ = json.Unmarshal(r.body, &dev)
	r = c.tryDo("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{dev.ID}})
	if r == nil || r.status != http.StatusOK {
		return dev.ID, shared, false
	}
	var res commandResult
	_ = json.Unmarshal(r.body, &res)
	shared, _ = eventstore.ParsePosition(res.Position)
	return dev.ID, shared, true
}

// compareWithRebuild replays the log into fresh storage and checks that
// the live read models hold the same documents.
func compareWithRebuild(t *testing.T, es eventstore.Store, live projections.Store) {
	t.Helper()
	ctx := context.Background()
	fresh, err := rmbolt.Open(filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, p := range []projections.Projection{directory.Projection{}, devices.Projection{}, partners.Projection{}} {
		if _, err := projections.CatchUp(ctx, es, fresh, catalog.New(), p, eventstore.Position{}, 0); err != nil {
			t.Fatal(err)
		}
	}
	dump := func(s projections.Store) map[string]string {
		out := map[string]string{}
		err := s.View(ctx, func(r projections.Reader) error {
			for _, table := range []string{directory.Accounts, directory.Users, directory.Projects, devices.Table, partners.Table} {
				if err := r.Scan(ctx, table, projections.Page{}, func(k string, doc []byte) error {
					// Stores may spell the same JSON differently (jsonb
					// reorders keys): compare canonical forms.
					var v any
					if err := json.Unmarshal(doc, &v); err != nil {
						return err
					}
					canon, _ := json.Marshal(v)
					out[table+" "+k] = string(canon)
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
		return out
	}
	want, got := dump(fresh), dump(live)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("live read models hold %d documents, a rebuild %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s differs from a rebuild:\nlive    %s\nrebuilt %s", k, got[k], v)
		}
	}
}

// tryDo is do for a server that may die: nil when the request failed.
func (c client) tryDo(method, path string, body any) *response {
	req, err := newRequest(c, method, path, body)
	if err != nil {
		return nil
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var b []byte
	b, err = readAll(res)
	if err != nil {
		return nil
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}
