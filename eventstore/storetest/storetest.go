// Package storetest is the conformance suite of the event store port. Every
// implementation calls Run from its own tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shareledger/shareledger/eventstore"
)

// Harness tells the suite how to get stores.
type Harness struct {
	// New returns an empty store; the suite closes it.
	New func(t testing.TB) eventstore.Store
	// Reopen closes old and opens the same storage again; nil when the
	// implementation cannot (the suite then skips the durability test).
	Reopen func(t testing.TB, old eventstore.Store) eventstore.Store
	// Contiguous is true when positions are 1, 2, 3... with no gaps.
	Contiguous bool
	// StreamIDsOnly is true when event ids are unique within a stream only
	// (EventStoreDB): the same ids appended to another stream are new events.
	StreamIDsOnly bool
	// NoGuards is true when the store cannot check a guard on another
	// stream in the same step as an append (EventStoreDB): the suite then
	// checks that it does not claim to (eventstore.Guarded).
	NoGuards bool
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("expected revisions", func(t *testing.T) { testExpected(t, h) })
	t.Run("revisions and positions", func(t *testing.T) { testPositions(t, h) })
	t.Run("idempotent appends", func(t *testing.T) { testIdempotent(t, h) })
	t.Run("appends marked as having new ids", func(t *testing.T) { testNewIDs(t, h) })
	t.Run("invalid appends", func(t *testing.T) { testInvalid(t, h) })
	t.Run("read stream", func(t *testing.T) { testReadStream(t, h) })
	t.Run("look up an event by id", func(t *testing.T) { testLookup(t, h) })
	t.Run("snapshots", func(t *testing.T) { testSnapshots(t, h) })
	t.Run("guarded appends", func(t *testing.T) { testGuarded(t, h) })
	t.Run("metadata round trip", func(t *testing.T) { testMeta(t, h) })
	t.Run("subscribe catches up then follows", func(t *testing.T) { testSubscribe(t, h) })
	t.Run("subscribe handler error stops it", func(t *testing.T) { testSubscribeError(t, h) })
	t.Run("concurrent appends to one stream", func(t *testing.T) { testConcurrentOneStream(t, h) })
	t.Run("concurrent appends to many streams", func(t *testing.T) { testConcurrentManyStreams(t, h) })
	t.Run("concurrent repeats of one append", func(t *testing.T) { testConcurrentRepeats(t, h) })
	t.Run("durable across reopen", func(t *testing.T) { testReopen(t, h) })
	t.Run("use after close fails cleanly", func(t *testing.T) { testClosed(t, h) })
}

func testClosed(t *testing.T, h Harness) {
	s := h.New(t)
	mustAppend(t, s, stream(t), eventstore.NoStream(), Events("E", 1)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"append":      func() error { _, err := s.Append(ctx, "s", eventstore.Any(), Events("E", 1)...); return err },
		"read stream": func() error { _, err := s.ReadStream(ctx, "s", 0, 0); return err },
		"read all":    func() error { _, err := s.ReadAll(ctx, eventstore.Position{}, 0); return err },
		"head":        func() error { _, err := s.Head(ctx); return err },
		"subscribe": func() error {
			return s.Subscribe(ctx, eventstore.Position{}, func(context.Context, []eventstore.Record) error { return nil })
		},
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s after close: no error", name)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func open(t testing.TB, h Harness) eventstore.Store {
	t.Helper()
	s := h.New(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Events makes n events of type typ with fresh ids.
func Events(typ string, n int) []eventstore.Event {
	out := make([]eventstore.Event, n)
	for i := range out {
		out[i] = eventstore.Event{
			ID: uuid.NewString(), Type: typ, Version: 1,
			Data: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Meta: eventstore.Meta{User: "u@test", Account: "acc", CommandID: "cmd", CorrelationID: "corr", Time: time.Unix(1700000000, 0).UTC()},
		}
	}
	return out
}

func stream(t *testing.T) string { return "test-" + uuid.NewString() }

func mustAppend(t *testing.T, s eventstore.Store, st string, exp eventstore.Expected, evs ...eventstore.Event) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), st, exp, evs...)
	if err != nil {
		t.Fatalf("append to %s: %v", st, err)
	}
	return res
}

