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
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/shareledger/shareledger/commands/httpapi"
)

var keyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)

// MaxUpload bounds a command's body: a CSV file of invitations at most;
// JSON bodies are refused past 1 MiB by Decode.
const MaxUpload = 16 << 20

// MetaOf builds a command's metadata from its request: the caller from the
// bearer token; with an Idempotency-Key, a command ID scoped to the caller
// and the route (ScopedCommandID) and the fingerprint of the request, whose
// body it reads and puts back; without one, a fresh command ID (Meta.Fresh). The
// correlation ID comes from X-Correlation-ID (else the command ID).
func MetaOf(r *http.Request, now time.Time) (Meta, error) {
	caller, ok := httpapi.Caller(r.Context())
	if !ok {
		return Meta{}, httpapi.ErrUnauthenticated
	}
	m := Meta{Caller: caller, IdempotencyKey: r.Header.Get("Idempotency-Key"), CorrelationID: r.Header.Get("X-Correlation-ID"), Time: now.UTC()}
	if m.IdempotencyKey == "" {
		m.CommandID, m.Fresh = uuid.NewString(), true
	} else if !keyPattern.MatchString(m.IdempotencyKey) {
		return Meta{}, &httpapi.BadRequest{Code: "invalid-idempotency-key", Err: errors.New("Idempotency-Key must be 1 to 200 visible ASCII characters")}
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
		return Meta{}, &httpapi.BadRequest{Code: "invalid-correlation-id", Err: errors.New("X-Correlation-ID must be 1 to 200 visible ASCII characters")}
	}
	return m, nil
}

// ErrTooLarge: the body is larger than any command takes.
var ErrTooLarge = &httpapi.RouteError{Status: http.StatusRequestEntityTooLarge, Code: "body-too-large", Err: fmt.Errorf("the request body is larger than %d MiB", MaxUpload>>20)}

// fingerprint hashes what makes a request the request it is: its method,
// its decoded path and its body, read whole and put back for the handler.
// The same key sent again must come with the same request (Stripe and the
// IETF Idempotency-Key draft answer otherwise with 422).
func fingerprint(r *http.Request) (string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxUpload+1))
	if err != nil {
		return "", &httpapi.BadRequest{Code: "invalid-body", Err: fmt.Errorf("request body: %w", err)}
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
			httpapi.WriteProblem(w, r, err)
			return
		}
		c, err := build(w, r, m)
		if err != nil {
			httpapi.WriteProblem(w, r, err)
			return
		}
		res, err := h.Handle(r.Context(), c)
		if err != nil {
			httpapi.WriteProblem(w, r, err)
			return
		}
		Respond(w, res, created)
	}
}
