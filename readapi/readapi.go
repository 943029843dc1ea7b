// Package readapi answers questions from the read models that projections
// wrote, one file per surface mounting its own routes: device sharing (My
// Devices, Partners, the outbox), rights, cloud project teams, the audit
// trail, point-in-time answers and operations. Each reads its projection
// through the query type that projection exports (devices.Query,
// rights.Query, ...), so tables and keys stay the projection's own, and
// leaves every rule to the domain packages. Every answer is limited to what
// the caller's account may see, and a request may pass the position a
// command returned to read its own writes.
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
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shareledger/shareledger/commands/httpapi"
	"github.com/shareledger/shareledger/domain"
	"github.com/shareledger/shareledger/domain/account"
	"github.com/shareledger/shareledger/eventstore"
	"github.com/shareledger/shareledger/projections"
	"github.com/shareledger/shareledger/projections/directory"
	"github.com/shareledger/shareledger/projections/partners"
	teammodel "github.com/shareledger/shareledger/projections/team"
	"github.com/shareledger/shareledger/replay"
)

// Progress is what the read API needs to know of the projections' progress.
type Progress interface {
	Wait(ctx context.Context, pos eventstore.Position, names ...string) error
}

// Status is what the read API needs to report on the projections.
type Status interface {
	Names() []string
	Handled(name string) int64
	// RunningHere says whether this instance runs the projections now.
	RunningHere() bool
}

// API serves the read models.
type API struct {
	Store    projections.Store
	Events   eventstore.Store
	Progress Progress
	Status   Status
	// WaitTimeout bounds how long a read waits for its position.
	WaitTimeout time.Duration
	// History answers as of a past moment (nil: only the present).
	History History
	// Operations runs rebuilds for operators (nil: none).
	Operations Operations
	// Feeds bounds the change feeds.
	Feeds Feeds
	// Verifications checks read models against a rebuild (nil: none).
	Verifications *Verifications
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the next page; empty on the last one.
	Next string `json:"next,omitempty"`
}

// Partner is a row of the Partners page as the caller sees it.
type Partner struct {
	partners.Partner
	// CanApprove says whether the caller may approve or decline.
	CanApprove bool `json:"canApprove"`
}

// Account is the caller's account with its users and projects.
type Account struct {
	directory.Account
	Users    []directory.User    `json:"users"`
	Projects []directory.Project `json:"projects"`
}

// ProjectionStatus is how far one projection has come.
type ProjectionStatus struct {
	Name       string              `json:"name"`
	Checkpoint eventstore.Position `json:"checkpoint"`
	Head       eventstore.Position `json:"head"`
	// HandledSinceStart counts events this instance applied since it started.
	HandledSinceStart int64 `json:"handledSinceStart"`
	// RunningHere is true on the one instance that runs the projections.
	RunningHere bool `json:"runningHere"`
	// LagEvents is how many positions the projection is behind the log
	// (events, with the embedded and PostgreSQL stores).
	LagEvents uint64 `json:"lagEvents"`
	// LagSeconds is how old the first event it has not applied is.
	LagSeconds float64 `json:"lagSeconds"`
	// State is "live" (caught up), "catching-up", "rebuilding", or
	// "poisoned" when it quarantined events (LastPoisoned says which).
	State        string                `json:"state"`
	LastPoisoned *projections.Poisoned `json:"lastPoisoned,omitempty"`
	Poisoned     int                   `json:"poisoned"`
	// Rebuild is the projection's latest blue/green rebuild; while it
	// runs, State is "rebuilding" (the live model keeps answering).
	Rebuild *replay.RebuildState `json:"rebuild,omitempty"`
}

var errNotFound = &domain.Error{Kind: domain.NotFound, Code: "not-found", Message: "no such item is visible to this account"}

// Routes mounts the read endpoints.
func (a *API) Routes(r chi.Router) {
	a.sharingRoutes(r)
	r.Get("/v1/account", a.serve(nil, a.account))
	r.Get("/v1/account/users", a.serve(nil, a.accountUsers))
	r.Get("/v1/me", a.servePerson([]string{teammodel.Name}, a.me))
	r.Get("/v1/account/projects", a.serve(nil, a.accountProjects))
	r.Get("/v1/projections", a.serve(a.Status.Names(), a.projections))
}

type query func(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error)

// personQuery answers a person, whatever account their token names: cloud
// project teams are made of people, and the query checks their membership.
type personQuery func(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error)

// servePerson is serve for person queries.
func (a *API) servePerson(needs []string, q personQuery) http.HandlerFunc {
	return a.serveWith(needs, func(ctx context.Context, r *http.Request, tx projections.Reader, actor domain.Actor) (any, error) {
		return q(ctx, r, tx, actor.User)
	}, nil)
}

