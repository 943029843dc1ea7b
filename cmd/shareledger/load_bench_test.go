package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCommandsOverHTTP drives the whole service (embedded stores,
// fsync on) over HTTP from 64 concurrent clients spread over 8 partner
// pairs, each repeating the product's workflow: the owner registers a
// device and shares it, the partner assigns it to a project and sends it a
// design. It reports commands per second; run it with -cpuprofile to see
// where the time goes. The client bypasses the contract check the other
// tests make, so the profile is the service's.
//
//	go test -run '^$' -bench CommandsOverHTTP -benchtime 20000x -cpuprofile cpu.out ./cmd/shareledger/
func BenchmarkCommandsOverHTTP(b *testing.B) {
	const pairs, workers = 8, 64
	f := newLoadFixture(b, pairs, workers)
	send, owners, partners, projects := f.send, f.owners, f.partners, f.projects
	f.drive(b, workers, func(w int) func(i int64) error {
		p, step := w%pairs, 0
		var device string
		return func(i int64) error {
			defer func() { step = (step + 1) % 4 }()
			var err error
			var res commandResult
			switch step {
			case 0:
				res, err = send(owners[p], "POST", "/v1/devices", map[string]any{"serial": fmt.Sprint("S", w, "-", i), "name": "Rover"})
				device = res.ID
			case 1:
				_, err = send(owners[p], "POST", fmt.Sprintf("/v1/partners/build%d/devices", p), map[string]any{"devices": []string{device}})
			case 2:
				_, err = send(partners[p], "POST", "/v1/devices/"+device+"/projects", map[string]any{"project": projects[p]})
			case 3:
				_, err = send(partners[p], "POST", "/v1/devices/"+device+"/designs", map[string]any{"project": projects[p], "design": "deck.dxf"})
			}
			return err
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

// loadFixture is a started service with partner pairs (an owner account
// rent<p> and a partner build<p> with a project) and a client without
// contract checks.
type loadFixture struct {
	owners, partners []string // tokens
	projects         []string
	send             func(token, method, path string, body any) (commandResult, error)
	operator         client // reads the service's /metrics
}

func newLoadFixture(b *testing.B, pairs, workers int) loadFixture {
	cfg := testConfig(b, backends[0])
	b.Cleanup(serviceRuntime(embeddedStores(cfg)))
	cfg.AggregateSnapshotEvery = 1000
	s := start(b, cfg)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * workers}, Timeout: 30 * time.Second}
	f := loadFixture{owners: make([]string, pairs), partners: make([]string, pairs), projects: make([]string, pairs)}
	for p := range pairs {
		o, q := s.as(fmt.Sprintf("own%d@rent%d.test", p, p), fmt.Sprintf("rent%d", p)), s.as(fmt.Sprintf("use%d@build%d.test", p, p), fmt.Sprintf("build%d", p))
		o.command("POST", "/v1/accounts", map[string]any{"organization": fmt.Sprintf("rent%d", p), "name": "Owner"})
		q.command("POST", "/v1/accounts", map[string]any{"organization": fmt.Sprintf("build%d", p), "name": "User"})
		q.command("POST", "/v1/partners", map[string]any{"organization": fmt.Sprintf("rent%d", p), "type": "rental"})
		o.command("POST", fmt.Sprintf("/v1/partners/build%d/approve", p), nil)
		f.projects[p] = q.command("POST", "/v1/projects", map[string]any{"name": "Site"}).ID
		f.owners[p], f.partners[p] = o.token, q.token
	}
	f.send = sender(hc, s.base)
	f.operator = s.operator()
	return f
}

// serviceRuntime sets the garbage collector and the processors as serve
// does with so many embedded stores (the process is the service here) and
// returns what undoes it.
func serviceRuntime(embedded int) func() {
	mem := decideMemory(os.LookupEnv, 0, cgroupMemory()).apply()
	procs := decideProcs(os.LookupEnv, runtime.GOMAXPROCS(0), embedded).apply()
	return func() { procs(); mem() }
}

// sender is the load's client of a service at base: one request, its
// answer decoded, no contract checks.
func sender(hc *http.Client, base string) func(token, method, path string, body any) (commandResult, error) {
	return func(token, method, path string, body any) (commandResult, error) {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return commandResult{}, err
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		var out commandResult
		if res.StatusCode/100 != 2 {
			return out, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
		}
		return out, json.Unmarshal(data, &out)
	}
}

// BenchmarkDesignsOverHTTP: 64 clients of 8 partner pairs send designs to
// devices their pair shares (8 per pair, each shared and in the partner's
// project), the product's most frequent command. It reports commands per
// second and the median and 99th percentile of their latency.
//
//	go test -run '^$' -bench DesignsOverHTTP -benchtime 20000x ./cmd/shareledger/
func BenchmarkDesignsOverHTTP(b *testing.B) {
	const pairs, workers, devices = 8, 64, 8
	f := newLoadFixture(b, pairs, workers)
	shared := make([][]string, pairs)
	for p := range pairs {
		for d := range devices {
			res, err := f.send(f.owners[p], "POST", "/v1/devices", map[string]any{"serial": fmt.Sprint("S", p, "-", d), "name": "Rover"})
			if err == nil {
				_, err = f.send(f.owners[p], "POST", fmt.Sprintf("/v1/partners/build%d/devices", p), map[string]any{"devices": []string{res.ID}})
			}
			if err == nil {
				_, err = f.send(f.partners[p], "POST", "/v1/devices/"+res.ID+"/projects", map[string]any{"project": f.projects[p]})
			}
			if err != nil {
				b.Fatal(err)
			}
			shared[p] = append(shared[p], res.ID)
		}
	}
	took := make([]time.Duration, b.N)
	f.drive(b, workers, func(w int) func(i int64) error {
		p := w % pairs
		return func(i int64) error {
			device := shared[p][(w/pairs+int(i))%devices]
			t0 := time.Now()
			_, err := f.send(f.partners[p], "POST", "/v1/devices/"+device+"/designs", map[string]any{"project": f.projects[p], "design": "deck.dxf"})
			took[i-1] = time.Since(t0)
			return err
		}
	})
	b.StopTimer()
	report(b, took)
	f.reportHandler(b, "SendDesign")
}

// BenchmarkHTTPCeiling is the ceiling of BenchmarkDesignsOverHTTP on the
// machine it runs on: the same client, 64 workers and request, against a
// server that only decodes the body and answers as a command would. Its
// rate is the most any command could reach here over HTTP with the load
// on the same cores, so the service's figure is read as a ratio to it,
// measured in the same run.
//
//	go test -run '^$' -bench 'DesignsOverHTTP|HTTPCeiling' -benchtime 20000x ./cmd/shareledger/
func BenchmarkHTTPCeiling(b *testing.B) {
	const workers = 64
	// As serve sets the runtime for a service without embedded stores:
	// the ceiling writes no files.
	b.Cleanup(serviceRuntime(0))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Project, Design string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(commandResult{ID: "0f1c3c52-57d5-4c8e-9d0f-3c1c5a0e2b11"})
	}))
	defer srv.Close()
	send := sender(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * workers}, Timeout: 30 * time.Second}, srv.URL)
	took := make([]time.Duration, b.N)
	loadFixture{}.drive(b, workers, func(int) func(i int64) error {
		return func(i int64) error {
			t0 := time.Now()
			_, err := send("token", "POST", "/v1/devices/d/designs", map[string]any{"project": "p", "design": "deck.dxf"})
			took[i-1] = time.Since(t0)
			return err
		}
	})
	b.StopTimer()
	report(b, took)
}

