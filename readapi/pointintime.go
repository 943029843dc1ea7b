package readapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/replay"
)

// History answers read-model questions as of a past moment.
type History interface {
	At(ctx context.Context, m replay.Moment) (replay.Then, error)
	// Covers says whether it holds every projection named.
	Covers(projections []string) bool
}

// Headers of a point-in-time answer: the last event it includes, and when
// that event was recorded.
const (
	AsOfPositionHeader = "ShareLedger-As-Of-Position"
	AsOfTimeHeader     = "ShareLedger-As-Of-Time"
)

// parseMoment reads asOf (an RFC 3339 time) or atPosition (a log
// position); past says whether either was given.
func parseMoment(r *http.Request) (m replay.Moment, past bool, err error) {
	q := r.URL.Query()
	asOf, atPos := q.Get("asOf"), q.Get("atPosition")
	if asOf != "" && atPos != "" {
		return m, false, &httpapi.BadRequest{Code: "invalid-moment", Err: errors.New("give asOf or atPosition, not both")}
	}
	if asOf != "" {
		if m.Time, err = time.Parse(time.RFC3339Nano, asOf); err != nil {
			return m, false, &httpapi.BadRequest{Code: "invalid-moment", Err: fmt.Errorf("asOf must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z: %v", err)}
		}
		return m, true, nil
	}
	if atPos != "" {
		if m.Position, err = eventstore.ParsePosition(atPos); err != nil || m.Position.IsZero() {
			return m, false, &httpapi.BadRequest{Code: "invalid-moment", Err: fmt.Errorf("atPosition must be a position a command or the audit trail returned: %q", atPos)}
		}
		return m, true, nil
	}
	return m, false, nil
}

// then checks that the caller may look back (in today's read models), then
// builds the read models as they stood at m, and names the moment they
// answer for in the response's headers.
func (a *API) then(ctx context.Context, w http.ResponseWriter, actor domain.Actor, m replay.Moment, needs []string, mayLookBack func(context.Context, projections.Reader, domain.Actor) (context.Context, error)) (projections.Store, context.Context, error) {
	if a.History == nil || !a.History.Covers(append([]string{directory.Name}, needs...)) {
		return nil, ctx, &httpapi.BadRequest{Code: "point-in-time-unsupported", Err: fmt.Errorf("this question has no point-in-time answer (it reads %v); the audit trail has the history of every entity", needs)}
	}
	if mayLookBack != nil {
		err := a.Store.View(ctx, func(tx projections.Reader) error {
			var err error
			ctx, err = mayLookBack(ctx, tx, actor)
			return err
		})
		if err != nil {
			return nil, ctx, err
		}
	}
	then, err := a.History.At(ctx, m)
	if err != nil {
		return nil, ctx, err
	}
	w.Header().Set(AsOfPositionHeader, then.Position.String())
	if !then.Time.IsZero() {
		w.Header().Set(AsOfTimeHeader, then.Time.UTC().Format(time.RFC3339Nano))
	}
	return then.Store, ctx, nil
}
