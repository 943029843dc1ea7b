package pebble

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shareledger/shareledger/eventstore"
)

// Records read back as written, in the wire format and in the JSON of
// records written before it; a damaged record is an error, never a panic.
func TestRecordFormats(t *testing.T) {
	cases := []struct {
		name string
		rec  stored
	}{
		{"every field", stored{Revision: 41, storedBody: storedBody{ID: "e1", Stream: "partnership-a+b/designs/d1", Type: "DesignSentToDevice", Version: 2,
			Data: json.RawMessage(`{"device":"d1","design":"deck.dxf"}`),
			Meta: eventstore.Meta{User: "ann@a.test", Account: "a", CommandID: "c", CorrelationID: "k", CausationID: "x",
				Time: time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC), IdempotencyKey: "order-42", RequestHash: "5d41"}}}},
		{"the first revision, no time, empty meta", stored{storedBody: storedBody{ID: "e2", Stream: "s", Type: "T", Version: 1, Data: json.RawMessage(`null`)}}},
		{"a time before 1970 and text beyond ASCII", stored{Revision: 1 << 40, storedBody: storedBody{ID: "e3", Stream: "collection-ü", Type: "T", Version: 1,
			Data: json.RawMessage(`{"name":"Baustelle Süd ✓"}`), Meta: eventstore.Meta{User: "zoë@b.test", Time: time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := encodeRecord(c.rec.Revision, encodeBody(c.rec.storedBody))
			got, err := decodeRecord(wire)
			if err != nil || !reflect.DeepEqual(got, c.rec) {
				t.Fatalf("wire format read back as %+v, %v; want %+v", got, err, c.rec)
			}
			legacy, err := json.Marshal(c.rec)
			if err != nil {
				t.Fatal(err)
			}
			old, err := decodeRecord(legacy)
			if err != nil || old.ID != c.rec.ID || old.Revision != c.rec.Revision || !old.Meta.Time.Equal(c.rec.Meta.Time) || string(old.Data) != string(c.rec.Data) {
				t.Fatalf("a JSON record read back as %+v, %v; want %+v", old, err, c.rec)
			}
			for n := 1; n < len(wire); n++ {
				_, _ = decodeRecord(wire[:n]) // no panic on a cut record
			}
			if _, err := decodeRecord(wire[:len(wire)-1]); err == nil {
				t.Fatalf("a record cut short read without error")
			}
		})
	}
}
