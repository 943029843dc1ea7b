package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	eventpebble "github.com/shareledger/shareledger/eventstore/pebble"
	"github.com/shareledger/shareledger/projections"
	rmbolt "github.com/shareledger/shareledger/projections/bolt"
)

type tick struct {
	N    int    `json:"n"`
	Mood string `json:"mood"` // "panic" or "fail" upset the fragile projection
}

func (tick) EventType() string { return "Ticked" }
func (tick) EventVersion() int { return 1 }

// counter counts the ticks it applied, in a document of its own.
type counter struct {
	name    string
	fragile bool
}

func (c counter) Name() string { return c.name }

func (c counter) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	t := e.Event.(tick)
	if c.fragile {
		switch t.Mood {
		case "fail":
			return errors.New("cannot stand this tick")
		case "panic":
			panic("this tick is too much")
		}
	}
	var seen []int
	if _, err := tx.Get(ctx, "ticks", c.name, &seen); err != nil {
		return err
	}
	return tx.Put(ctx, "ticks", c.name, append(seen, t.N))
}

// gatheringCounter is a counter that gathers a run's ticks and writes
// them once, at the run's end (projections.Gathering). A tick whose mood
// is "flush" makes the flush of its run fail.
type gatheringCounter struct{ counter }

func (c gatheringCounter) Gather() projections.Gatherer { return &tickRun{c: c} }

type tickRun struct {
	c       gatheringCounter
	ns      []int
	refuse  bool
	flushes int
}

func (r *tickRun) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	t := e.Event.(tick)
	if err := (counter{fragile: r.c.fragile}).Apply(ctx, nopTx{tx}, e); err != nil {
		return err // the same checks as the counter's
	}
	r.ns = append(r.ns, t.N)
	r.refuse = r.refuse || t.Mood == "flush"
	return nil
}

func (r *tickRun) Flush(ctx context.Context, tx projections.Tx) error {
	if r.flushes++; r.flushes > 1 {
		panic("flushed twice")
	}
	if r.refuse {
		return errors.New("cannot write this run")
	}
	var seen []int
	if _, err := tx.Get(ctx, "ticks", r.c.name, &seen); err != nil {
		return err
	}
	return tx.Put(ctx, "ticks", r.c.name, append(seen, r.ns...))
}

// nopTx reads and writes nothing.
type nopTx struct{ projections.Tx }

func (nopTx) Get(context.Context, string, string, any) (bool, error) { return false, nil }
func (nopTx) Put(context.Context, string, string, any) error         { return nil }

type fixture struct {
	dir    string
	events eventstore.Store
	models projections.Store
	reg    *domain.Registry
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{dir: t.TempDir(), reg: domain.NewRegistry()}
	domain.Register[tick](f.reg)
	f.open(t)
	t.Cleanup(f.close)
	return f
}

