package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/replay"
)

// Verify states.
const (
	Verifying = "verifying"
	Equal     = "equal"     // the read models equal a rebuild from the log
	Different = "different" // some documents differ
	Failed    = "failed"
)

// VerifyState is the latest verification this instance ran: the named read
// models rebuilt from the log into a scratch store, each up to where the
// live one stands, and compared document by document.
type VerifyState struct {
	Projections []string            `json:"projections"`
	State       string              `json:"state"`
	Started     time.Time           `json:"started"`
	Finished    *time.Time          `json:"finished,omitempty"`
	Differences int                 `json:"differences"`
	Sample      []replay.Difference `json:"sample"` // the first of them
	Error       string              `json:"error,omitempty"`
}

// maxSample bounds the differences a verification keeps.
const maxSample = 20

// Verifications runs one verification at a time in the background, with
// verify (nil: this instance verifies nothing), and keeps the latest
// result, on this instance.
type Verifications struct {
	verify func(ctx context.Context, names []string) ([]string, []replay.Difference, error)
	check  func(names []string) error

	mu     sync.Mutex
	ctx    context.Context
	wg     sync.WaitGroup
	latest *VerifyState
}

// NewVerifications verifies with verify, which rebuilds the named
// projections (none: all) into scratch and compares; it returns their names.
// check refuses names that are not projections with read models, before a
// verification starts.
func NewVerifications(check func(names []string) error, verify func(ctx context.Context, names []string) ([]string, []replay.Difference, error)) *Verifications {
	return &Verifications{verify: verify, check: check, ctx: context.Background()}
}

// Serve runs verifications in ctx: they stop when it ends.
func (v *Verifications) Serve(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ctx = ctx
}

// Wait waits for the verification under way, if any.
func (v *Verifications) Wait() { v.wg.Wait() }

// ErrVerifying is returned when a verification is under way.
var ErrVerifying = &domain.Error{Kind: domain.Conflict, Code: "verification-in-progress", Message: "a verification is under way on this instance"}

// Start starts a verification of the named projections.
func (v *Verifications) Start(names []string) error {
	if err := v.check(names); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.latest != nil && v.latest.State == Verifying {
		return ErrVerifying
	}
	st := &VerifyState{Projections: names, State: Verifying, Started: time.Now().UTC(), Sample: []replay.Difference{}}
	v.latest = st
	ctx := v.ctx
	v.wg.Go(func() {
		chosen, diffs, err := v.verify(ctx, names)
		v.mu.Lock()
		defer v.mu.Unlock()
		now := time.Now().UTC()
		st.Finished, st.Projections, st.Differences = &now, chosen, len(diffs)
		st.Sample = append(st.Sample, diffs[:min(len(diffs), maxSample)]...)
		switch {
		case err != nil:
			st.State, st.Error = Failed, err.Error()
		case len(diffs) > 0:
			st.State = Different
		default:
			st.State = Equal
		}
	})
	return nil
}

// Latest is the latest verification, if there was one.
func (v *Verifications) Latest() (VerifyState, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.latest == nil {
		return VerifyState{}, false
	}
	st := *v.latest
	st.Sample = append([]replay.Difference{}, st.Sample...)
	return st, true
}

func (a *API) startVerify(w http.ResponseWriter, r *http.Request) {
	if a.Verifications == nil {
		httpapi.WriteProblem(w, r, &httpapi.RouteError{Status: http.StatusNotImplemented, Code: "no-operations", Err: errors.New("this instance runs no verifications")})
		return
	}
	var req RebuildRequest
	if err := decodeOptional(w, r, &req); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	if err := a.Verifications.Start(req.Projections); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/v1/admin/verifications")
	w.WriteHeader(http.StatusAccepted)
	st, _ := a.Verifications.Latest()
	_ = json.NewEncoder(w).Encode(st)
}

func (a *API) latestVerify(w http.ResponseWriter, r *http.Request) {
	var st VerifyState
	ok := false
	if a.Verifications != nil {
		st, ok = a.Verifications.Latest()
	}
	if !ok {
		httpapi.WriteProblem(w, r, errNotFound.Withf("no verification has run on this instance"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}