func testExpected(t *testing.T, h Harness) {
	s := open(t, h)
	cases := []struct {
		name     string
		existing int
		expected eventstore.Expected
		ok       bool
	}{
		{"any on empty", 0, eventstore.Any(), true},
		{"any on existing", 2, eventstore.Any(), true},
		{"no stream on empty", 0, eventstore.NoStream(), true},
		{"no stream on existing", 1, eventstore.NoStream(), false},
		{"exists on empty", 0, eventstore.StreamExists(), false},
		{"exists on existing", 1, eventstore.StreamExists(), true},
		{"exact revision matches", 3, eventstore.Exactly(2), true},
		{"exact revision behind", 3, eventstore.Exactly(1), false},
		{"exact revision ahead", 3, eventstore.Exactly(5), false},
		{"exact revision on empty", 0, eventstore.Exactly(0), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := stream(t)
			if c.existing > 0 {
				mustAppend(t, s, st, eventstore.NoStream(), Events("Seed", c.existing)...)
			}
			res, err := s.Append(context.Background(), st, c.expected, Events("Tried", 1)...)
			if c.ok {
				if err != nil {
					t.Fatalf("append: %v", err)
				}
				if res.LastRevision != uint64(c.existing) {
					t.Fatalf("last revision = %d, want %d", res.LastRevision, c.existing)
				}
				return
			}
			if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				t.Fatalf("err = %v, want wrong expected version", err)
			}
			var wv *eventstore.WrongVersionError
			if !errors.As(err, &wv) || wv.Exists != (c.existing > 0) || (c.existing > 0 && wv.Last != uint64(c.existing-1)) {
				t.Fatalf("wrong version error = %#v, want the stream's actual revision", wv)
			}
			got, _ := s.ReadStream(context.Background(), st, 0, 0)
			if len(got) != c.existing {
				t.Fatalf("refused append changed the stream: %d events, want %d", len(got), c.existing)
			}
		})
	}
}

func testPositions(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	head0, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := stream(t), stream(t)
	r1 := mustAppend(t, s, a, eventstore.NoStream(), Events("A", 2)...)
	r2 := mustAppend(t, s, b, eventstore.NoStream(), Events("B", 1)...)
	r3 := mustAppend(t, s, a, eventstore.Exactly(1), Events("A", 1)...)
	if r1.LastRevision != 1 || r2.LastRevision != 0 || r3.LastRevision != 2 {
		t.Fatalf("revisions = %d %d %d, want 1 0 2", r1.LastRevision, r2.LastRevision, r3.LastRevision)
	}
	if !(r1.Position.Less(r2.Position) && r2.Position.Less(r3.Position)) {
		t.Fatalf("positions do not increase: %v %v %v", r1.Position, r2.Position, r3.Position)
	}
	head, _ := s.Head(ctx)
	if head != r3.Position {
		t.Fatalf("head = %v, want %v", head, r3.Position)
	}
	all, err := s.ReadAll(ctx, head0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("read all: %d events, want 4", len(all))
	}
	wantStreams := []string{a, a, b, a}
	for i, r := range all {
		if r.Stream != wantStreams[i] {
			t.Fatalf("event %d in stream %s, want %s", i, r.Stream, wantStreams[i])
		}
		if i > 0 && !all[i-1].Position.Less(r.Position) {
			t.Fatalf("read all out of order at %d", i)
		}
		if h.Contiguous && i > 0 && r.Position.Commit != all[i-1].Position.Commit+1 {
			t.Fatalf("gap between %v and %v", all[i-1].Position, r.Position)
		}
	}
	// An append's position is its last event's.
	if all[1].Position != r1.Position || all[3].Position != r3.Position {
		t.Fatalf("append result positions %v, %v differ from read positions %v, %v", r1.Position, r3.Position, all[1].Position, all[3].Position)
	}
	cases := []struct {
		name  string
		after eventstore.Position
		limit int
		want  int
	}{
		{"after first", all[0].Position, 0, 3},
		{"limited", head0, 2, 2},
		{"after head", head, 0, 0},
	}
	for _, c := range cases {
		got, err := s.ReadAll(ctx, c.after, c.limit)
		if err != nil || len(got) != c.want {
			t.Fatalf("%s: %d events (err %v), want %d", c.name, len(got), err, c.want)
		}
	}
}

