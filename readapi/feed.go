package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/audit"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/relay"
)

// FeedEvent is one event of a change feed: what the log recorded, with
// who did it, when, through which command and correlation, and the $id of
// its published schema (GET /v1/schemas/events).
type FeedEvent struct {
	Position      eventstore.Position `json:"position"`
	ID            string              `json:"id"`
	Type          string              `json:"type"`
	Version       int                 `json:"version"`
	Schema        string              `json:"schema"`
	Stream        string              `json:"stream"`
	Revision      uint64              `json:"revision"`
	Time          time.Time           `json:"time"`
	Actor         string              `json:"actor"`
	ActorAccount  string              `json:"actorAccount"`
	CommandID     string              `json:"commandId"`
	CorrelationID string              `json:"correlationId"`
	Data          json.RawMessage     `json:"data"`
}

// Feeds bounds the change feeds: how many streams an account may hold open
// at once (default 4), how often an idle stream looks for new events
// (default 200 ms) and sends a heartbeat (default 15 s).
type Feeds struct {
	PerAccount int
	Poll       time.Duration
	Heartbeat  time.Duration

	mu   sync.Mutex
	open map[string]int
}

func (f *Feeds) take(who string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := f.PerAccount
	if limit <= 0 {
		limit = 4
	}
	if f.open == nil {
		f.open = map[string]int{}
	}
	if f.open[who] >= limit {
		return false
	}
	f.open[who]++
	return true
}

func (f *Feeds) give(who string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open[who]--; f.open[who] <= 0 {
		delete(f.open, who)
	}
}

func (f *Feeds) poll() time.Duration {
	if f.Poll <= 0 {
		return 200 * time.Millisecond
	}
	return f.Poll
}

func (f *Feeds) heartbeat() time.Duration {
	if f.Heartbeat <= 0 {
		return 15 * time.Second
	}
	return f.Heartbeat
}

// feedPage is how many events a feed reads at once.
const feedPage = 200

// source reads the events of a feed after a position.
type source func(ctx context.Context, after eventstore.Position, limit int) ([]FeedEvent, error)

// FeedRoutes mounts an account's change feed.
func (a *API) FeedRoutes(r chi.Router) {
	r.Get("/v1/events", a.accountFeed)
}

// OperatorFeedRoutes mounts the feed of every account, for operators.
func (a *API) OperatorFeedRoutes(r chi.Router) {
	r.Get("/v1/admin/events", a.allFeed)
}

// accountFeed is the caller's account's events, from the audit index
// (which files each event under every account entitled to see it, so
// nothing of another account appears): all of them, or one entity's
// (entity=kind:id). Administrators only, as for the audit trail.
func (a *API) accountFeed(w http.ResponseWriter, r *http.Request) {
	actor, ok := httpapi.Caller(r.Context())
	if !ok {
		httpapi.WriteProblem(w, r, httpapi.ErrUnauthenticated)
		return
	}
	types, err := feedTypes(r)
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	kind, id := "account", string(actor.Account)
	if e := r.URL.Query().Get("entity"); e != "" {
		k, v, ok := strings.Cut(e, ":")
		if !ok || !slices.Contains(audit.Kinds, k) || v == "" || len(v) > MaxCursor {
			httpapi.WriteProblem(w, r, &httpapi.BadRequest{Code: "invalid-entity", Err: fmt.Errorf("entity must be kind:id, the kind one of %s", strings.Join(audit.Kinds, ", "))})
			return
		}
		kind, id = k, v
	}
	// A caller who names a position (their own command's) is a member by
	// then: wait before asking.
	if err := a.waitFor(r.Context(), r, []string{directory.Name, audit.Name}); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	err = a.Store.View(r.Context(), func(tx projections.Reader) error {
		caller, err := member(r.Context(), tx, actor)
		if err != nil {
			return err
		}
		if caller.Role != account.Administrator.String() {
			return domain.ErrNotAdministrator.Withf("only administrators of %s may follow its events", caller.Account)
		}
		if kind == "account" && id == string(actor.Account) {
			return nil
		}
		known, err := audit.Query{R: tx}.Knows(r.Context(), kind, id, actor.Account)
		if err == nil && !known {
			err = errNotFound.Withf("account %s has no history of %s %s", actor.Account, kind, domain.Quote(id))
		}
		return err
	})
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	read := func(ctx context.Context, after eventstore.Position, limit int) ([]FeedEvent, error) {
		var out []FeedEvent
		err := a.Store.View(ctx, func(tx projections.Reader) error {
			entries, err := audit.Query{R: tx}.Feed(ctx, kind, id, actor.Account, after, limit, func(e *audit.Entry) bool {
				return len(types) == 0 || slices.Contains(types, e.Type)
			})
			for _, e := range entries {
				out = append(out, FeedEvent{Position: e.Position, ID: e.EventID, Type: e.Type, Version: e.Version, Schema: relay.SchemaID(e.Type, e.Version),
					Stream: e.Stream, Revision: e.Revision, Time: e.Time, Actor: e.Actor, ActorAccount: e.ActorAccount,
					CommandID: e.CommandID, CorrelationID: e.CorrelationID, Data: e.Data})
			}
			return err
		})
		return out, err
	}
	a.feed(w, r, "account:"+string(actor.Account), []string{directory.Name, audit.Name}, read)
}

