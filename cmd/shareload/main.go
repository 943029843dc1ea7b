// Command shareload drives a running shareledger service with the device
// sharing workflow and reports throughput and latency per operation. It
// only talks to loopback addresses and stops after --duration.
//
//	go run ./cmd/shareledger serve &                 # in one terminal
//	go run ./cmd/shareload --duration 20s --workers 16
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "shareload:", err)
		}
		os.Exit(2)
	}
}

type options struct {
	base     string
	keyFile  string
	duration time.Duration
	workers  int
	pairs    int
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("shareload", flag.ContinueOnError)
	fs.StringVar(&o.base, "url", "http://127.0.0.1:8080", "the service (loopback addresses only)")
	data := fs.String("data", "shareledger-data", "the service's data folder, for its signing key")
	fs.StringVar(&o.keyFile, "signing-key-file", "", "signing key file (default <data>/signing.key)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send load")
	fs.IntVar(&o.workers, "workers", 16, "concurrent clients")
	fs.IntVar(&o.pairs, "pairs", 4, "partner account pairs the clients spread over")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.keyFile == "" {
		o.keyFile = filepath.Join(*data, "signing.key")
	}
	u, err := url.Parse(o.base)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--url %s: shareload only sends load to loopback addresses", o.base)
	}
	if o.workers < 1 || o.pairs < 1 || o.duration <= 0 || o.duration > time.Hour {
		return errors.New("--workers and --pairs must be positive, --duration between 0 and 1h")
	}
	keys, err := httpapi.LoadOrCreateKeys(o.keyFile)
	if err != nil {
		return err
	}
	l := &load{o: o, keys: keys, client: &http.Client{Timeout: 30 * time.Second}, stats: map[string]*stat{}}
	pairs, err := l.setup()
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range o.workers {
		wg.Go(func() { l.work(ctx, pairs[w%len(pairs)]) })
	}
	wg.Wait()
	l.report(out, time.Since(start))
	return nil
}

type load struct {
	o      options
	keys   *httpapi.Keys
	client *http.Client
	mu     sync.Mutex
	stats  map[string]*stat
}

type stat struct {
	lat    []time.Duration
	errors int
}

type pair struct {
	owner, partner, ownerOrg, partnerOrg string // tokens and short names
	project                              string
}

func (l *load) token(user, acc string) string {
	t, err := l.keys.Mint(domain.UserID(user), domain.AccountID(acc), 2*time.Hour)
	if err != nil {
		panic(err)
	}
	return t
}

// setup opens the accounts of every pair, partners them and gives the
// partner a project.
func (l *load) setup() ([]pair, error) {
	run := make([]byte, 3)
	_, _ = rand.Read(run)
	var pairs []pair
	for i := range l.o.pairs {
		p := pair{ownerOrg: fmt.Sprintf("rent%d-%x", i, run), partnerOrg: fmt.Sprintf("build%d-%x", i, run)}
		p.owner, p.partner = l.token("admin@"+p.ownerOrg+".load", p.ownerOrg), l.token("admin@"+p.partnerOrg+".load", p.partnerOrg)
		steps := []struct {
			tok, path string
			body      any
		}{
			{p.owner, "/v1/accounts", map[string]string{"organization": p.ownerOrg, "name": "Owner"}},
			{p.partner, "/v1/accounts", map[string]string{"organization": p.partnerOrg, "name": "Partner"}},
			{p.partner, "/v1/partners", map[string]any{"organization": p.ownerOrg, "type": "rental"}},
			{p.owner, "/v1/partners/" + p.partnerOrg + "/approve", nil},
		}
		for _, s := range steps {
			if _, err := l.call(context.Background(), "", http.MethodPost, s.path, s.tok, s.body); err != nil {
				return nil, err
			}
		}
		res, err := l.call(context.Background(), "", http.MethodPost, "/v1/projects", p.partner, map[string]string{"name": "Site"})
		if err != nil {
			return nil, err
		}
		p.project = res["id"].(string)
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// work repeats the three steps of device sharing and a read of the
// partner's My Devices at the last position, until ctx ends.
func (l *load) work(ctx context.Context, p pair) {
	for ctx.Err() == nil {
		res, err := l.call(ctx, "register device", http.MethodPost, "/v1/devices", p.owner, map[string]string{"serial": "S", "name": "Rover"})
		if err != nil {
			continue
		}
		dev := res["id"].(string)
		if _, err := l.call(ctx, "share device", http.MethodPost, "/v1/partners/"+p.partnerOrg+"/devices", p.owner, map[string]any{"devices": []string{dev}}); err != nil {
			continue
		}
		if _, err := l.call(ctx, "assign to project", http.MethodPost, "/v1/devices/"+dev+"/projects", p.partner, map[string]string{"project": p.project}); err != nil {
			continue
		}
		res, err = l.call(ctx, "send design", http.MethodPost, "/v1/devices/"+dev+"/designs", p.partner, map[string]string{"project": p.project, "design": "deck.dxf"})
		if err != nil {
			continue
		}
		_, _ = l.call(ctx, "read own write", http.MethodGet, "/v1/devices/"+dev+"?position="+res["position"].(string), p.partner, nil)
	}
}

func (l *load) call(ctx context.Context, op, method, path, token string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.o.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	key := make([]byte, 12)
	_, _ = rand.Read(key)
	req.Header.Set("Idempotency-Key", hex.EncodeToString(key))
	began := time.Now()
	res, err := l.client.Do(req)
	took := time.Since(began)
	if err != nil {
		if ctx.Err() == nil {
			l.record(op, took, true)
		}
		return nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		l.record(op, took, true)
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	l.record(op, took, false)
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

func (l *load) record(op string, took time.Duration, failed bool) {
	if op == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats[op]
	if s == nil {
		s = &stat{}
		l.stats[op] = s
	}
	if failed {
		s.errors++
		return
	}
	s.lat = append(s.lat, took)
}

func (l *load) report(out io.Writer, elapsed time.Duration) {
	ops := make([]string, 0, len(l.stats))
	for op := range l.stats {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	fmt.Fprintf(out, "%d workers over %d partner pairs for %s against %s\n\n", l.o.workers, l.o.pairs, elapsed.Round(time.Millisecond), l.o.base)
	fmt.Fprintf(out, "| operation | ok | errors | per second | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|---|---|\n")
	total := 0
	for _, op := range ops {
		s := l.stats[op]
		slices.Sort(s.lat)
		total += len(s.lat)
		q := func(f float64) time.Duration {
			if len(s.lat) == 0 {
				return 0
			}
			return s.lat[min(len(s.lat)-1, int(f*float64(len(s.lat))))].Round(10 * time.Microsecond)
		}
		fmt.Fprintf(out, "| %s | %d | %d | %.0f | %s | %s | %s | %s |\n", op, len(s.lat), s.errors,
			float64(len(s.lat))/elapsed.Seconds(), q(0.50), q(0.95), q(0.99), q(1))
	}
	fmt.Fprintf(out, "\n%d requests, %.0f per second\n", total, float64(total)/elapsed.Seconds())
}