func testIdempotent(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	st := stream(t)
	evs := Events("E", 3)
	first := mustAppend(t, s, st, eventstore.NoStream(), evs...)
	cases := []struct {
		name     string
		expected eventstore.Expected
	}{
		{"same expectation", eventstore.NoStream()},
		{"now stale expectation", eventstore.Exactly(7)},
		{"any", eventstore.Any()},
	}
	for _, c := range cases {
		again, err := s.Append(ctx, st, c.expected, evs...)
		if err != nil {
			t.Fatalf("%s: repeat append: %v", c.name, err)
		}
		if again != first {
			t.Fatalf("%s: repeat append = %+v, want first result %+v", c.name, again, first)
		}
	}
	got, _ := s.ReadStream(ctx, st, 0, 0)
	if len(got) != 3 {
		t.Fatalf("repeated appends stored %d events, want 3", len(got))
	}
	mixed := append([]eventstore.Event{evs[2]}, Events("E", 1)...)
	if _, err := s.Append(ctx, st, eventstore.Any(), mixed...); !errors.Is(err, eventstore.ErrIdempotency) {
		t.Fatalf("half-new append: err = %v, want ErrIdempotency", err)
	}
	if h.StreamIDsOnly {
		return
	}
	if _, err := s.Append(ctx, stream(t), eventstore.Any(), evs...); !errors.Is(err, eventstore.ErrIdempotency) {
		t.Fatalf("same ids in another stream: err = %v, want ErrIdempotency", err)
	}
}

// testNewIDs: an append marked as carrying new ids (eventstore.WithNewIDs)
// is decided like any other (expected revisions, guards), and its ids are
// indexed like any other's: sent again unmarked, it answers its first
// result, and its events are found by id.
func testNewIDs(t *testing.T, h Harness) {
	s := open(t, h)
	fresh := eventstore.WithNewIDs(context.Background())
	ctx := context.Background()
	st := stream(t)
	first := Events("E", 2)
	res, err := s.Append(fresh, st, eventstore.NoStream(), first...)
	if err != nil || res.LastRevision != 1 {
		t.Fatalf("append with new ids = %+v, %v; want revision 1", res, err)
	}
	cases := []struct {
		name     string
		expected eventstore.Expected
		ok       bool
	}{
		{"a stale expectation is refused", eventstore.NoStream(), false},
		{"a revision behind is refused", eventstore.Exactly(0), false},
		{"the revision read is accepted", eventstore.Exactly(1), true},
	}
	last := uint64(1)
	for _, c := range cases {
		_, err := s.Append(fresh, st, c.expected, Events("N", 1)...)
		if c.ok != (err == nil) {
			t.Fatalf("%s: err = %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			t.Fatalf("%s: err = %v, want a wrong expected version", c.name, err)
		}
		if c.ok {
			last++
		}
	}
	again, err := s.Append(ctx, st, eventstore.Any(), first...)
	if err != nil || again != res {
		t.Fatalf("the append sent again unmarked = %+v, %v; want its first result %+v", again, err, res)
	}
	got, _ := s.ReadStream(ctx, st, 0, 0)
	if uint64(len(got)) != last+1 {
		t.Fatalf("stream holds %d events, want %d", len(got), last+1)
	}
	if rec, found, err := s.Lookup(ctx, st, first[1].ID); err != nil || !found || rec.Revision != 1 {
		t.Fatalf("look-up of an event appended with new ids = %+v, %v, %v; want revision 1", rec, found, err)
	}
	if g, ok := s.(eventstore.Guarded); ok {
		guard, target := stream(t), stream(t)
		mustAppend(t, s, guard, eventstore.NoStream(), Events("Seed", 2)...)
		if _, err := g.AppendGuarded(fresh, target, eventstore.Any(), eventstore.Guard{Stream: guard, Expected: eventstore.Exactly(0)}, Events("G", 1)...); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			t.Fatalf("a guard that does not hold, with new ids: err = %v, want a wrong expected version", err)
		}
		if _, err := g.AppendGuarded(fresh, target, eventstore.Any(), eventstore.Guard{Stream: guard, Expected: eventstore.Exactly(1)}, Events("G", 1)...); err != nil {
			t.Fatalf("a guard that holds, with new ids: %v", err)
		}
	}
}

