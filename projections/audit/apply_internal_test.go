package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

// An entry is stored as an array of its fields (encode) and reads back
// (UnmarshalJSON) as the same entry, its summary made as the index makes
// it; an entry as the API shows it, as the index stored it before, reads
// as json.Unmarshal reads it.
func TestEntryIsStoredAsAnArrayAndReadsBack(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)
	odd := "q\" b\\ n\n r\r t\t b\b f\f nul\x00 esc\x1b <a href=\"x\">&amp; \u2028\u2029 é 😀 bad\xff\xfe end"
	cases := []struct {
		name    string
		e       Entry
		summary string
	}{
		{"plain", Entry{Position: eventstore.Position{Commit: 7, Prepare: 7}, EventID: "e1", Type: "PartnerRequested", Version: 1,
			Stream: "account-acme", Revision: 3, Time: at, Actor: "alice@acme.example", ActorAccount: "acme", CommandID: "c1",
			CorrelationID: "k1", Summary: "stored before", Data: json.RawMessage(`{"partner":"rentco","kind":"rental"}`),
			Accounts: []string{"acme", "rentco"}}, "alice@acme.example (acme): PartnerRequested partner=rentco kind=rental"},
		{"idempotency key, no accounts, zero time", Entry{EventID: "e2", IdempotencyKey: "idem-1", Data: json.RawMessage(`null`)}, "system:"},
		{"empty accounts, data absent", Entry{EventID: "e3", Accounts: []string{}, Time: time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 5*3600))}, "system:"},
		{"every odd character in every string", Entry{Position: eventstore.Position{Commit: 1<<64 - 1, Prepare: 1 << 63}, EventID: odd, Type: odd, Version: -2,
			Stream: odd, Revision: 1<<64 - 1, Time: at.In(time.FixedZone("y", -3*3600-1800)), Actor: odd, ActorAccount: odd, CommandID: odd,
			IdempotencyKey: odd, CorrelationID: odd, Summary: odd, Data: json.RawMessage(`{"x":[1,2.5e3,"a\u00e9"],"y":{"z":null},"device":"d\"1"}`),
			Accounts: []string{odd, ""}}, ""},
		{"data with spaces and HTML", Entry{EventID: "e4", Type: "T", Data: json.RawMessage(`{"x": [1, 2.5e3, "<&>"], "kind": {"z": null}}`)}, "system: T kind=map[z:<nil>]"},
	}
	api := func(e Entry) string {
		t.Helper()
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stored, err := c.e.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(stored) || stored[0] != '[' {
				t.Fatalf("not an array: %s", stored)
			}
			if strings.Contains(string(stored), c.e.Summary) && c.e.Summary != "" && c.e.Summary != odd {
				t.Fatalf("the summary is stored: %s", stored)
			}
			var got Entry
			if err := json.Unmarshal(stored, &got); err != nil {
				t.Fatal(err)
			}
			// What JSON holds of it (U+FFFD for bytes that are not
			// UTF-8), with its summary made again.
			var want Entry
			if err := json.Unmarshal([]byte(api(c.e)), &want); err != nil {
				t.Fatal(err)
			}
			want.Summary = c.summary
			if c.summary == "" {
				o := want.Actor
				want.Summary = o + " (" + o + "): " + o + " device=d\"1"
			}
			if api(got) != api(want) {
				t.Fatalf("reads back as\n%s\nwant\n%s", api(got), api(want))
			}
			var shown Entry
			if err := json.Unmarshal([]byte(api(c.e)), &shown); err != nil || api(shown) != api(c.e) && !strings.Contains(c.name, "odd") {
				t.Fatalf("as the API shows it, reads as\n%s (%v)\nwant\n%s", api(shown), err, api(c.e))
			}
		})
	}
	for _, bad := range []string{`[]`, `[1,"7"]`, `[2,"7","e","T",1,"s",0,"2026-01-01T00:00:00Z","a","acc","c","","k",null]`, `[2,7,"e","T",1,"s",0,"2026-01-01T00:00:00Z","a","acc","c","","k",null,null]`} {
		if err := json.Unmarshal([]byte(bad), new(Entry)); err == nil {
			t.Errorf("%s read as an entry", bad)
		}
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
	if err != nil || !strings.Contains(string(got), `"2026-01-01T00:00:00+01:00"`) {
		t.Errorf("a zone of odd seconds: %s %v", got, err)
	}
}
