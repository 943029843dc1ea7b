package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// exactFieldsByMaps is how exactFields worked before it scanned: each
// object decoded again into a map. It is the oracle of the scan.
func exactFieldsByMaps(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	check := func(raws map[string]json.RawMessage, typeOf func(string) (reflect.Type, bool)) error {
		for k, raw := range raws {
			ft, ok := typeOf(k)
			if !ok {
				return fmt.Errorf("json: unknown field %q (field names are case-sensitive)", k)
			}
			if err := exactFieldsByMaps(raw, ft); err != nil {
				return err
			}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		fields := fieldsOf(t)
		return check(obj, func(k string) (reflect.Type, bool) { ft, ok := fields[k]; return ft, ok })
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		return check(obj, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, raw := range items {
			if err := exactFieldsByMaps(raw, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

type inner struct {
	Name string `json:"name"`
	Tags []string
}

type outer struct {
	ID      string                     `json:"id,omitempty"`
	Inner   *inner                     `json:"inner"`
	ByName  map[string]inner           `json:"byName"`
	List    []inner                    `json:"list"`
	Any     any                        `json:"any"`
	Raw     json.RawMessage            `json:"raw"`
	Nested  map[string][]*inner        `json:"nested"`
	Numbers [2]float64                 `json:"numbers"`
	Loose   map[string]json.RawMessage `json:"loose"`
}

var exactBodies = []string{
	`{}`, `null`, ` { "id" : "a" , "inner" : { "name" : "x" , "Tags" : [ "t" ] } } `,
	`{"ID":"a"}`, `{"inner":{"Name":"x"}}`, `{"inner":{"name":"x","tags":[]}}`, `{"inner":null}`,
	`{"byName":{"k":{"name":"x"},"K":{"NAME":"y"}}}`, `{"list":[{"name":"a"},{"nAme":"b"}]}`,
	`{"list":[]}`, `{"any":{"Whatever":[{"X":1}]}}`, `{"raw":{"Anything":true}}`, `{"raw":[{"A":1}]}`,
	`{"nested":{"a":[{"name":"n"},null]}}`, `{"nested":{"a":[{"Name":"n"}]}}`, `{"numbers":[1e3,-2.5]}`,
	`{"loose":{"X":{"y":"z"}}}`, `{"na\u006de":"escaped, but the same name"}`, `{"inner":{"n\u0061me":"x"}}`,
	`{"inner":{"N\u0061me":"x"}}`, `{"id":"with \"quotes\" and \\ and }{ ][ inside"}`, `{"id":"\u00e9t\u00e9"}`,
	"{\"id\":\"a\",\n\t\"inner\":\r\n{\"name\":\"b\"}}", `{"unknown":1}`, `{"id":1,"id":"repeated"}`,
	`{"list":[{"name":"a","Tags":["x",{"Y":1}]}]}`, `{"id":true,"any":false,"raw":null}`,
}

// The scan answers as decoding again into maps did, on bodies the
// decoder accepts.
func TestExactFieldsScansAsTheMapsDid(t *testing.T) {
	refused := map[bool]bool{}
	defer func() {
		if !refused[true] || !refused[false] {
			t.Errorf("the bodies should include both exact and inexact names: %v", refused)
		}
	}()
	for _, tc := range []struct {
		name string
		t    reflect.Type
	}{
		{"struct", reflect.TypeFor[outer]()},
		{"pointer to struct", reflect.TypeFor[*outer]()},
		{"map of structs", reflect.TypeFor[map[string]outer]()},
		{"slice of structs", reflect.TypeFor[[]outer]()},
	} {
		for _, body := range exactBodies {
			if tc.t.Kind() == reflect.Map {
				body = `{"k":` + body + `}`
			} else if tc.t.Kind() == reflect.Slice {
				body = `[` + body + `,` + body + `]`
			}
			t.Run(tc.name+" "+body, func(t *testing.T) {
				if !json.Valid([]byte(body)) {
					t.Fatalf("not JSON: %s", body)
				}
				// Which of several wrong names is named depends on the
				// maps' order; whether one is, does not.
				got, want := exactFields([]byte(body), tc.t), exactFieldsByMaps([]byte(body), tc.t)
				if (got == nil) != (want == nil) {
					t.Fatalf("exactFields = %v, want %v", got, want)
				}
				refused[want != nil] = true
			})
		}
	}
}

// FuzzExactFields: on any JSON, the scan and the maps agree on whether
// every field name is exact.
func FuzzExactFields(f *testing.F) {
	for _, b := range exactBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !json.Valid([]byte(body)) {
			return
		}
		// The maps keep the last of a repeated key's values, where the
		// scan checks every one: on such a body the scan may refuse what
		// the maps let through (as decoding does), never the other way.
		repeated := repeatsKeys(body)
		for _, typ := range []reflect.Type{reflect.TypeFor[outer](), reflect.TypeFor[[]outer](), reflect.TypeFor[map[string]outer]()} {
			got, want := exactFields([]byte(body), typ), exactFieldsByMaps([]byte(body), typ)
			if (got == nil) != (want == nil) && !(repeated && got != nil) {
				t.Fatalf("%s into %v: exactFields = %v, the maps said %v", body, typ, got, want)
			}
		}
	})
}

// repeatsKeys says whether an object of the JSON body holds a key twice.
func repeatsKeys(body string) bool {
	dec := json.NewDecoder(strings.NewReader(body))
	type frame struct {
		keys    map[string]bool // nil in an array
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top != nil && top.keys != nil && top.wantKey {
			k := tok.(string)
			if top.keys[k] {
				return true
			}
			top.keys[k], top.wantKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		default:
			if top != nil && top.keys != nil {
				top.wantKey = true
			}
		}
	}
}

func TestRepeatsKeys(t *testing.T) {
	for body, want := range map[string]bool{
		`{}`: false, `{"a":1,"b":{"a":2}}`: false, `[{"a":1},{"a":2}]`: false, `{"a":[1,{"a":1}],"b":2}`: false,
		`{"a":1,"a":2}`: true, `{"":{"":""},"":{}}`: true, `{"a":{"b":1,"b":2}}`: true, `[{"a":[],"a":{}}]`: true,
		`{"a":{"x":1},"b":[{"y":1,"y":2}]}`: true,
	} {
		if got := repeatsKeys(body); got != want {
			t.Errorf("repeatsKeys(%s) = %v, want %v", body, got, want)
		}
	}
}