// serve waits until the directory (which says who belongs to which account)
// and the projections a query needs have reached the requested position, checks that the caller belongs to
// their account, and runs q on one snapshot. Asked about the past, it
// checks today's directory that the caller administers their account, and
// answers from the read models as they stood then.
func (a *API) serve(needs []string, q query) http.HandlerFunc {
	return a.serveWith(needs, func(ctx context.Context, r *http.Request, tx projections.Reader, actor domain.Actor) (any, error) {
		caller, ok := ctx.Value(callerKey{}).(directory.User)
		if !ok {
			var err error
			if caller, err = member(ctx, tx, actor); err != nil {
				return nil, err
			}
		}
		return q(ctx, r, tx, caller)
	}, a.auditor)
}

func member(ctx context.Context, tx projections.Reader, actor domain.Actor) (directory.User, error) {
	caller, found, err := directory.Query{R: tx}.User(ctx, actor.Account, actor.User)
	if err != nil {
		return caller, err
	}
	if !found {
		return caller, account.ErrNotMember.Withf("%s is not a user of account %s", actor.User, actor.Account)
	}
	return caller, nil
}

type callerKey struct{}

// auditor lets an account's administrators (today) ask about its past.
func (a *API) auditor(ctx context.Context, tx projections.Reader, actor domain.Actor) (context.Context, error) {
	caller, err := member(ctx, tx, actor)
	if err != nil {
		return ctx, err
	}
	if caller.Role != account.Administrator.String() {
		return ctx, domain.ErrNotAdministrator.Withf("only administrators of %s may ask about its past", caller.Account)
	}
	return context.WithValue(ctx, callerKey{}, caller), nil
}

// serveWith answers q from the present read models, or from the past ones
// when the request names a moment (asOf or atPosition); then mayLookBack
// (nil: anyone who may ask q) is first asked of today's read models.
func (a *API) serveWith(needs []string, q func(context.Context, *http.Request, projections.Reader, domain.Actor) (any, error), mayLookBack func(context.Context, projections.Reader, domain.Actor) (context.Context, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		actor, ok := httpapi.Caller(ctx)
		if !ok {
			httpapi.WriteProblem(w, r, httpapi.ErrUnauthenticated)
			return
		}
		moment, past, err := parseMoment(r)
		if err != nil {
			httpapi.WriteProblem(w, r, err)
			return
		}
		if err := a.waitFor(ctx, r, append([]string{directory.Name}, needs...)); err != nil {
			httpapi.WriteProblem(w, r, err)
			return
		}
		store := a.Store
		if past {
			if store, ctx, err = a.then(ctx, w, actor, moment, needs, mayLookBack); err != nil {
				httpapi.WriteProblem(w, r, err)
				return
			}
		}
		var out any
		err = store.View(ctx, func(tx projections.Reader) error {
			var err error
			out, err = q(ctx, r, tx, actor)
			return err
		})
		if err != nil {
			httpapi.WriteProblem(w, r, err)
			return
		}
		if self, ok := out.(selfWriting); ok {
			self.write(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
}

// waitFor waits until the named projections reached the request's
// position= (a command's result), if it names one.
func (a *API) waitFor(ctx context.Context, r *http.Request, needs []string) error {
	raw := r.URL.Query().Get("position")
	if raw == "" {
		return nil
	}
	pos, err := eventstore.ParsePosition(raw)
	if err != nil {
		return &httpapi.BadRequest{Code: "invalid-position", Err: err}
	}
	wctx, cancel := context.WithTimeout(ctx, a.waitTimeout())
	defer cancel()
	err = a.Progress.Wait(wctx, pos, needs...)
	if errors.Is(err, projections.ErrLagging) {
		err = &httpapi.Unavailable{Code: "read-model-lagging", Err: fmt.Errorf("%w; retry shortly", err)}
	}
	return err
}

// selfWriting is an answer in another format than JSON (an export). It is
// written after the request's transaction ends, so it may read on in
// transactions of its own.
type selfWriting interface {
	write(w http.ResponseWriter, r *http.Request)
}

func (a *API) waitTimeout() time.Duration {
	if a.WaitTimeout <= 0 {
		return 5 * time.Second
	}
	return a.WaitTimeout
}

// MaxCursor bounds the cursor of a list.
const MaxCursor = 2048

func pageOf(r *http.Request, prefix string) (projections.Page, error) {
	p := projections.Page{Prefix: prefix, Limit: 50}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return p, &httpapi.BadRequest{Code: "invalid-limit", Err: errors.New("limit must be a whole number from 1 to 500")}
		}
		p.Limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		// A cursor is the key of the last item of a page, after the
		// list's prefix: keys are bounded (projections.Key), so a longer
		// one was never handed out.
		if len(c) > MaxCursor {
			return p, &httpapi.BadRequest{Code: "invalid-cursor", Err: fmt.Errorf("cursor must be at most %d bytes, as the previous page's next gave it", MaxCursor)}
		}
		p.After = prefix + c
	}
	return p, nil
}

func (a *API) account(ctx context.Context, _ *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	q := directory.Query{R: tx}
	var acc Account
	var err error
	if acc.Account, _, err = q.Account(ctx, caller.Account); err != nil {
		return nil, err
	}
	// The first ones of each, bounded; the paged lists have them all.
	first := projections.Page{Limit: MaxEmbedded}
	if acc.Users, _, err = q.Users(ctx, caller.Account, first); err != nil {
		return nil, err
	}
	if acc.Projects, _, err = q.Projects(ctx, caller.Account, first); err != nil {
		return nil, err
	}
	return acc, nil
}

// Me is the caller as a person: their identity's name (if they made one)
// and a page of the accounts they act for.
type Me struct {
	User     domain.UserID              `json:"user"`
	Name     string                     `json:"name,omitempty"`
	Accounts Page[directory.Membership] `json:"accounts"`
}

func (a *API) me(ctx context.Context, r *http.Request, tx projections.Reader, person domain.UserID) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	out := Me{User: person}
	if out.Name, _, err = (teammodel.Query{R: tx}).Identity(ctx, person); err != nil {
		return nil, err
	}
	out.Accounts.Items, out.Accounts.Next, err = directory.Query{R: tx}.AccountsOf(ctx, person, page)
	return out, err
}