// allFeed is every event of the log, for operators: read from the event
// store itself.
func (a *API) allFeed(w http.ResponseWriter, r *http.Request) {
	types, err := feedTypes(r)
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	read := func(ctx context.Context, after eventstore.Position, limit int) ([]FeedEvent, error) {
		var out []FeedEvent
		for len(out) < limit {
			recs, err := a.Events.ReadAll(ctx, after, feedPage)
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				after = rec.Position
				if len(types) > 0 && !slices.Contains(types, rec.Type) {
					continue
				}
				out = append(out, FeedEvent{Position: rec.Position, ID: rec.ID, Type: rec.Type, Version: rec.Version, Schema: relay.SchemaID(rec.Type, rec.Version),
					Stream: rec.Stream, Revision: rec.Revision, Time: rec.Meta.Time, Actor: rec.Meta.User, ActorAccount: rec.Meta.Account,
					CommandID: rec.Meta.CommandID, CorrelationID: rec.Meta.CorrelationID, Data: rec.Data})
				if len(out) == limit {
					break
				}
			}
			if len(recs) < feedPage {
				break
			}
		}
		return out, nil
	}
	a.feed(w, r, "operator", nil, read)
}

// feedTypes is the type= filter: event types, comma-separated or repeated.
func feedTypes(r *http.Request) ([]string, error) {
	var out []string
	for _, v := range r.URL.Query()["type"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				if len(t) > 100 || len(out) >= 100 {
					return nil, &httpapi.BadRequest{Code: "invalid-type", Err: errors.New("name at most 100 event types of at most 100 bytes")}
				}
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// feed answers a page of JSON, or, to a client that accepts
// text/event-stream, streams server-sent events from the position after=
// (or Last-Event-ID, when it reconnects) until it leaves, with a heartbeat
// while there is nothing to send. Each connection reads at its own pace:
// a slow reader holds back nobody but itself.
func (a *API) feed(w http.ResponseWriter, r *http.Request, who string, needs []string, read source) {
	after := eventstore.Position{}
	raw := r.URL.Query().Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		raw = id
	}
	if raw != "" {
		p, err := eventstore.ParsePosition(raw)
		if err != nil {
			httpapi.WriteProblem(w, r, &httpapi.BadRequest{Code: "invalid-position", Err: err})
			return
		}
		after = p
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		a.feedPage(w, r, needs, after, read)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpapi.WriteProblem(w, r, &httpapi.RouteError{Status: http.StatusNotAcceptable, Code: "no-streaming", Err: errors.New("this connection cannot stream; read pages as JSON")})
		return
	}
	if !a.Feeds.take(who) {
		httpapi.WriteProblem(w, r, &httpapi.RouteError{Status: http.StatusTooManyRequests, Code: "too-many-feeds",
			Err: fmt.Errorf("at most %d change feeds at once per account; close one, or page as JSON", max(a.Feeds.PerAccount, 4))})
		return
	}
	defer a.Feeds.give(who)
	// A stream outlives the server's write timeout: each write pushes
	// the deadline on.
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	ctx := r.Context()
	quiet := time.Now()
	for ctx.Err() == nil {
		events, err := read(ctx, after, feedPage)
		if err != nil {
			if ctx.Err() == nil {
				_, _ = fmt.Fprintf(w, "event: error\ndata: %s\n\n", strconv.Quote(err.Error()))
				flusher.Flush()
			}
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		for _, e := range events {
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.Position, e.Type, b); err != nil {
				return
			}
			after = e.Position
		}
		if len(events) > 0 {
			flusher.Flush()
			quiet = time.Now()
			if len(events) == feedPage {
				continue
			}
		} else if time.Since(quiet) >= a.Feeds.heartbeat() {
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			flusher.Flush()
			quiet = time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(a.Feeds.poll()):
		}
	}
}

// feedPage answers one page of JSON: the events after after, waiting for
// position= like the other reads; next is the position to ask after.
func (a *API) feedPage(w http.ResponseWriter, r *http.Request, needs []string, after eventstore.Position, read source) {
	ctx := r.Context()
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			httpapi.WriteProblem(w, r, &httpapi.BadRequest{Code: "invalid-limit", Err: errors.New("limit must be a whole number from 1 to 500")})
			return
		}
		limit = n
	}
	if err := a.waitFor(ctx, r, needs); err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	events, err := read(ctx, after, limit)
	if err != nil {
		httpapi.WriteProblem(w, r, err)
		return
	}
	out := Page[FeedEvent]{Items: events}
	if out.Items == nil {
		out.Items = []FeedEvent{}
	}
	if len(events) == limit {
		out.Next = events[len(events)-1].Position.String()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
