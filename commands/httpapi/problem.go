package httpapi

// Errors are written as RFC 9457 problem details (application/problem+json)
// with a stable machine-readable code; every error kind is mapped to its
// status in this one place.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
)

// Problem is a problem document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
	// Rows names each bad row of an uploaded file, where that applies.
	Rows any `json:"rows,omitempty"`
}

// WithRows is an error that names the bad rows of an uploaded file.
type WithRows interface {
	error
	ProblemRows() any
}

// BadRequest is input the server cannot parse.
type BadRequest struct {
	Code string
	Err  error
}

func (e *BadRequest) Error() string { return e.Err.Error() }
func (e *BadRequest) Unwrap() error { return e.Err }

// Limited is a request refused because its caller used up a quota: the
// answer is 429 with the code and a Retry-After of the time until the quota
// comes back.
type Limited interface {
	error
	Limit() (code string, retryAfter time.Duration)
}

// Unavailable is something the server cannot answer yet, though it will
// soon (a read model behind the position a client asked to read at): 503
// with Retry-After.
type Unavailable struct {
	Code string
	Err  error
}

func (e *Unavailable) Error() string { return e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

// RouteError is a request for a route or method the API does not serve.
type RouteError struct {
	Status int
	Code   string
	Err    error
}

func (e *RouteError) Error() string { return e.Err.Error() }
func (e *RouteError) Unwrap() error { return e.Err }

// ProblemOf turns an error into problem details.
func ProblemOf(err error) Problem {
	var de *domain.Error
	var br *BadRequest
	var re *RouteError
	var un *Unavailable
	var lim Limited
	switch {
	case errors.As(err, &lim):
		code, _ := lim.Limit()
		return details(http.StatusTooManyRequests, code, lim.Error())
	case errors.As(err, &re):
		return details(re.Status, re.Code, re.Err.Error())
	case errors.As(err, &un):
		return details(http.StatusServiceUnavailable, un.Code, un.Err.Error())
	case errors.As(err, &de):
		status := map[domain.Kind]int{
			domain.Invalid:   http.StatusUnprocessableEntity,
			domain.NotFound:  http.StatusNotFound,
			domain.Forbidden: http.StatusForbidden,
			domain.Conflict:  http.StatusConflict,
		}[de.Kind]
		if status == 0 {
			status = http.StatusBadRequest
		}
		return details(status, de.Code, de.Message)
	case errors.As(err, &br):
		return details(http.StatusBadRequest, br.Code, br.Err.Error())
	case errors.Is(err, ErrUnauthenticated):
		return details(http.StatusUnauthorized, "unauthenticated", err.Error())
	case errors.Is(err, eventstore.ErrWrongExpectedVersion):
		return details(http.StatusConflict, "concurrency-conflict", "the data changed while the command ran, several times in a row; send it again")
	case errors.Is(err, eventstore.ErrIdempotency):
		return details(http.StatusUnprocessableEntity, "idempotency-key-reused", "this Idempotency-Key was used for a different command")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away or the request ran out of time: nothing
		// failed on the server's side, and nothing was appended unless the
		// append had already been decided.
		return details(http.StatusServiceUnavailable, "request-canceled", "the request was canceled before it completed")
	}
	return details(http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged")
}

func details(status int, code, detail string) Problem {
	return Problem{Type: "urn:shareledger:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// WriteProblem answers a request with err's problem details.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	d := ProblemOf(err)
	var rows WithRows
	if errors.As(err, &rows) {
		d.Rows = rows.ProblemRows()
	}
	d.Instance = r.URL.Path
	if d.Status == http.StatusInternalServerError {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if d.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	var lim Limited
	if errors.As(err, &lim) {
		_, after := lim.Limit()
		w.Header().Set("Retry-After", strconv.Itoa(int(after.Round(time.Second)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(d)
}