// MaxEmbedded bounds the users and projects that GET /v1/account holds;
// /v1/account/users and /v1/account/projects page through all of them.
const MaxEmbedded = 500

func (a *API) accountUsers(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	items, next, err := directory.Query{R: tx}.Users(ctx, caller.Account, page)
	return Page[directory.User]{Items: items, Next: next}, err
}

func (a *API) accountProjects(ctx context.Context, r *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	page, err := pageOf(r, "")
	if err != nil {
		return nil, err
	}
	items, next, err := directory.Query{R: tx}.Projects(ctx, caller.Account, page)
	return Page[directory.Project]{Items: items, Next: next}, err
}

// projections answers each projection's status. Every tenant sees the
// checkpoints and how many events were quarantined; the details of a
// quarantined event only for events its own account did (operators read
// the service log, which names every quarantined event).
func (a *API) projections(ctx context.Context, _ *http.Request, tx projections.Reader, caller directory.User) (any, error) {
	head, err := a.Events.Head(ctx)
	if err != nil {
		return nil, err
	}
	rebuilds, err := replay.Rebuilds(ctx, tx)
	if err != nil {
		return nil, err
	}
	out := []ProjectionStatus{}
	for _, name := range a.Status.Names() {
		st := ProjectionStatus{Name: name, Head: head, HandledSinceStart: a.Status.Handled(name), RunningHere: a.Status.RunningHere()}
		if st.Checkpoint, err = tx.Checkpoint(ctx, name); err != nil {
			return nil, err
		}
		err := tx.Scan(ctx, projections.PoisonTable, projections.Page{Prefix: name + "/"}, func(_ string, doc []byte) error {
			st.Poisoned++
			var p projections.Poisoned
			if err := json.Unmarshal(doc, &p); err != nil {
				return err
			}
			if p.Account == string(caller.Account) {
				st.LastPoisoned = &p
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		st.State = "live"
		if st.Checkpoint.Less(head) {
			st.State = "catching-up"
			if st.Checkpoint.Commit < head.Commit {
				st.LagEvents = head.Commit - st.Checkpoint.Commit
			}
			if next, err := a.Events.ReadAll(ctx, st.Checkpoint, 1); err == nil && len(next) == 1 && !next[0].Meta.Time.IsZero() {
				st.LagSeconds = time.Since(next[0].Meta.Time).Seconds()
			}
		}
		for i := range rebuilds {
			if rebuilds[i].Projection == name {
				st.Rebuild = &rebuilds[i]
				if rebuilds[i].Running() {
					st.State = "rebuilding"
				}
			}
		}
		if st.Poisoned > 0 {
			st.State = "poisoned"
			if st.LastPoisoned != nil {
				st.LastPoisoned.Reason = truncate(st.LastPoisoned.Reason, 500)
			}
		}
		out = append(out, st)
	}
	// One entry per projection: a list that never needs a second page.
	return Page[ProjectionStatus]{Items: out}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// filter reads a query parameter that must be one of allowed, or absent:
// an unknown value is a mistake to report (400), not a filter that matches
// nothing.
func filter(r *http.Request, name string, allowed ...string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" || slices.Contains(allowed, v) {
		return v, nil
	}
	return "", &httpapi.BadRequest{Code: "invalid-" + name, Err: fmt.Errorf("%s must be one of %s", name, strings.Join(allowed, ", "))}
}
