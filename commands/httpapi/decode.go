package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// Decode reads a JSON body strictly: unknown fields (field names are
// case-sensitive, as the OpenAPI description has them) and trailing data
// are errors, and bodies over 1 MiB are refused.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return &BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &BadRequest{Code: "invalid-json", Err: errors.New("request body: unexpected data after the JSON value")}
	}
	if err := exactFields(body, reflect.TypeOf(v)); err != nil {
		return &BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
	}
	return nil
}

// exactFields checks that every object key of a JSON value that decoded
// into t names a field of t exactly: encoding/json matches field names
// without regard to case, so "nAme" would otherwise be taken for "name".
// data is JSON the decoder accepted: its keys are read by a scan, not by
// decoding it a second time into maps, which was about 40% of decoding a
// small body.
func exactFields(data []byte, t reflect.Type) error {
	_, err := exactValue(data, skipSpace(data, 0), t)
	return err
}

// exactValue checks the value at data[i] against t (nil: a value whose
// keys name nothing, only read past) and returns where it ends.
func exactValue(data []byte, i int, t reflect.Type) (int, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch data[i] {
	case '{':
		var fields map[string]reflect.Type
		var values reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = fieldsOf(t)
		} else if t != nil && t.Kind() == reflect.Map {
			values = t.Elem()
		}
		for i = skipSpace(data, i+1); data[i] != '}'; {
			end := stringEnd(data, i)
			vt := values
			if fields != nil {
				key, err := keyOf(data[i:end])
				if err != nil {
					return end, err
				}
				ft, ok := fields[key]
				if !ok {
					return end, fmt.Errorf("json: unknown field %q (field names are case-sensitive)", key)
				}
				vt = ft
			}
			var err error
			if i, err = member(data, skipSpace(data, skipSpace(data, end)+1), vt); err != nil { // past the colon
				return i, err
			}
		}
		return i + 1, nil
	case '[':
		var items reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			items = t.Elem()
		}
		for i = skipSpace(data, i+1); data[i] != ']'; {
			var err error
			if i, err = member(data, i, items); err != nil {
				return i, err
			}
		}
		return i + 1, nil
	case '"':
		return stringEnd(data, i), nil
	}
	for i < len(data) && !strings.ContainsRune(",]} \t\r\n", rune(data[i])) {
		i++ // a number, true, false or null
	}
	return i, nil
}

// member checks the value of an object's or array's member at data[i]
// (exactValue) and returns where the next member starts, past the comma
// after it, or where the object or array ends.
func member(data []byte, i int, t reflect.Type) (int, error) {
	i, err := exactValue(data, i, t)
	if err != nil {
		return i, err
	}
	if i = skipSpace(data, i); data[i] == ',' {
		i = skipSpace(data, i+1)
	}
	return i, nil
}

// keyOf is an object key as the decoder reads it: most have no escapes.
func keyOf(quoted []byte) (string, error) {
	if !bytes.ContainsRune(quoted, '\\') {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var key string
	return key, json.Unmarshal(quoted, &key)
}

// stringEnd is where the JSON string starting at data[i] ends (past its
// closing quote).
func stringEnd(data []byte, i int) int {
	for i++; data[i] != '"'; i++ {
		if data[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipSpace is the first index from i that is not JSON whitespace (or
// len(data)).
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// fieldTypes holds, by struct type, its fields' JSON names and types: a
// map built for each object scanned would be an allocation a body.
var fieldTypes sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf is a struct type's fields by their JSON names.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldTypes.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	fieldTypes.Store(t, fields)
	return fields
}
