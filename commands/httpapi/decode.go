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
func exactFields(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil // not an object (null): the decoder has judged it
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
		for k, raw := range obj {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("json: unknown field %q (field names are case-sensitive)", k)
			}
			if err := exactFields(raw, ft); err != nil {
				return err
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return nil
		}
		for _, raw := range obj {
			if err := exactFields(raw, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, raw := range items {
			if err := exactFields(raw, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}
