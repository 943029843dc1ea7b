package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/eventstore"

	"github.com/shareledger/shareledger/domain/partnership"
	"github.com/shareledger/shareledger/projections"
)

// applyAsBefore is the index's Apply as it was written before it read
// an event's fields in one pass (2026-12-03): through a Payload map, the
// entities and the summary from the whole payload decoded (decodedWhole),
// json.Marshal's entry, the position by fmt; and the event filed for each
// account that may see it, as FiledFor files one event. What it puts
// defines what Apply puts.
func applyAsBefore(ctx context.Context, tx projections.Tx, env projections.Envelope) error {
	r := env.Record
	payload, err := PayloadOf(r.Data)
	if err != nil {
		return err
	}
	e := Entry{
		Position: r.Position, EventID: r.ID, Type: r.Type, Version: r.Version, Stream: r.Stream, Revision: r.Revision,
		Time: r.Meta.Time, Actor: r.Meta.User, ActorAccount: r.Meta.Account, CommandID: r.Meta.CommandID,
		IdempotencyKey: r.Meta.IdempotencyKey, CorrelationID: r.Meta.CorrelationID, Data: r.Data,
	}
	accounts := map[string]bool{}
	if r.Meta.Account != "" {
		accounts[r.Meta.Account] = true
	}
	for _, f := range accountFields {
		if v, ok := payload.String(f); ok && v != "" {
			accounts[v] = true
		}
	}
	if pair, ok := partnership.AccountsOfStream(r.Stream); ok {
		for _, a := range pair {
			accounts[string(a)] = true
		}
	}
	for a := range accounts {
		e.Accounts = append(e.Accounts, a)
	}
	sort.Strings(e.Accounts)
	named, sum, err := decodedWhole(r.Type, r.Stream, r)
	if err != nil {
		return err
	}
	e.Summary = sum
	entities := map[string]bool{}
	for _, en := range named {
		entities[Key(en.Kind, en.ID)] = true
	}
	pos := fmt.Sprintf("%020d.%020d", r.Position.Commit, r.Position.Prepare)
	entry, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	if err := tx.Put(ctx, Entries, pos, projections.Encoded(entry)); err != nil {
		return err
	}
	for k := range entities {
		for _, a := range e.Accounts { // filed for each account that may see it (FiledFor), from 2026-12-03 (third)
			if err := tx.Put(ctx, FiledFor, ForKey(k, a)+pos, projections.Encoded("{}")); err != nil {
				return err
			}
		}
	}
	return nil
}

// line is a summary of r with parts, as the index wrote it before it
// built the line in one buffer: who did it (the user and account that
// did, or the system), what, and parts.
func line(r eventstore.Record, parts []string) string {
	actor := r.Meta.User
	if actor == "" {
		actor = "system"
	}
	if r.Meta.Account != "" {
		actor += " (" + r.Meta.Account + ")"
	}
	return strings.TrimSpace(actor + ": " + r.Type + " " + strings.Join(parts, " "))
}

// recordingTx keeps what is put in it, each document as the stores
// encode it.
type recordingTx struct {
	projections.Tx
	docs map[string][]byte
}

func (t *recordingTx) Put(_ context.Context, table, key string, v any) error {
	d, err := projections.Encode(v)
	if err != nil {
		return err
	}
	t.docs[table+" "+key] = d
	return nil
}