func (f *fixture) open(t *testing.T) {
	var err error
	if f.events, err = eventpebble.Open(eventpebble.Config{Dir: filepath.Join(f.dir, "events"), NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if f.models, err = rmbolt.Open(filepath.Join(f.dir, "models.db")); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) close() {
	_ = f.models.Close()
	_ = f.events.Close()
}

func (f *fixture) append(t *testing.T, ticks ...tick) eventstore.Position {
	t.Helper()
	evs := make([]eventstore.Event, len(ticks))
	for i, tk := range ticks {
		data, _ := json.Marshal(tk)
		evs[i] = eventstore.Event{ID: uuid.NewString(), Type: "Ticked", Version: 1, Data: data}
	}
	res, err := f.events.Append(context.Background(), "ticks", eventstore.Any(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	return res.Position
}

// start runs a runner until the test (or stop) ends it.
func (f *fixture) start(t *testing.T, ps ...projections.Projection) (*projections.Runner, func()) {
	t.Helper()
	r, err := projections.NewRunner(projections.RunnerConfig{
		Events: f.events, Store: f.models, Registry: f.reg, Projections: ps,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Batch: 4, Retries: 2, RetryInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	}
	t.Cleanup(stop)
	return r, stop
}

func (f *fixture) wait(t *testing.T, r *projections.Runner, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Progress().Wait(ctx, pos, r.Names()...); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) ticks(t *testing.T, name string) []int {
	t.Helper()
	var seen []int
	err := f.models.View(context.Background(), func(r projections.Reader) error {
		_, err := r.Get(context.Background(), "ticks", name, &seen)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

func (f *fixture) poisoned(t *testing.T, name string) []projections.Poisoned {
	t.Helper()
	var out []projections.Poisoned
	err := f.models.View(context.Background(), func(r projections.Reader) error {
		return r.Scan(context.Background(), projections.PoisonTable, projections.Page{Prefix: name + "/"}, func(_ string, doc []byte) error {
			var p projections.Poisoned
			out = append(out, p)
			return json.Unmarshal(doc, &out[len(out)-1])
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestPoisonEventsDoNotStopTheOthers(t *testing.T) {
	cases := []struct {
		name       string
		ticks      []tick
		wantFrag   []int
		wantReason string
	}{
		{"failing event in the middle of a batch", []tick{{N: 1}, {N: 2, Mood: "fail"}, {N: 3}, {N: 4}, {N: 5}}, []int{1, 3, 4, 5}, "cannot stand"},
		{"panicking event", []tick{{N: 1}, {N: 2}, {N: 3, Mood: "panic"}, {N: 4}}, []int{1, 2, 4}, "too much"},
		{"failing first event", []tick{{N: 1, Mood: "fail"}, {N: 2}}, []int{2}, "cannot stand"},
		{"gathered: failing event in the middle of a batch", []tick{{N: 1}, {N: 2, Mood: "fail"}, {N: 3}, {N: 4}}, []int{1, 3, 4}, "cannot stand"},
		{"gathered: panicking event", []tick{{N: 1}, {N: 2, Mood: "panic"}, {N: 3}}, []int{1, 3}, "too much"},
		{"gathered: a run that cannot be written", []tick{{N: 1}, {N: 2}, {N: 3, Mood: "flush"}, {N: 4}}, []int{1, 2, 4}, "cannot write this run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			head := f.append(t, c.ticks...)
			var fragile projections.Projection = counter{name: "fragile", fragile: true}
			if strings.HasPrefix(c.name, "gathered") {
				fragile = gatheringCounter{counter{name: "fragile", fragile: true}}
			}
			r, _ := f.start(t, fragile, counter{name: "steady"})
			f.wait(t, r, head)
			if got := f.ticks(t, "steady"); fmt.Sprint(got) != fmt.Sprint(seq(1, len(c.ticks))) {
				t.Fatalf("steady applied %v", got)
			}
			if got := f.ticks(t, "fragile"); fmt.Sprint(got) != fmt.Sprint(c.wantFrag) {
				t.Fatalf("fragile applied %v, want %v", got, c.wantFrag)
			}
			poison := f.poisoned(t, "fragile")
			if len(poison) != 1 || !strings.Contains(poison[0].Reason, c.wantReason) || poison[0].Type != "Ticked" {
				t.Fatalf("poisoned = %+v, want one event with reason %q", poison, c.wantReason)
			}
			if len(f.poisoned(t, "steady")) != 0 {
				t.Fatal("steady poisoned something")
			}
			// The fragile projection keeps going with new events.
			next := f.append(t, tick{N: 99})
			f.wait(t, r, next)
			if got := f.ticks(t, "fragile"); got[len(got)-1] != 99 {
				t.Fatalf("fragile stopped after the poison event: %v", got)
			}
		})
	}
}

func TestRestartResumesWithoutReprocessing(t *testing.T) {
	f := newFixture(t)
	first := f.append(t, tick{N: 1}, tick{N: 2}, tick{N: 3})
	r, stop := f.start(t, counter{name: "steady"})
	f.wait(t, r, first)
	stop()
	f.close()

	f.open(t)
	next := f.append(t, tick{N: 4}, tick{N: 5})
	r2, _ := f.start(t, counter{name: "steady"})
	f.wait(t, r2, next)
	if got := f.ticks(t, "steady"); fmt.Sprint(got) != fmt.Sprint(seq(1, 5)) {
		t.Fatalf("after restart: %v", got)
	}
	if n := r2.Handled("steady"); n != 2 {
		t.Fatalf("the restarted runner applied %d events, want only the 2 new ones", n)
	}
}

func TestWaitGivesUpWithErrLagging(t *testing.T) {
	f := newFixture(t)
	r, _ := f.start(t, counter{name: "steady"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := r.Progress().Wait(ctx, eventstore.At(1000), "steady")
	if !errors.Is(err, projections.ErrLagging) {
		t.Fatalf("err = %v, want ErrLagging", err)
	}
}

func TestCatchUpStopsAtAPosition(t *testing.T) {
	f := newFixture(t)
	f.append(t, tick{N: 1}, tick{N: 2})
	mid := f.append(t, tick{N: 3})
	f.append(t, tick{N: 4})
	at, err := projections.CatchUp(context.Background(), f.events, f.models, f.reg, counter{name: "partial"}, mid, 2)
	if err != nil || at != mid {
		t.Fatalf("catch up = %v, %v; want %v", at, err, mid)
	}
	if got := f.ticks(t, "partial"); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("applied %v, want [1 2 3]", got)
	}
	// And on to the end; applying again changes nothing.
	if _, err := projections.CatchUp(context.Background(), f.events, f.models, f.reg, counter{name: "partial"}, eventstore.Position{}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := projections.CatchUp(context.Background(), f.events, f.models, f.reg, counter{name: "partial"}, eventstore.Position{}, 0); err != nil {
		t.Fatal(err)
	}
	if got := f.ticks(t, "partial"); fmt.Sprint(got) != "[1 2 3 4]" {
		t.Fatalf("applied %v, want [1 2 3 4]", got)
	}
}

func TestRunnerConfigReportsEveryProblem(t *testing.T) {
	_, err := projections.NewRunner(projections.RunnerConfig{Projections: []projections.Projection{counter{name: "a"}, counter{name: "a"}}})
	for _, want := range []string{"event store", "read-model store", "registry", `"a" used twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

// flaky fails transiently until it is told the outside world is back.
type flaky struct {
	counter
	back chan struct{}
}

func (f flaky) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	select {
	case <-f.back:
		return f.counter.Apply(ctx, tx, e)
	default:
		return projections.Transient(errors.New("broker is down"))
	}
}

func TestTransientFailuresAreRetriedNotPoisoned(t *testing.T) {
	f := newFixture(t)
	head := f.append(t, tick{N: 1}, tick{N: 2})
	back := make(chan struct{})
	r, _ := f.start(t, flaky{counter: counter{name: "flaky"}, back: back}, counter{name: "steady"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Progress().Wait(ctx, head, "steady"); err != nil {
		t.Fatal(err)
	}
	close(back) // the broker is back
	f.wait(t, r, head)
	if got := f.ticks(t, "flaky"); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("flaky applied %v after the outage, want [1 2]", got)
	}
	if p := f.poisoned(t, "flaky"); len(p) != 0 {
		t.Fatalf("transient failures were poisoned: %+v", p)
	}
}

// A projection held up by an outage does not hold back the others: the
// shared feed leaves it to read the log on its own, and once the outage
// ends it applies every event, in order, once.
func TestAnOutageInOneProjectionDoesNotHoldBackTheOthers(t *testing.T) {
	f := newFixture(t)
	back := make(chan struct{})
	r, _ := f.start(t, flaky{counter: counter{name: "flaky"}, back: back}, counter{name: "steady"})
	var want []int
	var head eventstore.Position
	for i := range 200 {
		head = f.append(t, tick{N: i})
		want = append(want, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Progress().Wait(ctx, head, "steady"); err != nil {
		t.Fatalf("the steady projection waited for the one in an outage: %v", err)
	}
	close(back)
	f.wait(t, r, head)
	for _, name := range []string{"steady", "flaky"} {
		if got := f.ticks(t, name); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s applied %v, want 0..199 once each in order", name, got)
		}
	}
}

// decodes counts how often a counted tick is decoded.
var decodes atomic.Int64

type countedTick tick

func (countedTick) EventType() string { return "CountedTick" }
func (countedTick) EventVersion() int { return 1 }

func (c *countedTick) UnmarshalJSON(b []byte) error {
	decodes.Add(1)
	return json.Unmarshal(b, (*tick)(c))
}

// counted projects counted ticks like counter projects ticks.
type counted struct{ name string }

func (c counted) Name() string { return c.name }

func (c counted) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	return counter{name: c.name}.Apply(ctx, tx, projections.Envelope{Event: tick(e.Event.(countedTick)), Record: e.Record})
}

// Every event is read and decoded once for all the projections a runner
// feeds, not once per projection.
func TestEachEventIsDecodedOnceForAllProjections(t *testing.T) {
	f := newFixture(t)
	domain.Register[countedTick](f.reg)
	var head eventstore.Position
	for i := range 40 {
		data, _ := json.Marshal(tick{N: i})
		res, err := f.events.Append(context.Background(), "counted", eventstore.Any(), eventstore.Event{ID: uuid.NewString(), Type: "CountedTick", Version: 1, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		head = res.Position
	}
	decodes.Store(0)
	r, _ := f.start(t, counted{name: "a"}, counted{name: "b"}, counted{name: "c"})
	f.wait(t, r, head)
	if n := decodes.Load(); n != 40 {
		t.Fatalf("40 events were decoded %d times for 3 projections, want 40", n)
	}
}

// paced is a counter whose commits are at least every apart, and which
// tells applied each tick it applies.
type paced struct {
	counter
	every   time.Duration
	applied chan<- int
}

func (p paced) CommitEvery() time.Duration { return p.every }

func (p paced) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	if err := p.counter.Apply(ctx, tx, e); err != nil {
		return err
	}
	p.applied <- e.Event.(tick).N
	return nil
}

// A Paced projection applies the first event at once, then, while no
// reader waits on it, gathers what comes until its interval is over or
// the runner's batch (4 here) is full; a reader that starts waiting on
// it ends the wait at once. The others are not held up, and stopping the
// runner does not wait for the interval.
func TestAPacedProjectionGathersUntilItsIntervalOrAFullBatch(t *testing.T) {
	f := newFixture(t)
	applied := make(chan int, 100)
	p := paced{counter: counter{name: "paced"}, every: time.Hour, applied: applied}
	r, stop := f.start(t, p, counter{name: "steady"})
	f.wait(t, r, f.append(t, tick{N: 0}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := func(n int) []int {
		var out []int
		for range n {
			select {
			case i := <-applied:
				out = append(out, i)
			case <-ctx.Done():
				t.Fatalf("the paced projection applied %v, then nothing", out)
			}
		}
		return out
	}
	if ticks := got(1); fmt.Sprint(ticks) != "[0]" {
		t.Fatalf("the paced projection applied %v first, want [0]", ticks)
	}
	var head eventstore.Position
	for i := 1; i <= 2; i++ {
		head = f.append(t, tick{N: i})
	}
	if err := r.Progress().Wait(ctx, head, "steady"); err != nil {
		t.Fatal(err)
	}
	if ticks := f.ticks(t, "paced"); fmt.Sprint(ticks) != "[0]" {
		t.Fatalf("the paced projection applied %v within its interval, want [0] until its batch is full", ticks)
	}
	for i := 3; i <= 4; i++ {
		f.append(t, tick{N: i})
	}
	// Nobody waits on it: only a full batch makes it apply within the hour.
	if ticks := got(4); fmt.Sprint(ticks) != fmt.Sprint(seq(1, 4)) {
		t.Fatalf("the paced projection applied %v once its batch was full, want 1..4", ticks)
	}
	head = f.append(t, tick{N: 5})
	if err := r.Progress().Wait(ctx, head, "steady"); err != nil {
		t.Fatal(err)
	}
	if err := r.Progress().Wait(ctx, head, "paced"); err != nil {
		t.Fatalf("a reader waiting on the paced projection waited for its interval: %v", err)
	}
	if ticks := f.ticks(t, "paced"); fmt.Sprint(ticks) != fmt.Sprint(seq(0, 5)) {
		t.Fatalf("the paced projection applied %v, want 0..5", ticks)
	}
	got(1)
	head = f.append(t, tick{N: 6})
	if err := r.Progress().Wait(ctx, head, "steady"); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("stopping the runner waited for the paced projection's interval")
	}
	// Started again, it has committed nothing for an hour: at once.
	r, _ = f.start(t, p, counter{name: "steady"})
	if ticks := got(1); fmt.Sprint(ticks) != "[6]" {
		t.Fatalf("the paced projection applied %v after a restart, want [6]", ticks)
	}
	f.wait(t, r, head)
}

// signalledTick is a tick that, decoded, is handed to onDecoded.
type signalledTick tick

func (signalledTick) EventType() string { return "SignalledTick" }
func (signalledTick) EventVersion() int { return 1 }

var onDecoded atomic.Pointer[func(n int)]

func (s *signalledTick) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*tick)(s)); err != nil {
		return err
	}
	if f := onDecoded.Load(); f != nil {
		(*f)(s.N)
	}
	return nil
}

// sized records how many events each of its transactions (runs) held; its
// first run waits for release before it applies anything.
type sized struct {
	release <-chan struct{}
	mu      *sync.Mutex
	runs    *[]int
}

func (sized) Name() string { return "sized" }

func (sized) Apply(context.Context, projections.Tx, projections.Envelope) error {
	return errors.New("applied outside a run")
}

func (s sized) Gather() projections.Gatherer { return &sizedRun{s: s} }

type sizedRun struct {
	s sized
	n int
}

func (r *sizedRun) Apply(context.Context, projections.Tx, projections.Envelope) error {
	r.s.mu.Lock()
	first := len(*r.s.runs) == 0 && r.n == 0
	r.s.mu.Unlock()
	if first {
		<-r.s.release
	}
	r.n++
	return nil
}

func (r *sizedRun) Flush(context.Context, projections.Tx) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	*r.s.runs = append(*r.s.runs, r.n)
	return nil
}

// A projection that is behind takes the batches already queued for it in
// one transaction until it holds four batch sizes (16 events here), not
// one batch (4) a transaction: held on its first transaction until the
// log's 36 events are all decoded (and all but the last batch queued),
// its next transaction holds 16.
func TestAProjectionBehindTakesQueuedBatchesTogether(t *testing.T) {
	f := newFixture(t)
	domain.Register[signalledTick](f.reg)
	const events = 36
	decoded := make(chan struct{})
	signal := func(n int) {
		if n == events-1 {
			close(decoded)
		}
	}
	onDecoded.Store(&signal)
	t.Cleanup(func() { onDecoded.Store(nil) })
	evs := make([]eventstore.Event, events)
	for i := range evs {
		data, _ := json.Marshal(tick{N: i})
		evs[i] = eventstore.Event{ID: uuid.NewString(), Type: "SignalledTick", Version: 1, Data: data}
	}
	res, err := f.events.Append(context.Background(), "signalled", eventstore.Any(), evs...)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var runs []int
	r, _ := f.start(t, sized{release: release, mu: &mu, runs: &runs})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-decoded:
	case <-ctx.Done():
		t.Fatal("the log's events were not all decoded")
	}
	close(release)
	f.wait(t, r, res.Position)
	mu.Lock()
	defer mu.Unlock()
	sum := 0
	for _, n := range runs {
		sum += n
		if n > 16 {
			t.Fatalf("a transaction held %d events, more than four batches of 4: %v", n, runs)
		}
	}
	if sum != events || len(runs) < 2 || runs[1] != 16 {
		t.Fatalf("transactions held %v events, want 36 in all and 16 in the second", runs)
	}
}

// publisher is a counter that talks to the outside world with the
// delivery's context, as a relay does: once it has entered Apply
// (entered), it waits until the delivery's context ends or released is
// closed, and fails with the context's error if it ended.
type publisher struct {
	counter
	entered  chan struct{}
	released chan struct{}
	once     *sync.Once
}

func (p publisher) Apply(ctx context.Context, tx projections.Tx, e projections.Envelope) error {
	p.once.Do(func() { close(p.entered) })
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.released:
	}
	return p.counter.Apply(ctx, tx, e)
}

// A shutdown cancels what a projection was delivering: the events are not
// the projection's fault and are not poisoned (a relay would skip them for
// ever); they are delivered again after the restart.
func TestAShutdownPoisonsNothing(t *testing.T) {
	f := newFixture(t)
	head := f.append(t, tick{N: 1}, tick{N: 2}, tick{N: 3}, tick{N: 4}, tick{N: 5}, tick{N: 6})
	p := publisher{counter: counter{name: "publisher"}, entered: make(chan struct{}), released: make(chan struct{}), once: &sync.Once{}}
	_, stop := f.start(t, p)
	<-p.entered
	stop() // while the first delivery waits on the outside world
	if got := f.poisoned(t, "publisher"); len(got) != 0 {
		t.Fatalf("a shutdown poisoned %d events: %+v", len(got), got)
	}
	close(p.released)
	r, _ := f.start(t, p)
	f.wait(t, r, head)
	if got := f.ticks(t, "publisher"); fmt.Sprint(got) != "[1 2 3 4 5 6]" {
		t.Fatalf("after the restart the publisher applied %v, want [1 2 3 4 5 6]", got)
	}
}
