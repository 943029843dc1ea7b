package commands

import (
	"context"
	"fmt"
	"io"
	"runtime/metrics"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Metrics counts what commands do, for the Prometheus endpoint.
type Metrics struct {
	// Cache, if set, is reported with the metrics.
	Cache     *StateCache
	appended  atomic.Int64
	snapshots atomic.Int64
	mu        sync.Mutex
	commands  map[string]*latency
}

type latency struct {
	buckets []int64 // counts per bound of latencyBounds, cumulative when written
	count   int64
	sum     float64
	errors  int64
}

var latencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics { return &Metrics{commands: map[string]*latency{}} }

func (m *Metrics) observe(name string, took time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.commands[name]
	if l == nil {
		l = &latency{buckets: make([]int64, len(latencyBounds))}
		m.commands[name] = l
	}
	s := took.Seconds()
	for i, b := range latencyBounds {
		if s <= b {
			l.buckets[i]++
		}
	}
	l.count++
	l.sum += s
	if failed {
		l.errors++
	}
}

func (m *Metrics) snapshotSaved() {
	if m != nil {
		m.snapshots.Add(1)
	}
}

func (m *Metrics) appendedEvents(n int) {
	if m != nil {
		m.appended.Add(int64(n))
	}
}

// WithMetrics records each command's latency and outcome.
func WithMetrics[C any](h Handler[C], m *Metrics, name string) Handler[C] {
	if m == nil {
		return h
	}
	return HandlerFunc[C](func(ctx context.Context, c C) (Result, error) {
		start := time.Now()
		res, err := h.Handle(ctx, c)
		m.observe(name, time.Since(start), err != nil)
		return res, err
	})
}

// Write writes the metrics in the Prometheus text format.
func (m *Metrics) Write(w io.Writer) {
	fmt.Fprintf(w, "# HELP shareledger_events_appended_total Events appended by commands in this instance.\n# TYPE shareledger_events_appended_total counter\nshareledger_events_appended_total %d\n", m.appended.Load())
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.commands))
	for n := range m.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprint(w, "# HELP shareledger_command_duration_seconds How long commands take, by command.\n# TYPE shareledger_command_duration_seconds histogram\n")
	for _, n := range names {
		l := m.commands[n]
		for i, b := range latencyBounds {
			fmt.Fprintf(w, "shareledger_command_duration_seconds_bucket{command=%q,le=\"%g\"} %d\n", n, b, l.buckets[i])
		}
		fmt.Fprintf(w, "shareledger_command_duration_seconds_bucket{command=%q,le=\"+Inf\"} %d\n", n, l.count)
		fmt.Fprintf(w, "shareledger_command_duration_seconds_sum{command=%q} %g\nshareledger_command_duration_seconds_count{command=%q} %d\n", n, l.sum, n, l.count)
	}
	fmt.Fprintf(w, "# HELP shareledger_aggregate_snapshots_total Snapshots of aggregate state saved by commands in this instance.\n# TYPE shareledger_aggregate_snapshots_total counter\nshareledger_aggregate_snapshots_total %d\n", m.snapshots.Load())
	if m.Cache != nil {
		fmt.Fprintf(w, "# HELP shareledger_command_cache_bytes Estimated memory of the aggregate states kept for commands (at most --command-cache).\n# TYPE shareledger_command_cache_bytes gauge\nshareledger_command_cache_bytes %d\n", m.Cache.Size())
		fmt.Fprintf(w, "# HELP shareledger_command_cache_streams Aggregate states kept for commands.\n# TYPE shareledger_command_cache_streams gauge\nshareledger_command_cache_streams %d\n", m.Cache.Len())
	}
	var heap [1]metrics.Sample
	heap[0].Name = "/memory/classes/heap/objects:bytes"
	metrics.Read(heap[:])
	if heap[0].Value.Kind() == metrics.KindUint64 {
		fmt.Fprintf(w, "# HELP shareledger_go_heap_objects_bytes Memory held by live and not yet swept Go heap objects.\n# TYPE shareledger_go_heap_objects_bytes gauge\nshareledger_go_heap_objects_bytes %d\n", heap[0].Value.Uint64())
	}
	fmt.Fprint(w, "# HELP shareledger_command_errors_total Commands refused or failed, by command.\n# TYPE shareledger_command_errors_total counter\n")
	for _, n := range names {
		fmt.Fprintf(w, "shareledger_command_errors_total{command=%q} %d\n", n, m.commands[n].errors)
	}
}
