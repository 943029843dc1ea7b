package commands

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/shareledger/shareledger/commands/auth"
	"github.com/shareledger/shareledger/commands/problem"
)

var keyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)

// MaxUpload bounds a command's body: a CSV file of invitations at most;
// JSON bodies are refused past 1 MiB by Decode.
const MaxUpload = 16 << 20

// MetaOf builds a command's metadata from its request: the caller from the
// bearer token; with an Idempotency-Key, a command ID scoped to the caller
// and the route (ScopedCommandID) and the fingerprint of the request, whose
// body it reads and puts back; without one, a fresh command ID. The
// correlation ID comes from X-Correlation-ID (else the command ID).
func MetaOf(r *http.Request, now time.Time) (Meta, error) {
	caller, ok := auth.Caller(r.Context())
	if !ok {
		return Meta{}, auth.ErrUnauthenticated
	}
	m := Meta{Caller: caller, IdempotencyKey: r.Header.Get("Idempotency-Key"), CorrelationID: r.Header.Get("X-Correlation-ID"), Time: now.UTC()}
	if m.IdempotencyKey == "" {
		m.CommandID = uuid.NewString()
	} else if !keyPattern.MatchString(m.IdempotencyKey) {
		return Meta{}, &problem.BadRequest{Code: "invalid-idempotency-key", Err: errors.New("Idempotency-Key must be 1 to 200 visible ASCII characters")}
	} else {
		scope := r.Method + " " + chi.RouteContext(r.Context()).RoutePattern()
		m.CommandID = ScopedCommandID(caller, scope, m.IdempotencyKey)
		hash, err := fingerprint(r)
		if err != nil {
			return Meta{}, err
		}
		m.RequestHash = hash
	}
	if m.CorrelationID == "" {
		m.CorrelationID = m.CommandID
	} else if !keyPattern.MatchString(m.CorrelationID) {
		return Meta{}, &problem.BadRequest{Code: "invalid-correlation-id", Err: errors.New("X-Correlation-ID must be 1 to 200 visible ASCII characters")}
	}
	return m, nil
}

// ErrTooLarge: the body is larger than any command takes.
var ErrTooLarge = &problem.RouteError{Status: http.StatusRequestEntityTooLarge, Code: "body-too-large", Err: fmt.Errorf("the request body is larger than %d MiB", MaxUpload>>20)}

// fingerprint hashes what makes a request the request it is: its method,
// its decoded path and its body, read whole and put back for the handler.
// The same key sent again must come with the same request (Stripe and the
// IETF Idempotency-Key draft answer otherwise with 422).
func fingerprint(r *http.Request) (string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxUpload+1))
	if err != nil {
		return "", &problem.BadRequest{Code: "invalid-body", Err: fmt.Errorf("request body: %w", err)}
	}
	if len(body) > MaxUpload {
		return "", ErrTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Decode reads a JSON body strictly: unknown fields (field names are
// case-sensitive, as the OpenAPI description has them) and trailing data
// are errors, and bodies over 1 MiB are refused.
func Decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return &problem.BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &problem.BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &problem.BadRequest{Code: "invalid-json", Err: errors.New("request body: unexpected data after the JSON value")}
	}
	if err := exactFields(body, reflect.TypeOf(v)); err != nil {
		return &problem.BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
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

// Respond writes a command's result: 201 when it created something new.
func Respond(w http.ResponseWriter, res Result, created bool) {
	w.Header().Set("Content-Type", "application/json")
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	status := http.StatusOK
	if created && !res.Replayed {
		status = http.StatusCreated
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// Serve adapts a handler to HTTP: it builds the command from the request
// with build (which decodes the body), runs it, and answers.
func Serve[C any](h Handler[C], now func() time.Time, created bool, build func(w http.ResponseWriter, r *http.Request, m Meta) (C, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := MetaOf(r, now())
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		c, err := build(w, r, m)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		res, err := h.Handle(r.Context(), c)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		Respond(w, res, created)
	}
}

// DecodedPaths routes on the decoded path, so a path parameter arrives as
// the client meant it whether or not it was percent-encoded (a browser's
// encodeURIComponent writes '@' as %40). Identifiers never hold '/', so an
// encoded slash may split a segment: that route then does not exist.
func DecodedPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath == "" {
			rctx.RoutePath = r.URL.Path
		}
		next.ServeHTTP(w, r)
	})
}

// AllowedMethods lists the methods that mux serves at path, for the Allow
// header of a 405 answer (RFC 9110).
func AllowedMethods(mux chi.Routes, path string) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if mux.Match(chi.NewRouteContext(), m, path) {
			out = append(out, m)
		}
	}
	return out
}
