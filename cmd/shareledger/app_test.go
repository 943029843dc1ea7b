package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore/esdb/esdbtest"
	"github.com/shareledger/shareledger/projections/postgres/pgtest"
)

// backend names a read-model store for the end-to-end tests.
type backend struct {
	name   string
	config func(t testing.TB, c *config)
}

var backends = []backend{
	{"embedded", func(testing.TB, *config) {}},
	{"postgres read models", func(t testing.TB, c *config) {
		url, schema := pgtest.Schema(t)
		c.ReadModels, c.PGSchema = url, schema
	}},
	{"eventstoredb (protocol double) and postgres read models", func(t testing.TB, c *config) {
		url, schema := pgtest.Schema(t)
		c.EventStore, c.ReadModels, c.PGSchema = esdbtest.Start(t).URL(), url, schema
	}},
	{"postgres everything, relayed to NATS", func(t testing.TB, c *config) {
		url, schema := pgtest.Schema(t)
		c.EventStore, c.ReadModels, c.PGSchema = url, url, schema
		c.Relay = os.Getenv("NATS_URL") // set by .ci/run; empty: no relay
	}},
}

func testConfig(t testing.TB, b backend) config {
	c := config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), MailFrom: "shareledger@test", WaitTimeout: 10 * time.Second, LogLevel: "warn",
		CommandCache: 16 << 20, InvitationsPerDay: 500,
		AggregateSnapshotEvery: 3} // small, so the tests go through snapshots on every store
	b.config(t, &c)
	c.fill()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// server is a running service.
type server struct {
	t    testing.TB
	cfg  config
	base string
	stop func()
}

func start(t testing.TB, cfg config) *server {
	t.Helper()
	a, err := openApp(context.Background(), cfg, slog.New(slog.NewTextHandler(testLog(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, ln) }()
	s := &server{t: t, cfg: cfg, base: "http://" + ln.Addr().String()}
	stopped := false
	s.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	t.Cleanup(s.stop)
	return s
}

// partnered opens ACME (Alice) and RentCo (Bob), and makes them rental
// partners at ACME's request.
func (s *server) partnered() (alice, bob client) {
	alice, bob = s.openAccounts()
	alice.command("POST", "/v1/partners", map[string]any{"organization": "RentCo", "type": "rental"})
	bob.command("POST", "/v1/partners/ACME/approve", nil)
	return alice, bob
}

// openAccounts opens ACME (Alice) and RentCo (Bob).
func (s *server) openAccounts() (alice, bob client) {
	alice, bob = s.as("alice@acme.test", "acme"), s.as("bob@rentco.test", "rentco")
	alice.command("POST", "/v1/accounts", map[string]any{"organization": "ACME", "name": "Alice"})
	bob.command("POST", "/v1/accounts", map[string]any{"organization": "RentCo", "name": "Bob"})
	return alice, bob
}

// as is a client acting as one user of one account.
type client struct {
	s     *server
	token string
}

func (s *server) as(user, account string) client {
	s.t.Helper()
	keys, err := httpapi.LoadOrCreateKeys(s.cfg.SigningKeyFile)
	if err != nil {
		s.t.Fatal(err)
	}
	tok, err := keys.Mint(domain.UserID(user), domain.AccountID(account), time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return client{s: s, token: tok}
}

// operator is a client with an operator's token.
func (s *server) operator() client {
	s.t.Helper()
	keys, err := httpapi.LoadOrCreateKeys(s.cfg.SigningKeyFile)
	if err != nil {
		s.t.Fatal(err)
	}
	tok, err := keys.MintOperator(time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return client{s: s, token: tok}
}

// response is an answer with its decoded body.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero() // decode into a clean value, never merge with an old one
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problemCode is the machine code of a problem+json answer.
func (r response) problemCode(t testing.TB) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
		Type   string `json:"type"`
		Title  string `json:"title"`
	}
	r.decode(t, &p)
	if p.Status != r.status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem document incomplete: %s", r.body)
	}
	return p.Code
}

func (c client) do(method, path string, body any, headers ...string) response {
	c.s.t.Helper()
	out, err := c.send(method, path, body, headers...)
	if err != nil {
		c.s.t.Errorf("contract: %v", err)
	}
	return out
}

// send sends a request and says how it and its answer disagree with the
// OpenAPI description, if they do (contractError).
func (c client) send(method, path string, body any, headers ...string) (response, error) {
	c.s.t.Helper()
	req, err := newRequest(c, method, path, body, headers...)
	if err != nil {
		c.s.t.Fatal(err)
	}
	var sent []byte
	if req.GetBody != nil {
		rd, _ := req.GetBody()
		sent, _ = io.ReadAll(rd)
	}
	req = req.WithContext(context.WithValue(req.Context(), checkedByDo{}, true))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := readAll(res)
	out := response{status: res.StatusCode, header: res.Header, body: b}
	return out, contractError(req, sent, out.status, out.header, out.body)
}

func readAll(res *http.Response) ([]byte, error) { return io.ReadAll(res.Body) }

func newRequest(c client, method, path string, body any, headers ...string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.s.base+path, rd)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, nil
}

// command sends a command that must succeed and returns its result.
func (c client) command(method, path string, body any, headers ...string) commandResult {
	c.s.t.Helper()
	r := c.do(method, path, body, headers...)
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		c.s.t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	var res commandResult
	r.decode(c.s.t, &res)
	return res
}

type commandResult struct {
	ID       string `json:"id"`
	Position string `json:"position"`
	Replayed bool   `json:"replayed"`
}

// read GETs path once the read models reached pos, into v.
func (c client) read(path, pos string, v any) {
	c.s.t.Helper()
	sep := "?"
	if bytes.ContainsRune([]byte(path), '?') {
		sep = "&"
	}
	r := c.do(http.MethodGet, path+sep+"position="+pos, nil)
	if r.status != http.StatusOK {
		c.s.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	r.decode(c.s.t, v)
}

// post POSTs body to a read route (a batch of questions) once the read
// models reached pos, into v.
func (c client) post(path, pos string, body, v any) {
	c.s.t.Helper()
	r := c.do(http.MethodPost, path+"?position="+pos, body)
	if r.status != http.StatusOK {
		c.s.t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	r.decode(c.s.t, v)
}

func mails(t testing.TB, cfg config) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cfg.DataDir, "outbox", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// testLog is where the services under test log: nowhere, unless
// SHARELEDGER_TEST_LOG is set.
func testLog() io.Writer {
	if os.Getenv("SHARELEDGER_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
