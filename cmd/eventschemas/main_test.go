package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/catalog"
)

// The published files are what the Go types say today: a type changed, or
// a doc comment reworded, without running the generator fails here.
func TestPublishedSchemasAreCurrent(t *testing.T) {
	g, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	if err := publish("../..", g, true); err != nil {
		t.Fatal(err)
	}
}

// Every version of every event type, as encoding/json writes its Go type
// (empty, and with every field set), is valid under its schema; and every
// stored version has one. "Empty" leaves the named values (a role, a
// level, a partner type) set: their zero value is invalid, and the domain
// never records it.
func TestSchemasDescribeTheirTypes(t *testing.T) {
	g, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Event{}
	for _, e := range g.events {
		byKey[fmt.Sprint(e.Type, e.Version)] = e
	}
	for _, s := range catalog.New().Stored() {
		e, ok := byKey[fmt.Sprint(s.Name, s.Version)]
		if !ok {
			t.Fatalf("%s v%d has no schema", s.Name, s.Version)
		}
		for _, filled := range []bool{false, true} {
			v := reflect.New(s.Type).Elem()
			if filled {
				fill(v)
			} else {
				fillNames(v)
			}
			b, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if err := validate(e.Schema, doc, "$"); err != nil {
				t.Errorf("%s v%d (filled %v): %s does not fit its schema: %v", s.Name, s.Version, filled, b, err)
			}
		}
	}
}

// A published version whose type changed is refused, however the files
// are regenerated: a stored event's meaning never changes.
func TestAChangedTypeNeedsANewVersion(t *testing.T) {
	g, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "docs", "events"), 0o755); err != nil {
		t.Fatal(err)
	}
	sealed, err := os.ReadFile(filepath.Join("../..", sealedFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, sealedFile), sealed, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(e *Event)
		refuse bool
	}{
		{"a field added", func(e *Event) { e.Schema["properties"].(map[string]any)["extra"] = map[string]any{"type": "string"} }, true},
		{"a field no longer required", func(e *Event) { e.Schema["required"] = []string{} }, true},
		{"the description reworded", func(e *Event) { e.Schema["description"] = "Other words." }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events := slices.Clone(g.events)
			changed := events[0]
			changed.Schema = map[string]any{}
			for k, v := range g.events[0].Schema {
				changed.Schema[k] = v
			}
			props := map[string]any{}
			for k, v := range g.events[0].Schema["properties"].(map[string]any) {
				props[k] = v
			}
			changed.Schema["properties"] = props
			c.change(&changed)
			events[0] = changed
			_, err := seal(root, events)
			if (err != nil) != c.refuse || (err != nil && !strings.Contains(err.Error(), changed.Type)) {
				t.Fatalf("seal: %v (refuse: %v)", err, c.refuse)
			}
		})
	}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// fillNames sets the named values of a struct, and nothing else.
func fillNames(v reflect.Value) {
	if v.Kind() != reflect.Struct || v.Type() == timeType {
		return
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if f.Type().Implements(enumerated) {
			fill(f)
		} else {
			fillNames(f)
		}
	}
}

// fill sets every field of v to a value that is not zero.
func fill(v reflect.Value) {
	t := v.Type()
	switch {
	case t == timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)))
		return
	case t.Implements(enumerated) && reflect.PointerTo(t).Implements(textUnmarshaler):
		names := reflect.Zero(t).Interface().(domain.Enumerated).EnumNames()
		_ = v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(names[len(names)-1]))
		return
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Slice:
		s := reflect.MakeSlice(t, 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(t)
		k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// validate checks doc against the part of JSON Schema the generator writes.
func validate(schema map[string]any, doc any, at string) error {
	if alts, ok := schema["anyOf"].([]any); ok {
		for _, s := range alts {
			if validate(s.(map[string]any), doc, at) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: fits none of anyOf", at)
	}
	if typ, ok := schema["type"]; ok {
		var types []string
		switch v := typ.(type) {
		case string:
			types = []string{v}
		case []string:
			types = v
		}
		if !slices.Contains(types, jsonType(doc)) {
			return fmt.Errorf("%s: %s, want %v", at, jsonType(doc), types)
		}
	}
	if enum, ok := schema["enum"].([]string); ok && !slices.Contains(enum, fmt.Sprint(doc)) {
		return fmt.Errorf("%s: %v is not one of %v", at, doc, enum)
	}
	switch d := doc.(type) {
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range d {
				if err := validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := d[r]; !ok {
				return fmt.Errorf("%s: %s is required", at, r)
			}
		}
		for k, x := range d {
			if p, ok := props[k]; ok {
				if err := validate(p.(map[string]any), x, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch extra := schema["additionalProperties"].(type) {
			case bool:
				if !extra {
					return fmt.Errorf("%s: %s is not in the schema", at, k)
				}
			case map[string]any:
				if err := validate(extra, x, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func asStrings(v any) []string {
	s, _ := v.([]string)
	return s
}

func jsonType(doc any) string {
	switch d := doc.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if d == float64(int64(d)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}
