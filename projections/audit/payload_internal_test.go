package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shareledger/shareledger/domain/team"
	"github.com/shareledger/shareledger/eventstore"
)

// decodedWhole is what the index read of an event before it read only its
// top-level fields: the whole payload decoded into maps and slices. The
// entities and the summary are defined by it.
func decodedWhole(typ, stream string, r eventstore.Record) ([]Entity, string, error) {
	var p map[string]any
	if err := json.Unmarshal(r.Data, &p); err != nil {
		return nil, "", err
	}
	var out []Entity
	for f, kind := range entityFields {
		v, ok := p[f].(string)
		if !ok || v == "" || (f == "role" && !strings.HasPrefix(typ, "Role")) {
			continue
		}
		out = append(out, Entity{kind, v})
	}
	if v, ok := p["project"].(string); ok && v != "" {
		kind := "project"
		if team.IsProjectStream(stream) {
			kind = "cloud-project"
		}
		out = append(out, Entity{kind, v})
	}
	out = append(out, Entity{"stream", stream})
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+"\x00"+out[i].ID < out[j].Kind+"\x00"+out[j].ID })
	out = slices.CompactFunc(out, func(a, b Entity) bool { return a == b })
	var parts []string
	for _, f := range summaryFields {
		if v, ok := p[f]; ok && v != "" && v != nil {
			parts = append(parts, fmt.Sprintf("%s=%v", f, v))
		}
	}
	return out, line(r, parts), nil
}

// The entities and the summary read from the top-level fields are those
// that decoding the whole payload gives: for every event of the golden
// logs, and for payloads that try the edges of JSON strings and values.
func TestPayloadReadsAsTheWholeDecoded(t *testing.T) {
	events := goldenEvents(t)
	events = append(events, edgeEvents...)
	if len(events) < 100 {
		t.Fatalf("only %d events to compare", len(events))
	}
	for _, e := range events {
		r := eventstore.Record{Stream: e.stream}
		r.Type, r.Data = e.typ, []byte(e.data)
		r.Meta.User, r.Meta.Account = "alice@acme.example", "acme"
		wantEntities, wantSummary, err := decodedWhole(e.typ, e.stream, r)
		if err != nil {
			t.Fatalf("%s: %v", e.data, err)
		}
		p, err := PayloadOf(r.Data)
		if err != nil {
			t.Fatalf("%s: %v", e.data, err)
		}
		if got := EntitiesOf(e.typ, e.stream, p); !slices.Equal(got, wantEntities) {
			t.Errorf("%s %s: entities %v, want %v", e.typ, e.data, got, wantEntities)
		}
		if got := summary(r, p); got != wantSummary {
			t.Errorf("%s %s: summary %q, want %q", e.typ, e.data, got, wantSummary)
		}
	}
}

// PayloadOf gives what json.Unmarshal gives into a Payload, and fails
// where it fails: for every event of the golden logs, and for inputs that
// try the edges of JSON's syntax.
func TestPayloadOfIsJSONUnmarshal(t *testing.T) {
	inputs := []string{
		`{}`, ` { } `, `null`, ` null `, "{\"a\":1}\n",
		`{"a":"x\"}{][","b":{"c":["}",{"d":"\\"}]},"e":[],"f":{}}`,
		`{"a" : 1 , "b" :	-2.5e-3 ,"c":true,"d":false,"e":null}`,
		`{"a\u0062":1,"\"q\"":2,"k\\":3}`,
		`{"a":1,"a":{"x":2}}`,
		"{\"in\xffvalid\":\"v\"}",
		`{"nested":{"a":{"b":{"c":[1,[2,[3,{"d":"]"}]]]}}},"after":"yes"}`,
		`{"😀":"é","a":"\ud83d\ude00"}`,
		// Not objects, or not JSON: json.Unmarshal's errors.
		``, ` `, `[]`, `"s"`, `1`, `true`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{'a':1}`, `nul`, `{"a":01}`,
	}
	for _, e := range goldenEvents(t) {
		inputs = append(inputs, e.data)
	}
	for _, in := range inputs {
		var want Payload
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := PayloadOf([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: error %v, json.Unmarshal's %v", in, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if (got == nil) != (want == nil) || len(got) != len(want) {
			t.Errorf("%q: %v, want %v", in, got, want)
			continue
		}
		for k, v := range want {
			if string(got[k]) != string(v) {
				t.Errorf("%q: field %q is %s, want %s", in, k, got[k], v)
			}
		}
	}
}

// edgeEvents are payloads that try the edges of JSON strings and values.
var edgeEvents = []event{
	{"partnership-acme-rentco", "DeviceSharedWithPartner", `{"device":"d\"1\\","partner":"rent\u00e9co","owner":"acme","devices":["a","b"],"kind":3.50,"name":null,"reason":""}`},
	{"collection-x", "RoleAssigned", `{"role":"viewer","user":"a\u0000b","item":"\ud83d\ude00","member":"m\/1","design":{"z":1,"a":[true,null]}}`},
	{"account-acme", "UserAdded", `{"role":"Administrator","user":"bob","email":"","account":"acme","job":7,"node":false}`},
	{"project-acme-p1", "MemberInvited", `{"project":"p1","email":"x@y","account":"acme","account":"other"}`},
	{"account-acme", "Odd", "{\"user\":\"in\xffvalid\",\"name\":\"tab\\there\",\"device\":\"  spaced  \"}"},
	{"account-acme", "Empty", `{}`},
	{"account-acme", "Null", `null`},
}

// event is an event of the golden logs, as the index sees it.
type event struct {
	stream, typ string
	data        string
}

// goldenEvents are the events of the golden logs (projections/testdata).
func goldenEvents(t *testing.T) []event {
	t.Helper()
	logs, err := filepath.Glob("../testdata/*.jsonl")
	if err != nil || len(logs) == 0 {
		t.Fatalf("no golden logs: %v", err)
	}
	var events []event
	for _, name := range logs {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Stream string          `json:"stream"`
				Type   string          `json:"type"`
				Data   json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			events = append(events, event{line.Stream, line.Type, string(line.Data)})
		}
		_ = f.Close()
	}
	return events
}