// report gives the rate and the median and 99th percentile latency.
func report(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// reportHandler reports the mean time the service's handler of a command
// took, from decoding it to its answer (its histogram in /metrics), beside
// the client's latency: what the rest is, is HTTP and the wait for the
// CPU (docs/benchmarks.md, "Where the HTTP tail comes from").
func (f loadFixture) reportHandler(b *testing.B, command string) {
	r := f.operator.do("GET", "/metrics", nil)
	var sum, count float64
	for line := range strings.SplitSeq(string(r.body), "\n") {
		name, value, ok := strings.Cut(line, "{command=\""+command+"\"} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			b.Fatalf("metrics: %s: %v", line, err)
		}
		switch name {
		case "shareledger_command_duration_seconds_sum":
			sum = v
		case "shareledger_command_duration_seconds_count":
			count = v
		}
	}
	if count == 0 {
		b.Fatalf("metrics: no %s was counted:\n%s", command, r.body)
	}
	b.ReportMetric(sum/count*1000, "handler-mean-ms")
}

// drive runs b.N commands from concurrent workers: each worker makes its
// own step function, called with the commands' numbers 1..b.N it takes.
// It reports the CPU time the process (service and client) spent a
// command: a machine's rate varies from run to run with what else it
// does, its CPU a command much less.
func (f loadFixture) drive(b *testing.B, workers int, worker func(w int) func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0 := cpuTime(b)
	defer func() {
		b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/command")
	}()
	b.ResetTimer()
	for w := range workers {
		step := worker(w)
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := step(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