// testLookup: an event is found by its stream and id, wherever it is in
// the stream, with everything it was stored with; an id of another
// stream, or of nothing, is not found.
func testLookup(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	st, other := stream(t), stream(t)
	evs := Events("E", 300)
	for i := 0; i < len(evs); i += 100 {
		mustAppend(t, s, st, eventstore.Any(), evs[i:i+100]...)
	}
	elsewhere := Events("F", 1)
	mustAppend(t, s, other, eventstore.NoStream(), elsewhere...)
	all, err := s.ReadStream(ctx, st, 0, 0)
	if err != nil || len(all) != len(evs) {
		t.Fatalf("read %d events (err %v)", len(all), err)
	}
	cases := []struct {
		name   string
		stream string
		id     string
		want   *eventstore.Record
	}{
		{"the first event", st, evs[0].ID, &all[0]},
		{"one in the middle", st, evs[150].ID, &all[150]},
		{"the last event", st, evs[299].ID, &all[299]},
		{"an id of another stream", st, elsewhere[0].ID, nil},
		{"an id nobody stored", st, Events("G", 1)[0].ID, nil},
		{"a stream that does not exist", stream(t), evs[0].ID, nil},
	}
	for _, c := range cases {
		got, found, err := s.Lookup(ctx, c.stream, c.id)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if found != (c.want != nil) {
			t.Fatalf("%s: found %v", c.name, found)
		}
		if c.want != nil && (got.ID != c.want.ID || got.Revision != c.want.Revision || got.Position != c.want.Position ||
			got.Stream != c.want.Stream || got.Meta != c.want.Meta || string(got.Data) != string(c.want.Data)) {
			t.Fatalf("%s: %+v, want %+v", c.name, got, *c.want)
		}
	}
}

