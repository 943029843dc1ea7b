package readapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/replay"
)

// Operations runs what operators ask for.
type Operations interface {
	// Rebuild starts rebuilding the named projections (none: every one
	// with read models) blue/green in the background, and returns their
	// names.
	Rebuild(names []string) ([]string, error)
}

// RebuildRequest names the projections to rebuild (none: all).
type RebuildRequest struct {
	Projections []string `json:"projections"`
}

// RebuildStarted answers a rebuild request.
type RebuildStarted struct {
	Projections []string `json:"projections"`
	// Status is where the rebuilds' progress shows.
	Status string `json:"status"`
}

// OperatorRoutes mounts the operations routes; they need an operator's
// token.
func (a *API) OperatorRoutes(r chi.Router) {
	r.Post("/v1/admin/rebuilds", a.startRebuild)
	r.Get("/v1/admin/rebuilds", a.rebuildStates)
	r.Get("/v1/admin/projections", a.operatorProjections)
	r.Post("/v1/admin/verifications", a.startVerify)
	r.Get("/v1/admin/verifications", a.latestVerify)
}

// operatorProjections is GET /v1/projections for operators: the status of
// every projection, which is no account's.
func (a *API) operatorProjections(w http.ResponseWriter, r *http.Request) {
	var out any
	err := a.Store.View(r.Context(), func(tx projections.Reader) error {
		var err error
		out, err = a.projections(r.Context(), r, tx, directory.User{})
		return err
	})
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (a *API) startRebuild(w http.ResponseWriter, r *http.Request) {
	if a.Operations == nil {
		httpapi.WriteProblem(w, r, &httpapi.RouteError{Status: http.StatusNotImplemented, Code: "no-operations", Err: errors.New("this instance runs no rebuilds")})
		return
	}
	var req RebuildRequest
	if err := decodeOptional(w, r, &req); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	names, err := a.Operations.Rebuild(req.Projections)
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/v1/admin/rebuilds")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(RebuildStarted{Projections: names, Status: "/v1/admin/rebuilds"})
}

// decodeOptional decodes a body that may be left out; when there is one it
// is decoded as a command's is (httpapi.Decode).
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		return &httpapi.BadRequest{Code: "invalid-json", Err: fmt.Errorf("request body: %w", err)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return httpapi.Decode(w, r, v)
}

func (a *API) rebuildStates(w http.ResponseWriter, r *http.Request) {
	var states []replay.RebuildState
	err := a.Store.View(r.Context(), func(tx projections.Reader) error {
		var err error
		states, err = replay.Rebuilds(r.Context(), tx)
		return err
	})
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	if states == nil {
		states = []replay.RebuildState{}
	}
	w.Header().Set("Content-Type", "application/json")
	// One entry per projection: a list that never needs a second page.
	_ = json.NewEncoder(w).Encode(Page[replay.RebuildState]{Items: states})
}