// Apply puts what it put before it read an event's fields in one pass
// (applyAsBefore): the same keys, the same filings byte for byte, and
// entries that read as the same entries (stored as arrays since
// 2026-12-03 (third), their summaries made when they are read,
// TestEntryIsStoredAsAnArrayAndReadsBack). For every event of the golden
// logs and the edges of JSON, under several streams, actors and
// positions, and for data the index refuses.
func TestApplyPutsAsBefore(t *testing.T) {
	ctx := context.Background()
	events := append(goldenEvents(t), edgeEvents...)
	events = append(events,
		event{"partnership-acme+rentco", "DeviceSharedWithPartner", `{"partnership":"acme+rentco","owner":"acme","partner":"rentco","device":"d1","note":"<b>&</b>"}`},
		event{"partnership-acme+rentco/extra", "DesignSentToDevice", `{"device":"d1","account":"rentco","project":"site","design":"a b.dxf","by":"bob"}`},
		event{"project-bridge", "JobAssigned", `{"project":"bridge","job":"deck","email":"crew@b.test","by":"admin@b.test","administrator":"x"}`},
		event{"account-acme", "Escaped", `{"dev\u0069ce":"d2","\u0070roject":"p","owner":"acme","owner":"other","user":"u/with/slashes","account":"` + strings.Repeat("a", 300) + `"}`},
		event{"account-acme", "Spaced", " {\n\t\"device\" :\t\"d3\" , \"kind\" : [1, {\"x\":\"}\"}] ,\"reason\":\"  \"\n} "},
		event{"account-acme", "Nothing", `{"unknown":"x","other":{"device":"not top level"}}`},
	)
	metas := []eventstore.Meta{
		{User: "alice@acme.example", Account: "acme", CommandID: "c1", CorrelationID: "k1", Time: time.Date(2026, 12, 3, 1, 2, 3, 456, time.UTC)},
		{CommandID: "c2", CorrelationID: "k2", IdempotencyKey: "idem <1>", Time: time.Date(2026, 12, 3, 1, 2, 3, 0, time.FixedZone("x", 5*3600))},
		{User: " padded ", Account: "rentco", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("lmt", 3600+30))},
	}
	refused := []string{``, `[]`, `"s"`, `{"a":}`, `{"a":1}x`, `nul`}
	compared := 0
	for i, e := range events {
		r := eventstore.Record{Stream: e.stream, Revision: uint64(i)}
		r.ID, r.Type, r.Version, r.Data = fmt.Sprintf("event-%d", i), e.typ, 1+i%2, []byte(e.data)
		r.Position = eventstore.Position{Commit: uint64(i) * 1000003, Prepare: uint64(i) * 1000003}
		if i%5 == 0 {
			r.Position = eventstore.Position{Commit: 1<<64 - 1 - uint64(i), Prepare: uint64(i)}
		}
		r.Meta = metas[i%len(metas)]
		got, want := &recordingTx{docs: map[string][]byte{}}, &recordingTx{docs: map[string][]byte{}}
		gotErr := (Projection{}).Apply(ctx, got, projections.Envelope{Record: r})
		wantErr := applyAsBefore(ctx, want, projections.Envelope{Record: r})
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%s %s: error %v, before %v", e.typ, e.data, gotErr, wantErr)
		}
		if !slices.Equal(slices.Sorted(maps.Keys(got.docs)), slices.Sorted(maps.Keys(want.docs))) {
			t.Fatalf("%s %s: put\n%v\nbefore\n%v", e.typ, e.data, slices.Sorted(maps.Keys(got.docs)), slices.Sorted(maps.Keys(want.docs)))
		}
		for k, w := range want.docs {
			g := got.docs[k]
			if strings.HasPrefix(k, Entries+" ") {
				// The same entry, read (its summary made again) and
				// shown as the API shows it.
				var ge, we Entry
				var gv, wv any
				if json.Unmarshal(g, &ge) != nil || json.Unmarshal(w, &we) != nil || !reflect.DeepEqual(shown(t, ge, &gv), shown(t, we, &wv)) {
					t.Fatalf("%s %s: entry\n%s\nbefore\n%s", e.typ, e.data, g, w)
				}
			} else if string(g) != string(w) {
				t.Fatalf("%s %s: %s is %s, before %s", e.typ, e.data, k, g, w)
			}
		}
		compared += len(want.docs)
	}
	if compared < 600 {
		t.Fatalf("only %d documents compared", compared)
	}
	for i, data := range append(refused, `{"device":"d1"}`) {
		r := eventstore.Record{Stream: "account-acme"}
		r.Type, r.Data = "Bad", []byte(data)
		if i == len(refused) { // a time an entry cannot hold
			r.Meta.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		gotErr := (Projection{}).Apply(ctx, &recordingTx{docs: map[string][]byte{}}, projections.Envelope{Record: r})
		wantErr := applyAsBefore(ctx, &recordingTx{docs: map[string][]byte{}}, projections.Envelope{Record: r})
		if gotErr == nil || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%q: error %v, before %v", data, gotErr, wantErr)
		}
	}
}

// shown is e as the API shows it, decoded into v.
func shown(t *testing.T, e Entry, v *any) any {
	t.Helper()
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
	return *v
}

// PositionKey is fmt's "%020d.%020d" of the position.
func TestPositionKeyIsPadded(t *testing.T) {
	for _, p := range []eventstore.Position{{}, {Commit: 1, Prepare: 1}, {Commit: 123456789, Prepare: 987}, {Commit: 1<<64 - 1, Prepare: 1<<64 - 1}, {Commit: 1e19, Prepare: 9}} {
		if got, want := PositionKey(p), fmt.Sprintf("%020d.%020d", p.Commit, p.Prepare); got != want {
			t.Errorf("%v: %s, want %s", p, got, want)
		}
	}
}