// testSnapshots: a stream has no snapshot until one is saved; the newest
// revision wins; snapshots are per stream and never part of the log.
func testSnapshots(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	st, other := stream(t), stream(t)
	mustAppend(t, s, st, eventstore.NoStream(), Events("E", 3)...)
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.LoadSnapshot(ctx, st); err != nil || found {
		t.Fatalf("a snapshot before any was saved: found %v, err %v", found, err)
	}
	steps := []struct {
		name string
		save eventstore.Snapshot
		want eventstore.Snapshot
	}{
		{"the first", eventstore.Snapshot{Revision: 1, Version: "v1", Data: []byte(`{"a":1}`)}, eventstore.Snapshot{Revision: 1, Version: "v1", Data: []byte(`{"a":1}`)}},
		{"a newer one replaces it", eventstore.Snapshot{Revision: 2, Version: "v2", Data: []byte("binary\x00ok")}, eventstore.Snapshot{Revision: 2, Version: "v2", Data: []byte("binary\x00ok")}},
		{"an older one does not", eventstore.Snapshot{Revision: 0, Version: "v2", Data: []byte(`{}`)}, eventstore.Snapshot{Revision: 2, Version: "v2", Data: []byte("binary\x00ok")}},
		{"one of another version (a changed fold) does", eventstore.Snapshot{Revision: 1, Version: "v3", Data: []byte(`{"b":2}`)}, eventstore.Snapshot{Revision: 1, Version: "v3", Data: []byte(`{"b":2}`)}},
	}
	for _, step := range steps {
		if err := s.SaveSnapshot(ctx, st, step.save); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, found, err := s.LoadSnapshot(ctx, st)
		if err != nil || !found || got.Revision != step.want.Revision || got.Version != step.want.Version || string(got.Data) != string(step.want.Data) {
			t.Fatalf("%s: %+v (found %v, err %v), want %+v", step.name, got, found, err, step.want)
		}
	}
	if _, found, _ := s.LoadSnapshot(ctx, other); found {
		t.Fatal("another stream has the snapshot")
	}
	all, err := s.ReadAll(ctx, eventstore.Position{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Stream != st {
			t.Fatalf("the log holds %s of stream %s", r.Type, r.Stream)
		}
	}
	if after, err := s.Head(ctx); err != nil || after != head {
		t.Fatalf("the head moved from %s to %s with snapshots (err %v)", head, after, err)
	}
}

func testInvalid(t *testing.T, h Harness) {
	s := open(t, h)
	dup := Events("E", 1)[0]
	cases := []struct {
		name   string
		stream string
		events []eventstore.Event
	}{
		{"empty stream name", "", Events("E", 1)},
		{"no events", "s", nil},
		{"event without id", "s", []eventstore.Event{{Type: "E"}}},
		{"event without type", "s", []eventstore.Event{{ID: uuid.NewString()}}},
		{"repeated id", "s", []eventstore.Event{dup, dup}},
	}
	for _, c := range cases {
		if _, err := s.Append(context.Background(), c.stream, eventstore.Any(), c.events...); !errors.Is(err, eventstore.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", c.name, err)
		}
	}
}

func testReadStream(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	st := stream(t)
	mustAppend(t, s, st, eventstore.NoStream(), Events("E", 5)...)
	mustAppend(t, s, st+"-other", eventstore.NoStream(), Events("X", 2)...)
	cases := []struct {
		name      string
		stream    string
		from      uint64
		limit     int
		wantFirst uint64
		wantCount int
	}{
		{"whole stream", st, 0, 0, 0, 5},
		{"from revision 3", st, 3, 0, 3, 2},
		{"limited", st, 1, 2, 1, 2},
		{"past the end", st, 9, 0, 0, 0},
		{"missing stream", "nothing-" + st, 0, 0, 0, 0},
	}
	for _, c := range cases {
		got, err := s.ReadStream(ctx, c.stream, c.from, c.limit)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.wantCount {
			t.Fatalf("%s: %d events, want %d", c.name, len(got), c.wantCount)
		}
		for i, r := range got {
			if r.Stream != c.stream || r.Revision != c.wantFirst+uint64(i) {
				t.Fatalf("%s: event %d is %s@%d", c.name, i, r.Stream, r.Revision)
			}
		}
	}
}

func testMeta(t *testing.T, h Harness) {
	s := open(t, h)
	st := stream(t)
	e := eventstore.Event{
		ID: uuid.NewString(), Type: "Typed", Version: 3, Data: []byte(`{"a":"b","n":[1,2]}`),
		Meta: eventstore.Meta{User: "ann@a.test", Account: "a", CommandID: uuid.NewString(), CorrelationID: uuid.NewString(),
			IdempotencyKey: "order-42", RequestHash: "5d41402abc4b2a76b9719d911017c592",
			CausationID: uuid.NewString(), Time: time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.UTC)},
	}
	mustAppend(t, s, st, eventstore.NoStream(), e)
	got, err := s.ReadStream(context.Background(), st, 0, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("read: %v (%d events)", err, len(got))
	}
	r := got[0]
	if r.ID != e.ID || r.Type != e.Type || r.Version != e.Version || !jsonEqual(r.Data, e.Data) {
		t.Fatalf("event = %+v, want %+v", r.Event, e)
	}
	if !r.Meta.Time.Equal(e.Meta.Time) {
		t.Fatalf("time = %v, want %v", r.Meta.Time, e.Meta.Time)
	}
	r.Meta.Time = e.Meta.Time
	if r.Meta != e.Meta {
		t.Fatalf("meta = %+v, want %+v", r.Meta, e.Meta)
	}
}

