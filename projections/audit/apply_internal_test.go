package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
)

// encodingTx is a transaction that encodes what it is given as a store
// does (projections.Encode) and keeps nothing: what applying an event
// costs the index, without a store's own work.
type encodingTx struct {
	projections.Tx
	bytes int
}

func (t *encodingTx) Put(_ context.Context, _, _ string, v any) error {
	d, err := projections.Encode(v)
	t.bytes += len(d)
	return err
}

// go test -run '^$' -bench Apply -benchmem ./projections/audit/
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	var envs []projections.Envelope
	for i := range 1000 {
		r := eventstore.Record{Stream: "partnership-acme-rentco", Revision: uint64(i), Position: eventstore.Position{Commit: uint64(1000 + i), Prepare: uint64(1000 + i)}}
		r.ID, r.Type, r.Version = fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "DeviceSharedWithPartner", 1
		r.Data = fmt.Appendf(nil, `{"partnership":"acme-rentco","owner":"acme","partner":"rentco","device":"dev-%04d","note":"shared <for> the site & yard"}`, i)
		r.Meta.Time, r.Meta.User, r.Meta.Account = at, "alice@acme.example", "acme"
		r.Meta.CommandID, r.Meta.CorrelationID = fmt.Sprintf("cmd-%d", i), fmt.Sprintf("corr-%d", i)
		envs = append(envs, projections.Envelope{Record: r})
	}
	tx := &encodingTx{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := (Projection{}).Apply(ctx, tx, envs[i%len(envs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tx.bytes)/float64(b.N), "bytes/op")
}

// An entry encoded by hand is what json.Marshal makes of it: the same
// bytes where its data is compact JSON without the characters HTML gives
// meaning to (json.Marshal escapes those inside raw JSON too), and the
// same value decoded in every case.
func TestEntryEncodesAsJSONMarshal(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	odd := "q\" b\\ n\n r\r t\t b\b f\f nul\x00 esc\x1b <a href=\"x\">&amp; \u2028\u2029 é 😀 bad\xff\xfe end"
	cases := []struct {
		name    string
		e       Entry
		sameRaw bool
	}{
		{"plain", Entry{Position: eventstore.Position{Commit: 7, Prepare: 7}, EventID: "e1", Type: "PartnerRequested", Version: 1,
			Stream: "account-acme", Revision: 3, Time: at, Actor: "alice@acme.example", ActorAccount: "acme", CommandID: "c1",
			CorrelationID: "k1", Summary: "alice (acme): PartnerRequested partner=rentco", Data: json.RawMessage(`{"partner":"rentco","kind":"rental"}`),
			Accounts: []string{"acme", "rentco"}}, true},
		{"idempotency key, no accounts, zero time", Entry{EventID: "e2", IdempotencyKey: "idem-1", Data: json.RawMessage(`null`)}, true},
		{"empty accounts, data absent", Entry{EventID: "e3", Accounts: []string{}, Time: time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 5*3600))}, false},
		{"every odd character in every string", Entry{Position: eventstore.Position{Commit: 1<<64 - 1, Prepare: 1 << 63}, EventID: odd, Type: odd, Version: -2,
			Stream: odd, Revision: 1<<64 - 1, Time: at.In(time.FixedZone("y", -3*3600-1800)), Actor: odd, ActorAccount: odd, CommandID: odd,
			IdempotencyKey: odd, CorrelationID: odd, Summary: odd, Data: json.RawMessage(`{"x":[1,2.5e3,"a\u00e9"],"y":{"z":null}}`),
			Accounts: []string{odd, ""}}, true},
		{"data with spaces and HTML", Entry{EventID: "e4", Data: json.RawMessage(`{"x": [1, 2.5e3, "<&>"], "y": {"z": null}}`)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.e.encode()
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(&c.e)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
			if c.sameRaw && string(got) != string(want) {
				t.Fatalf("encoded\n%s\nwant\n%s", got, want)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("decodes to\n%v\nwant\n%v", g, w)
			}
		})
	}
	// A time json.Marshal refuses is refused; one it writes in a zone
	// of odd seconds, it writes.
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600))} {
		if _, err := (&Entry{Time: at}).encode(); err == nil {
			t.Errorf("%v encoded", at)
		}
	}
	oddZone := Entry{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("lmt", 3600+30))}
	got, err := oddZone.encode()
	want, wantErr := json.Marshal(&oddZone)
	if (err != nil) != (wantErr != nil) || string(got) != string(want) {
		t.Errorf("a zone of odd seconds: %s %v, want %s %v", got, err, want, wantErr)
	}
}