func testSubscribe(t *testing.T, h Harness) {
	s := open(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := stream(t)
	start, _ := s.Head(ctx)
	mustAppend(t, s, st, eventstore.NoStream(), Events("Old", 3)...)
	got := make(chan eventstore.Record, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, start, func(_ context.Context, batch []eventstore.Record) error {
			for _, r := range batch {
				got <- r
			}
			return nil
		})
	}()
	expect := func(typ string, rev uint64) eventstore.Record {
		t.Helper()
		select {
		case r := <-got:
			if r.Stream != st || r.Type != typ || r.Revision != rev {
				t.Fatalf("received %s %s@%d, want %s %s@%d", r.Type, r.Stream, r.Revision, typ, st, rev)
			}
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %s@%d within 10s", typ, rev)
		}
		return eventstore.Record{}
	}
	for i := range 3 {
		expect("Old", uint64(i))
	}
	mustAppend(t, s, st, eventstore.Exactly(2), Events("New", 2)...)
	mustAppend(t, s, st, eventstore.Exactly(4), Events("New", 1)...)
	mid := expect("New", 3)
	expect("New", 4)
	expect("New", 5)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("subscribe ended with %v after cancel, want nil", err)
	}
	// From a position in the middle: starts right after it.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	first := make(chan eventstore.Record, 1)
	go func() {
		_ = s.Subscribe(ctx2, mid.Position, func(_ context.Context, b []eventstore.Record) error {
			select {
			case first <- b[0]:
			default:
			}
			return nil
		})
	}()
	select {
	case r := <-first:
		if r.Revision != 4 || r.Stream != st {
			t.Fatalf("subscription after %v started at %s@%d", mid.Position, r.Stream, r.Revision)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription from the middle delivered nothing")
	}
}

func testSubscribeError(t *testing.T, h Harness) {
	s := open(t, h)
	mustAppend(t, s, stream(t), eventstore.NoStream(), Events("E", 1)...)
	boom := errors.New("boom")
	err := s.Subscribe(context.Background(), eventstore.Position{}, func(context.Context, []eventstore.Record) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("subscribe = %v, want the handler's error", err)
	}
}

func testConcurrentOneStream(t *testing.T, h Harness) {
	s := open(t, h)
	st := stream(t)
	mustAppend(t, s, st, eventstore.NoStream(), Events("Seed", 1)...)
	const writers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range writers {
		wg.Go(func() {
			_, err := s.Append(context.Background(), st, eventstore.Exactly(0), Events("Race", 1)...)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, eventstore.ErrWrongExpectedVersion):
				conflicts++
			default:
				t.Errorf("append: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != writers-1 {
		t.Fatalf("%d appends won and %d conflicted, want 1 and %d", wins, conflicts, writers-1)
	}
	got, _ := s.ReadStream(context.Background(), st, 0, 0)
	if len(got) != 2 {
		t.Fatalf("stream holds %d events, want 2", len(got))
	}
}

func testConcurrentManyStreams(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	start, _ := s.Head(ctx)
	const writers, each = 8, 20
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			st := stream(t)
			for i := range each {
				if _, err := s.Append(ctx, st, eventstore.After(uint64(i-1), i > 0), Events("W", 1)...); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	all, err := s.ReadAll(ctx, start, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each {
		t.Fatalf("read all: %d events, want %d", len(all), writers*each)
	}
	next := map[string]uint64{}
	for i, r := range all {
		if i > 0 && !all[i-1].Position.Less(r.Position) {
			t.Fatalf("positions not increasing at %d", i)
		}
		if r.Revision != next[r.Stream] {
			t.Fatalf("stream %s: revision %d read before %d", r.Stream, r.Revision, next[r.Stream])
		}
		next[r.Stream]++
	}
}

// testConcurrentRepeats: an append repeated by many writers at once (a
// client retrying while its first try is under way) is stored once, and
// every writer gets its result; the same events raced into different
// streams are stored in one of them only.
func testConcurrentRepeats(t *testing.T, h Harness) {
	s := open(t, h)
	ctx := context.Background()
	const writers, rounds = 16, 20
	for round := range rounds {
		st := stream(t)
		evs := Events("R", 2)
		results := make([]eventstore.AppendResult, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				r, err := s.Append(ctx, st, eventstore.Any(), evs...)
				if err != nil {
					t.Errorf("round %d: repeat %d: %v", round, w, err)
				}
				results[w] = r
			})
		}
		wg.Wait()
		for w, r := range results {
			if r != results[0] {
				t.Fatalf("round %d: writer %d got %+v, writer 0 %+v", round, w, r, results[0])
			}
		}
		if got, _ := s.ReadStream(ctx, st, 0, 0); len(got) != 2 {
			t.Fatalf("round %d: %d events stored, want 2", round, len(got))
		}
		if h.StreamIDsOnly {
			continue
		}
		raced := Events("X", 1)
		var stored, refused atomic.Int32
		for range writers {
			wg.Go(func() {
				_, err := s.Append(ctx, stream(t), eventstore.Any(), raced...)
				switch {
				case err == nil:
					stored.Add(1)
				case errors.Is(err, eventstore.ErrIdempotency):
					refused.Add(1)
				default:
					t.Errorf("round %d: racing one id into many streams: %v", round, err)
				}
			})
		}
		wg.Wait()
		if stored.Load() != 1 || refused.Load() != writers-1 {
			t.Fatalf("round %d: one id raced into %d streams: stored %d times, refused %d", round, writers, stored.Load(), refused.Load())
		}
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("this implementation's harness cannot reopen its storage")
	}
	s := h.New(t)
	st := stream(t)
	evs := Events("Kept", 2)
	first := mustAppend(t, s, st, eventstore.NoStream(), evs...)
	s = h.Reopen(t, s)
	t.Cleanup(func() { _ = s.Close() })
	got, err := s.ReadStream(context.Background(), st, 0, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("after reopen: %d events (err %v), want 2", len(got), err)
	}
	again, err := s.Append(context.Background(), st, eventstore.NoStream(), evs...)
	if err != nil || again != first {
		t.Fatalf("idempotent append after reopen = %+v, %v; want %+v", again, err, first)
	}
	next := mustAppend(t, s, st, eventstore.Exactly(1), Events("New", 1)...)
	if !first.Position.Less(next.Position) {
		t.Fatalf("position after reopen %v is not after %v", next.Position, first.Position)
	}
}

func testGuarded(t *testing.T, h Harness) {
	s := open(t, h)
	g, ok := s.(eventstore.Guarded)
	if h.NoGuards {
		if ok {
			t.Fatalf("%T implements eventstore.Guarded but its harness says it cannot guard", s)
		}
		return
	}
	if !ok {
		t.Fatalf("%T does not implement eventstore.Guarded", s)
	}
	ctx := context.Background()
	cases := []struct {
		name    string
		guarded int // events in the guard's stream
		guard   eventstore.Expected
		ok      bool
	}{
		{"guard at the revision read", 3, eventstore.Exactly(2), true},
		{"guard stream moved on", 3, eventstore.Exactly(1), false},
		{"guard stream ahead of the append", 3, eventstore.Exactly(5), false},
		{"guard requires no stream, none", 0, eventstore.NoStream(), true},
		{"guard requires no stream, one exists", 1, eventstore.NoStream(), false},
		{"guard requires a stream, none", 0, eventstore.StreamExists(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			guard, target := stream(t), stream(t)
			if c.guarded > 0 {
				mustAppend(t, s, guard, eventstore.NoStream(), Events("Seed", c.guarded)...)
			}
			evs := Events("Guarded", 2)
			res, err := g.AppendGuarded(ctx, target, eventstore.NoStream(), eventstore.Guard{Stream: guard, Expected: c.guard}, evs...)
			got, _ := s.ReadStream(ctx, target, 0, 0)
			if !c.ok {
				var wv *eventstore.WrongVersionError
				if !errors.Is(err, eventstore.ErrWrongExpectedVersion) || !errors.As(err, &wv) || wv.Stream != guard {
					t.Fatalf("err = %v, want a wrong expected version of the guard's stream %s", err, guard)
				}
				if len(got) != 0 {
					t.Fatalf("a refused guarded append stored %d events", len(got))
				}
				return
			}
			if err != nil || res.LastRevision != 1 || len(got) != 2 {
				t.Fatalf("guarded append = %+v, %v, stream holds %d events; want revision 1 and 2 events", res, err, len(got))
			}
			guardEvents, _ := s.ReadStream(ctx, guard, 0, 0)
			if len(guardEvents) != c.guarded {
				t.Fatalf("the guard's stream holds %d events after the append, want %d: a guard is only read", len(guardEvents), c.guarded)
			}
			// The same events again answer their first result, even once
			// the guard no longer holds.
			mustAppend(t, s, guard, eventstore.Any(), Events("Moved", 1)...)
			again, err := g.AppendGuarded(ctx, target, eventstore.NoStream(), eventstore.Guard{Stream: guard, Expected: c.guard}, evs...)
			if err != nil || again != res {
				t.Fatalf("guarded append sent again = %+v, %v, want the first result %+v", again, err, res)
			}
		})
	}
	t.Run("the target's expectation still counts", func(t *testing.T) {
		guard, target := stream(t), stream(t)
		mustAppend(t, s, target, eventstore.NoStream(), Events("Seed", 1)...)
		_, err := g.AppendGuarded(ctx, target, eventstore.NoStream(), eventstore.Guard{Stream: guard, Expected: eventstore.NoStream()}, Events("Guarded", 1)...)
		var wv *eventstore.WrongVersionError
		if !errors.As(err, &wv) || wv.Stream != target {
			t.Fatalf("err = %v, want a wrong expected version of the target %s", err, target)
		}
	})
	t.Run("a guard on the stream appended to is refused", func(t *testing.T) {
		st := stream(t)
		_, err := g.AppendGuarded(ctx, st, eventstore.Any(), eventstore.Guard{Stream: st, Expected: eventstore.Any()}, Events("Guarded", 1)...)
		if !errors.Is(err, eventstore.ErrInvalid) {
			t.Fatalf("err = %v, want invalid", err)
		}
	})
	t.Run("racing a change of the guard's stream", func(t *testing.T) {
		// Writers append to the guard's stream while guarded appends
		// expect it unchanged since they read it: every guarded append
		// that went through must have been decided on the revision it
		// was appended after.
		guard := stream(t)
		mustAppend(t, s, guard, eventstore.NoStream(), Events("Seed", 1)...)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					_, _ = s.Append(ctx, guard, eventstore.Any(), Events("Change", 1)...)
				}
			})
		}
		var mu sync.Mutex
		decided := map[string]uint64{} // target stream → guard revision read
		for range 8 {
			wg.Go(func() {
				for range 10 {
					recs, err := s.ReadStream(ctx, guard, 0, 0)
					if err != nil || len(recs) == 0 {
						t.Errorf("read guard: %v", err)
						return
					}
					read := recs[len(recs)-1].Revision
					target := "test-" + uuid.NewString()
					if _, err := g.AppendGuarded(ctx, target, eventstore.NoStream(), eventstore.Guard{Stream: guard, Expected: eventstore.Exactly(read)}, Events("Guarded", 1)...); err == nil {
						mu.Lock()
						decided[target] = read
						mu.Unlock()
					} else if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
						t.Errorf("guarded append: %v", err)
					}
				}
			})
		}
		wg.Wait()
		for target, read := range decided {
			recs, err := s.ReadStream(ctx, target, 0, 0)
			if err != nil || len(recs) != 1 {
				t.Fatalf("read %s: %v", target, err)
			}
			// Nothing of the guard's stream after the revision read may
			// come before the guarded event in the log.
			next, err := s.ReadStream(ctx, guard, read+1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(next) == 1 && next[0].Position.Less(recs[0].Position) {
				t.Fatalf("a guarded append decided on revision %d of the guard's stream landed after its revision %d", read, read+1)
			}
		}
	})
}
